#pragma once

// Writes small synthetic DICOM files with DCMTK for edge-case tests (tilt, multi-frame,
// MONOCHROME1, bad headers, ...). Test-only code: it may include DCMTK.

#include "core/domain/Geometry.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

/// Skips the test when Debian's pydicom test files (python3-pydicom) are not installed. The
/// README's test command installs them, so CI never skips (issue 3: tests that need data skip
/// with a clear message when it is missing).
#define REQUIRE_PYDICOM()                                                                          \
    if (!std::filesystem::is_directory(RADIOLENS_PYDICOM_FILES)) {                                 \
        GTEST_SKIP() << "pydicom test files not found at " << RADIOLENS_PYDICOM_FILES              \
                     << " (apt-get install python3-pydicom; issue 3)";                             \
    }

namespace radiolens::test {

/// One image file to write. Defaults: an 8 x 8 signed 16-bit axial CT slice.
struct SyntheticImage {
    int rows = 8;
    int columns = 8;
    int frames = 1;
    int bitsAllocated = 16;
    int bitsStored = 16;
    int highBit = 15;
    int pixelRepresentation = 1;
    int samplesPerPixel = 1;
    int planarConfiguration = 0;
    std::string photometric = "MONOCHROME2";
    std::string modality = "CT";
    std::string sopClassUid = UID_CTImageStorage;
    std::string patientId = "SYN-1";
    std::string patientName = "Synthetic^Patient";
    std::string studyUid;       ///< generated when empty
    std::string seriesUid;      ///< generated when empty
    std::string sopInstanceUid; ///< generated when empty
    std::string seriesDescription = "synthetic";
    int seriesNumber = 1;
    int instanceNumber = 1;
    std::optional<Vec3> position = Vec3{0, 0, 0};
    std::optional<std::array<double, 6>> orientation = std::array<double, 6>{1, 0, 0, 0, 1, 0};
    std::optional<std::array<double, 2>> pixelSpacing = std::array<double, 2>{0.5, 0.5};
    std::optional<double> sliceThickness;
    std::optional<std::string> slope;           ///< RescaleSlope as text (DS)
    std::optional<std::string> intercept;       ///< RescaleIntercept as text (DS)
    std::vector<std::array<double, 2>> windows; ///< centre, width
    std::vector<std::uint8_t> pixels;           ///< stored bytes of all frames, little endian
    bool omitPixelData = false;
    E_TransferSyntax transferSyntax = EXS_LittleEndianExplicit;
    /// Last changes to the data set before it is written.
    std::function<void(DcmDataset&)> customize;
};

/// Writes `image` to `path` (creating the parent folder). Aborts the test on failure.
void writeSynthetic(const SyntheticImage& image, const std::string& path);

/// A fresh empty folder under the test temp dir, removed when the test program ends.
std::string makeTempFolder(const std::string& prefix);

/// A new DICOM UID.
std::string newUid();

/// Little-endian bytes of `values`.
template <typename T>
std::vector<std::uint8_t> bytesOf(const std::vector<T>& values) {
    std::vector<std::uint8_t> out(values.size() * sizeof(T));
    std::memcpy(out.data(), values.data(), out.size());
    return out;
}

/// Writes `count` slices of an axial series with slice k at z = z0 + k * dz, pixel (i, j) of
/// slice k stored as value(i, j, k); returns the file paths in slice order. Files are named so
/// that name order is NOT slice order, and instance numbers run backwards.
std::vector<std::string> writeSeries(const std::string& folder, int count, double z0, double dz,
                                     const std::function<std::int16_t(int, int, int)>& value,
                                     SyntheticImage base = {});

} // namespace radiolens::test
