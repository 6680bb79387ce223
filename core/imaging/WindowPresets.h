#pragma once

#include "core/imaging/Volume.h"

#include <string>
#include <vector>

namespace radiolens {

/// A named window a reader can pick, on a number key.
struct NamedWindow {
    std::string name;
    double center = 0.0;
    double width = 1.0;
};

/// The CT presets, in HU, in the order of the number keys 1-8: brain 40/80, subdural 75/215,
/// stroke 40/40, lung -600/1500, mediastinum 50/350, abdomen 40/400, liver 60/160,
/// bone 400/1800 (centre/width).
const std::vector<NamedWindow>& ctWindowPresets();

/// The presets offered for `volume`: the CT table for CT in HU; otherwise the windows stored in
/// the file followed by "Automatic" (1st to 99th percentile of slice `k`).
std::vector<NamedWindow> windowPresetsFor(const Volume& volume, std::size_t k);

} // namespace radiolens
