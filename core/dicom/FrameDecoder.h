#pragma once

#include "core/dicom/DicomInstance.h"

#include <cstddef>
#include <memory>
#include <string>

namespace radiolens {

/// How the bytes a FrameDecoder wrote are laid out.
struct DecodedFrameLayout {
    bool colourByPlane = false; ///< RRR..GGG..BBB instead of RGBRGB..
    std::string colourModel;    ///< photometric interpretation of the decoded samples
};

/// Decodes single frames of DICOM files into caller memory, the stored values unchanged:
/// native little endian is read straight from the file; JPEG, JPEG-LS, RLE, big endian and
/// deflated data go through DCMTK; JPEG 2000 through GDCM (free DCMTK has no JPEG 2000 codec).
///
/// One decoder per thread: it keeps the last file open for the next frame of the same file.
class FrameDecoder {
public:
    FrameDecoder();
    ~FrameDecoder();
    FrameDecoder(const FrameDecoder&) = delete;
    FrameDecoder& operator=(const FrameDecoder&) = delete;

    /// Bytes decode() writes for one frame of `image`: the native frame size, except 1-bit
    /// images, which are unpacked to one byte per pixel.
    static std::size_t decodedFrameBytes(const DicomImage& image);

    /// Writes frame `frame` (0-based) of `image` to `out`, which must hold
    /// decodedFrameBytes(image) + 1 bytes (codecs write in even sizes).
    /// Throws DicomValueError naming the file and the reason (unsupported transfer syntax,
    /// corrupt compressed data, file changed since its header was read).
    DecodedFrameLayout decode(const DicomImage& image, int frame, void* out);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

/// True when Radiolens can decode pixel data in this transfer syntax.
bool isSupportedTransferSyntax(const std::string& uid);

} // namespace radiolens
