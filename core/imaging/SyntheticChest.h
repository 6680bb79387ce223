#pragma once

#include <cstdint>
#include <vector>

namespace radiolens {

/// Physical size of a synthetic chest radiograph: a square detector of this width, mm.
constexpr double kSyntheticChestFieldMm = 358.4;

/// One synthetic posteroanterior chest radiograph, as a detector would store it: 12-bit values,
/// brighter where the beam was attenuated more (bone, heart, a nodule), MONOCHROME2.
///
/// Drawn from projected thicknesses of simple shapes: body outline, two lungs with domed
/// diaphragms, heart, mediastinum and spine, posterior ribs, clavicles, and detector noise.
/// Every case varies (patient size, lung and heart shape, rotation, exposure). A nodule-like
/// opacity is a projected sphere of 9-15 mm radius placed wholly inside a lung field.
struct SyntheticChest {
    int size = 0;                      ///< pixels along each side
    double pixelSpacingMm = 0.0;       ///< kSyntheticChestFieldMm / size
    std::vector<std::uint16_t> stored; ///< size x size, row-major, 0..4095
    bool hasNodule = false;
    double noduleColumn = 0.0; ///< centre, pixels (0.5 is the centre of the first column)
    double noduleRow = 0.0;
    double noduleRadius = 0.0; ///< pixels

    /// True when pixel (column, row) lies inside the nodule.
    bool insideNodule(int column, int row) const;
};

/// First seed of the radiographs written into the demo study; training data never uses these.
constexpr std::uint64_t kDemoStudyChestSeed = 1000000;

/// Window that shows every case well: stored values 0..4095 map onto the display range.
constexpr double kSyntheticChestWindowCenter = 2048.0;
constexpr double kSyntheticChestWindowWidth = 4096.0;

/// Case `seed` at `size` x `size` pixels (the same seed gives the same patient at any size;
/// each pixel averages 2 x 2 samples). Deterministic.
SyntheticChest syntheticChest(int size, std::uint64_t seed, bool withNodule);

/// `chest` through the window above, as 8-bit grey (what a reader sees, and what a model that
/// normalises 8-bit pixels takes as input).
std::vector<std::uint8_t> chestDisplayPixels(const SyntheticChest& chest);

} // namespace radiolens
