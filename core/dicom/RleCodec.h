#pragma once

#include "core/dicom/DicomInstance.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace radiolens {

/// Where one fragment of encapsulated pixel data lies in its file.
struct Fragment {
    std::uint64_t offset = 0; ///< first byte of the fragment's data
    std::uint32_t length = 0;
};

/// The fragments of encapsulated pixel data starting at `pixelDataOffset` (the first item, the
/// basic offset table, is left out), read from the item headers only. Throws DicomValueError
/// when the items run past the end of the file or are malformed.
std::vector<Fragment> listFragments(int fd, std::uint64_t pixelDataOffset, std::uint64_t fileSize,
                                    const std::string& path);

/// Decodes one DICOM RLE frame (PS3.5 Annex G: a 64-byte header of segment offsets, one PackBits
/// segment per byte plane, most significant byte first) into `out`, colour-by-pixel,
/// little-endian samples: pixels.frameBytes() bytes. Every read and write is bounds-checked;
/// a damaged fragment throws DicomValueError naming the segment.
void decodeRleFrame(const std::uint8_t* fragment, std::size_t length, const PixelModule& pixels,
                    std::uint8_t* out, const std::string& what);

} // namespace radiolens
