#pragma once

#include "core/dicom/DicomHeaderScanner.h"
#include "core/domain/Geometry.h"
#include "core/imaging/Volume.h"

#include <optional>
#include <string>
#include <vector>

namespace radiolens {

/// Who and what a file is: the attributes the study tree needs. Text is UTF-8.
struct DicomIdentity {
    std::string patientId, patientName, patientBirthDate, patientSex;
    std::string studyInstanceUid, studyDate, studyTime, studyDescription, accessionNumber, studyId;
    std::string seriesInstanceUid, seriesDate, seriesTime, seriesDescription, modality, bodyPart;
    int seriesNumber = 0;
    std::string sopClassUid, sopInstanceUid;
    int instanceNumber = 0;
    int frames = 1;
    int rows = 0;
    int columns = 0;
    bool hasPixelData = false;
};

/// Reads the identity attributes. Throws DicomValueError for a malformed value it needs
/// (e.g. NumberOfFrames "1A").
DicomIdentity readIdentity(const DicomDataSet& dataSet);

/// Image Pixel module of a file (PS3.3 C.7.6.3).
struct PixelModule {
    int rows = 0;
    int columns = 0;
    int samplesPerPixel = 1;
    int bitsAllocated = 16;
    int bitsStored = 16;
    int highBit = 15;
    int pixelRepresentation = 0; ///< 0 unsigned, 1 two's complement
    int planarConfiguration = 0; ///< 0 colour-by-pixel, 1 colour-by-plane
    int frames = 1;
    std::string photometric; ///< PhotometricInterpretation as written

    /// Bytes of one decoded frame: rows x columns x samples x bytes per sample (1-bit data
    /// rounded up to whole bytes).
    std::size_t frameBytes() const;
    /// Bytes one frame takes in native (uncompressed) pixel data: as frameBytes(), except
    /// YBR_FULL_422, which stores two luminance and two chroma samples per pixel pair.
    std::size_t nativeFrameBytes() const;
};

/// Where one frame lies and how its stored values become output values.
struct FrameInfo {
    std::optional<Vec3> position;        ///< ImagePositionPatient (mm)
    std::optional<Vec3> rowDirection;    ///< first row of ImageOrientationPatient
    std::optional<Vec3> columnDirection; ///< second row
    double slope = 1.0;
    double intercept = 0.0;
    std::optional<double> rowSpacing;    ///< mm between rows (PixelSpacing[0])
    std::optional<double> columnSpacing; ///< mm between columns (PixelSpacing[1])
    std::vector<WindowPreset> windows;
    int stackPosition = 0; ///< InStackPositionNumber or 0
    int temporalPosition = 0;
};

/// Everything needed to decode a file's frames and place them in space.
struct DicomImage {
    std::string path;
    DicomIdentity identity;
    PixelModule pixels;
    std::vector<FrameInfo> frames;  ///< one per frame
    std::string pixelSpacingSource; ///< see Volume::pixelSpacingSource
    std::optional<double> sliceThickness;
    std::optional<double> spacingBetweenSlices;
    std::optional<double> gantryTilt;
    std::string rescaleType;
    bool enhanced = false; ///< frames described by functional groups
    std::string transferSyntax;
    bool encapsulated = false;
    bool directPixelAccess = false;
    std::uint64_t pixelDataOffset = 0;
    std::uint64_t pixelDataLength = 0;
    DicomTag pixelDataTag = 0;
    std::uint64_t fileSize = 0;
    bool readByDcmtk = false;
    std::vector<std::string> warnings; ///< oddities that did not stop reading
};

/// Interprets a header as an image. Throws DicomValueError with a reason a user can act on:
/// no pixel data, malformed or inconsistent pixel module, absurd image size, pixel data
/// shorter than the image, unsupported photometric interpretation.
DicomImage readImage(const DicomFileHeader& header, const std::string& path);

/// Converts a text value in the file's SpecificCharacterSet to UTF-8 (Latin-1 and UTF-8 are
/// handled exactly; other repertoires keep ASCII and replace the rest).
std::string toUtf8(const std::string& text, const std::string& specificCharacterSet);

/// Largest image Radiolens accepts from a header before allocating: 2^31 samples.
constexpr std::uint64_t kMaxSamplesPerImage = std::uint64_t(1) << 31;

} // namespace radiolens
