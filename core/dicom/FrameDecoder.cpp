#include "core/dicom/FrameDecoder.h"

#include "core/dicom/DcmtkBridge.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcfcache.h"

#include "core/dicom/Jpeg2000Process.h"
#include "core/dicom/RleCodec.h"
#include "core/domain/Paths.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <future>
#include <cstring>
#include <utility>
#include <mutex>
#include <vector>

namespace radiolens {

namespace {

bool isJpeg2000(const std::string& uid) {
    return uid == syntax::Jpeg2000Lossless || uid == syntax::Jpeg2000;
}

void readExactly(int fd, void* out, std::size_t bytes, std::uint64_t offset,
                 const std::string& path) {
    auto* p = static_cast<char*>(out);
    std::size_t done = 0;
    while (done < bytes) {
        const ssize_t got = pread(fd, p + done, bytes - done, off_t(offset + done));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            throw DicomValueError(path + ": pixel data could not be read (" +
                                  (got == 0 ? std::string("file shorter than its header says")
                                            : std::string(std::strerror(errno))) +
                                  ")");
        }
        done += std::size_t(got);
    }
}

/// Unpacks frame `frame` of packed 1-bit data (bits run on across frames, least significant
/// bit first) to one byte per pixel.
void unpackBits(const unsigned char* packed, std::size_t pixelsPerFrame, int frame,
                unsigned char* out) {
    const std::size_t firstBit = pixelsPerFrame * std::size_t(frame);
    for (std::size_t i = 0; i < pixelsPerFrame; ++i) {
        const std::size_t bit = firstBit + i;
        out[i] = (packed[bit >> 3] >> (bit & 7)) & 1;
    }
}

/// Every frame of one JPEG 2000 file, decoded (by a worker process: Jpeg2000Process.h).
using Jpeg2000File = Jpeg2000Pixels;

std::shared_ptr<const Jpeg2000File> decodeJpeg2000(const std::string& path) {
    return std::make_shared<const Jpeg2000File>(decodeJpeg2000InWorker(path));
}

/// Decodes a multi-frame JPEG 2000 file once for all threads: the first thread to ask decodes,
/// the others wait for its result. Keeps the two most recent files.
std::shared_ptr<const Jpeg2000File> sharedJpeg2000(const std::string& path) {
    // Keyed by path, size and modification time: a file rewritten in place is decoded again.
    std::error_code error;
    const auto size = std::filesystem::file_size(path, error);
    const auto time = std::filesystem::last_write_time(path, error).time_since_epoch().count();
    const std::string key = path + '\x1f' + std::to_string(size) + '\x1f' + std::to_string(time);
    using Entry = std::pair<std::string, std::shared_future<std::shared_ptr<const Jpeg2000File>>>;
    static std::mutex mutex;
    static std::deque<Entry> recent;
    std::promise<std::shared_ptr<const Jpeg2000File>> promise;
    std::shared_future<std::shared_ptr<const Jpeg2000File>> future;
    {
        std::lock_guard<std::mutex> lock(mutex);
        for (const Entry& entry : recent) {
            if (entry.first == key) {
                future = entry.second;
                break;
            }
        }
        if (!future.valid()) {
            future = promise.get_future().share();
            recent.emplace_back(key, future);
            if (recent.size() > 2) {
                recent.pop_front();
            }
        } else {
            return future.get();
        }
    }
    try {
        promise.set_value(decodeJpeg2000(path));
    } catch (...) {
        promise.set_exception(std::current_exception());
        std::lock_guard<std::mutex> lock(mutex);
        recent.erase(std::remove_if(recent.begin(), recent.end(),
                                    [&](const Entry& e) { return e.first == key; }),
                     recent.end());
    }
    return future.get();
}

} // namespace

bool isSupportedTransferSyntax(const std::string& uid) {
    for (const char* known :
         {syntax::ImplicitLittle, syntax::ExplicitLittle, syntax::Deflated, syntax::ExplicitBig,
          syntax::JpegBaseline, syntax::JpegExtended, syntax::JpegLossless, syntax::JpegLosslessSV1,
          syntax::JpegLsLossless, syntax::JpegLsNearLossless, syntax::Jpeg2000Lossless,
          syntax::Jpeg2000, syntax::Rle}) {
        if (uid == known) {
            return true;
        }
    }
    return false;
}

struct FrameDecoder::Impl {
    // Last file opened through DCMTK, for the next frame of a multi-frame file.
    std::string dcmtkPath;
    std::unique_ptr<DcmFileFormat> dcmtkFile;
    DcmFileCache cache;
    Uint32 nextFragment = 0;
    int nextFrame = 0;
    // Last JPEG 2000 file, decoded whole by GDCM.
    std::string gdcmPath;
    std::shared_ptr<const Jpeg2000File> gdcmPixels;
    DecodedFrameLayout gdcmLayout;
    // Packed 1-bit pixel data of the last such file.
    std::string bitsPath;
    std::vector<unsigned char> bits;

    DecodedFrameLayout direct(const DicomImage& image, int frame, void* out) {
        const int fd = open(image.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            throw DicomValueError(image.path + ": cannot open (" + std::strerror(errno) + ")");
        }
        try {
            if (image.pixels.bitsAllocated == 1) {
                if (bitsPath != image.path) {
                    bits.resize(std::size_t(image.pixelDataLength));
                    readExactly(fd, bits.data(), bits.size(), image.pixelDataOffset, image.path);
                    bitsPath = image.path;
                }
                unpackBits(bits.data(),
                           std::size_t(image.pixels.rows) * std::size_t(image.pixels.columns),
                           frame, static_cast<unsigned char*>(out));
            } else {
                const std::size_t bytes = image.pixels.nativeFrameBytes();
                readExactly(fd, out, bytes, image.pixelDataOffset + std::uint64_t(frame) * bytes,
                            image.path);
            }
        } catch (...) {
            close(fd);
            throw;
        }
        close(fd);
        return {image.pixels.planarConfiguration == 1, image.pixels.photometric};
    }

    DecodedFrameLayout withDcmtk(const DicomImage& image, int frame, void* out) {
        initialiseDcmtk();
        // The file stays open for its other frames, in any order: DCMTK finds a frame's first
        // fragment from the offset table or when each frame is one fragment (always for RLE).
        if (dcmtkPath != image.path || !dcmtkFile) {
            dcmtkFile = std::make_unique<DcmFileFormat>();
            // Large values (the pixel data) stay in the file and are read frame by frame.
            const OFCondition status = dcmtkFile->loadFile(image.path.c_str(), EXS_Unknown,
                                                           EGL_noChange, 4096, ERM_autoDetect);
            if (status.bad()) {
                dcmtkFile.reset();
                throw DicomValueError(image.path + ": DCMTK cannot read it (" + status.text() +
                                      ")");
            }
            dcmtkPath = image.path;
            nextFragment = 0;
            nextFrame = 0;
        }
        DcmDataset* dataset = dcmtkFile->getDataset();
        if (dataset->getOriginalXfer() == EXS_RLELossless) {
            // DCMTK found RLE in file meta information the header reader read otherwise (a
            // damaged group length, found by fuzzing); its RLE decoder is not safe to run.
            dcmtkFile.reset();
            dcmtkPath.clear();
            throw DicomValueError(image.path + ": the file meta information is damaged (DCMTK " +
                                  "reads the pixel data as RLE, the header as " +
                                  transferSyntaxName(image.transferSyntax) + "); not decoded");
        }
        DcmElement* element = nullptr;
        if (dataset->findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) {
            throw DicomValueError(image.path + ": no pixel data");
        }
        auto* pixelData = dynamic_cast<DcmPixelData*>(element);
        if (pixelData == nullptr) {
            throw DicomValueError(image.path + ": PixelData has VR " +
                                  element->getTag().getVRName() + ", not OB or OW");
        }
        const bool bigEndian = image.transferSyntax == syntax::ExplicitBig;
        if (image.pixels.bitsAllocated == 1) {
            if (image.encapsulated) {
                throw DicomValueError(image.path + ": 1-bit pixel data in " +
                                      transferSyntaxName(image.transferSyntax) +
                                      " is not supported");
            }
            // Packed bits are a byte stream; DCMTK hands OW values back in host order, so a
            // big-endian OW element has its byte pairs swapped back first.
            Uint8* bytes = nullptr;
            if (element->getUint8Array(bytes).bad() || bytes == nullptr) {
                Uint16* words = nullptr;
                if (element->getUint16Array(words).bad() || words == nullptr) {
                    throw DicomValueError(image.path + ": 1-bit pixel data could not be read");
                }
                bytes = reinterpret_cast<Uint8*>(words);
            }
            std::vector<unsigned char> packed(bytes, bytes + element->getLength());
            if (bigEndian && element->getTag().getEVR() == EVR_OW) {
                for (std::size_t i = 0; i + 1 < packed.size(); i += 2) {
                    std::swap(packed[i], packed[i + 1]);
                }
            }
            unpackBits(packed.data(),
                       std::size_t(image.pixels.rows) * std::size_t(image.pixels.columns), frame,
                       static_cast<unsigned char*>(out));
            return {false, image.pixels.photometric};
        }
        Uint32 fragment = frame == nextFrame ? nextFragment : 0;
        OFString colourModel;
        const std::size_t bytes = image.pixels.frameBytes();
        // DCMTK wants an even buffer size (it may swap 16-bit words); callers allocate one
        // spare byte.
        const Uint32 bufferSize = Uint32(bytes + (bytes & 1));
        OFCondition status = pixelData->getUncompressedFrame(dataset, Uint32(frame), fragment, out,
                                                             bufferSize, colourModel, &cache);
        if (status.bad() && fragment == 0 && frame > 0 && image.encapsulated) {
            // Several fragments per frame and no offset table: the fragments of frame n are
            // known only by decoding frames 0..n-1 first (rare; costly, but correct).
            std::vector<char> skipped(bufferSize);
            fragment = 0;
            status = EC_Normal;
            for (int f = 0; f < frame && status.good(); ++f) {
                OFString ignored;
                status = pixelData->getUncompressedFrame(
                    dataset, Uint32(f), fragment, skipped.data(), bufferSize, ignored, &cache);
            }
            if (status.good()) {
                status = pixelData->getUncompressedFrame(dataset, Uint32(frame), fragment, out,
                                                         bufferSize, colourModel, &cache);
            }
        }
        if (status.bad()) {
            dcmtkFile.reset();
            throw DicomValueError(
                image.path + ": frame " + std::to_string(frame + 1) + " could not be decoded (" +
                transferSyntaxName(image.transferSyntax) + ": " + status.text() + ")");
        }
        nextFragment = fragment;
        nextFrame = frame + 1;
        if (bigEndian && !image.encapsulated && image.pixels.bitsAllocated == 32 &&
            image.pixelDataTag == tags::PixelData) {
            // DCMTK swaps OW pixel data in 16-bit words; 32-bit samples also need their two
            // halves exchanged to be little endian.
            auto* words = static_cast<std::uint16_t*>(out);
            for (std::size_t i = 0; i + 1 < bytes / 2; i += 2) {
                std::swap(words[i], words[i + 1]);
            }
        }
        DecodedFrameLayout layout;
        layout.colourModel = colourModel.empty() ? image.pixels.photometric : colourModel.c_str();
        // Codecs report the layout they produced through the data set's PlanarConfiguration.
        Uint16 planar = Uint16(image.pixels.planarConfiguration);
        dataset->findAndGetUint16(DCM_PlanarConfiguration, planar);
        layout.colourByPlane = image.pixels.samplesPerPixel == 3 && planar == 1;
        // Release loaded fragments of single-frame files at once; keep multi-frame files open.
        if (image.pixels.frames == 1) {
            dcmtkFile.reset();
            dcmtkPath.clear();
        }
        return layout;
    }

    // The fragments of the last RLE file.
    std::string rlePath;
    std::vector<Fragment> rleFragments;
    std::vector<std::uint8_t> rleBuffer;

    /// RLE is decoded here, not by DCMTK: its decoder trusts segment offsets and crashes on
    /// damaged data (found by fuzzing); this one checks every read and write.
    DecodedFrameLayout withRle(const DicomImage& image, int frame, void* out) {
        const int fd = open(image.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            throw DicomValueError(image.path + ": cannot open (" + std::strerror(errno) + ")");
        }
        try {
            if (rlePath != image.path) {
                rleFragments = listFragments(fd, image.pixelDataOffset, image.fileSize, image.path);
                rlePath = image.path;
            }
            if (rleFragments.size() != std::size_t(image.pixels.frames)) {
                throw DicomValueError(image.path + ": RLE data hold " +
                                      std::to_string(rleFragments.size()) + " fragments for " +
                                      std::to_string(image.pixels.frames) +
                                      " frames (RLE stores one per frame)");
            }
            const Fragment& fragment = rleFragments[std::size_t(frame)];
            rleBuffer.resize(fragment.length);
            readExactly(fd, rleBuffer.data(), fragment.length, fragment.offset, image.path);
        } catch (...) {
            close(fd);
            rlePath.clear();
            throw;
        }
        close(fd);
        decodeRleFrame(rleBuffer.data(), rleBuffer.size(), image.pixels,
                       static_cast<std::uint8_t*>(out),
                       image.path + ": frame " + std::to_string(frame + 1));
        return {false, image.pixels.photometric};
    }

    DecodedFrameLayout withGdcm(const DicomImage& image, int frame, void* out) {
        if (gdcmPath != image.path) {
            // Multi-frame files are decoded once per process and shared by the threads that
            // ask for their frames; single frames are decoded by each thread on its own.
            std::shared_ptr<const Jpeg2000File> decoded =
                image.pixels.frames > 1 ? sharedJpeg2000(image.path) : decodeJpeg2000(image.path);
            gdcmPixels = decoded;
            gdcmLayout.colourByPlane =
                image.pixels.samplesPerPixel == 3 && decoded->planarConfiguration == 1;
            gdcmLayout.colourModel =
                decoded->photometric.empty() ? image.pixels.photometric : decoded->photometric;
            gdcmPath = image.path;
        }
        const std::size_t bytes = image.pixels.frameBytes();
        if (gdcmPixels->pixels.size() < bytes * std::size_t(frame + 1)) {
            throw DicomValueError(image.path +
                                  ": JPEG 2000 data hold fewer frames than the header");
        }
        std::memcpy(out, gdcmPixels->pixels.data() + bytes * std::size_t(frame), bytes);
        return gdcmLayout;
    }
};

FrameDecoder::FrameDecoder()
    : m_impl(std::make_unique<Impl>()) {}

FrameDecoder::~FrameDecoder() = default;

std::size_t FrameDecoder::decodedFrameBytes(const DicomImage& image) {
    if (image.pixels.bitsAllocated == 1) {
        return std::size_t(image.pixels.rows) * std::size_t(image.pixels.columns);
    }
    return image.pixels.frameBytes();
}

DecodedFrameLayout FrameDecoder::decode(const DicomImage& image, int frame, void* out) {
    if (frame < 0 || frame >= image.pixels.frames) {
        throw DicomValueError(image.path + ": frame " + std::to_string(frame + 1) +
                              " does not exist");
    }
    if (!isSupportedTransferSyntax(image.transferSyntax)) {
        throw DicomValueError(image.path + ": transfer syntax " + image.transferSyntax +
                              " is not supported");
    }
    if (image.directPixelAccess) {
        return m_impl->direct(image, frame, out);
    }
    if (isJpeg2000(image.transferSyntax)) {
        return m_impl->withGdcm(image, frame, out);
    }
    if (image.transferSyntax == syntax::Rle) {
        if (image.readByDcmtk || image.pixelDataOffset == 0) {
            throw DicomValueError(image.path + ": RLE data in a file only DCMTK can parse are not "
                                               "decoded (DCMTK's RLE decoder is unsafe on damaged "
                                               "data)");
        }
        return m_impl->withRle(image, frame, out);
    }
    return m_impl->withDcmtk(image, frame, out);
}

} // namespace radiolens
