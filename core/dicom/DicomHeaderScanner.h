#pragma once

#include "core/dicom/DicomDataSet.h"

#include <cstdint>
#include <string>

namespace radiolens {

/// What a header read found out about a file: its attributes and where its pixels are.
struct DicomFileHeader {
    DicomDataSet dataSet;       ///< file meta (group 0002) and data set, up to the pixels
    std::string transferSyntax; ///< UID; implicit little endian when the file has no meta
    std::uint64_t fileSize = 0;
    bool hasPixelData = false;
    DicomTag pixelDataTag = 0;         ///< PixelData, FloatPixelData or DoubleFloatPixelData
    bool encapsulated = false;         ///< compressed fragments (undefined length)
    std::uint64_t pixelDataOffset = 0; ///< file offset of the first value byte (0: unknown)
    std::uint64_t pixelDataLength = 0; ///< bytes of native pixel data
    /// Pixels can be read straight from the file at pixelDataOffset: native little endian,
    /// not deflated.
    bool directPixelAccess = false;
    /// The header was read by DCMTK (big endian, deflated, or unusual encodings).
    bool readByDcmtk = false;
};

/// Outcome of reading one file's header.
struct DicomScanResult {
    enum class Status { Ok, NotDicom, Broken };
    Status status = Status::Broken;
    std::string reason; ///< for NotDicom/Broken: what is wrong, for a user
    DicomFileHeader header;

    bool ok() const { return status == Status::Ok; }
};

/// Reads DICOM headers fast: Part 10 files (and bare data sets) in explicit or implicit VR
/// little endian are parsed by a small bounded reader that copies only values it may need and
/// stops at the pixel data; anything else (big endian, deflate, unknown VRs) goes to DCMTK.
///
/// Never throws; every failure is a status and a reason naming the element and offset.
/// Thread-safe: scan() has no shared state.
class DicomHeaderScanner {
public:
    static DicomScanResult scan(const std::string& path);
};

} // namespace radiolens
