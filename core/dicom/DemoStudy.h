#pragma once

#include "core/domain/Progress.h"

#include <string>
#include <vector>

namespace radiolens {

/// What the built-in demo study holds, once written.
struct DemoStudy {
    std::string folder; ///< where its files are
    std::string studyInstanceUid;
    std::string ctSeriesInstanceUid;
    std::string radiographSeriesInstanceUid;
    std::vector<std::string> ctFiles; ///< one file per slice, in slice order
    std::string radiographFile;
    /// Synthetic chest radiographs (DX), one patient and study each; the cases with a nodule
    /// say where it is (pixels of the file).
    struct Chest {
        std::string file;
        std::string studyInstanceUid;
        std::string seriesInstanceUid;
        bool nodule = false;
        double noduleColumn = 0.0;
        double noduleRow = 0.0;
        double noduleRadius = 0.0;
    };
    std::vector<Chest> chests;
};

/// Size of the demo CT: at least 256 x 256 x 128 (the foundation issue asks for that).
struct DemoStudyOptions {
    int columns = 256;
    int rows = 256;
    int slices = 160;
    int chests = 8;      ///< synthetic chest radiographs; every other one has a nodule
    int chestSize = 512; ///< pixels along each side (0.7 mm at 512)
};

/// Writes the demo study into `folder` with DCMTK: a 3D Shepp-Logan head phantom CT in
/// realistic HU (air -1000, skull about +1000 HU, brain 20-45 HU, CSF about 5 HU, lesions)
/// with correct DICOM geometry and UIDs, one projection radiograph (DX) computed through
/// the same phantom, and synthetic chest radiographs (SyntheticChest) of other patients, half
/// of them with a nodule-like opacity, for the demo's classifier. Files are written to a temporary
/// folder and renamed into place, so a crash never leaves a half-written demo. Throws
/// std::runtime_error naming the file on failure.
DemoStudy writeDemoStudy(const std::string& folder, const DemoStudyOptions& options = {},
                         ProgressSink* progress = nullptr);

/// Returns the demo study in `folder`, writing it first only if it is not already there and
/// complete (a manifest written last marks completion).
DemoStudy ensureDemoStudy(const std::string& folder, ProgressSink* progress = nullptr);

} // namespace radiolens
