#include "core/imaging/WindowPresets.h"

#include "core/imaging/SliceRenderer.h"

namespace radiolens {

const std::vector<NamedWindow>& ctWindowPresets() {
    static const std::vector<NamedWindow> presets = {
        {"Brain", 40, 80},        {"Subdural", 75, 215}, {"Stroke", 40, 40}, {"Lung", -600, 1500},
        {"Mediastinum", 50, 350}, {"Abdomen", 40, 400},  {"Liver", 60, 160}, {"Bone", 400, 1800},
    };
    return presets;
}

std::vector<NamedWindow> windowPresetsFor(const Volume& volume, std::size_t k) {
    if (volume.modality == "CT" && volume.units == "HU") {
        return ctWindowPresets();
    }
    std::vector<NamedWindow> out;
    int n = 1;
    for (const WindowPreset& w : volume.windows) {
        out.push_back({w.name.empty() ? "File " + std::to_string(n) : w.name, w.center, w.width});
        ++n;
    }
    Volume probe = volume; // cheap: shares the pixel buffer
    probe.windows.clear();
    const DisplayWindow automatic = defaultWindow(probe, k);
    out.push_back({"Automatic", automatic.center, automatic.width});
    return out;
}

} // namespace radiolens
