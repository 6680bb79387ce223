#include "core/dicom/RleCodec.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace radiolens {

namespace {

std::uint32_t readU32(const std::uint8_t* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

/// PackBits: n in 0..127 copies n+1 bytes; n in -127..-1 repeats the next byte 1-n times;
/// -128 does nothing. Returns the bytes written (at most `capacity`).
std::size_t unpackBits(const std::uint8_t* in, std::size_t length, std::uint8_t* out,
                       std::size_t capacity) {
    std::size_t i = 0;
    std::size_t o = 0;
    while (i < length && o < capacity) {
        const int n = static_cast<std::int8_t>(in[i++]);
        if (n >= 0) {
            const std::size_t count = std::size_t(n) + 1;
            const std::size_t take = std::min({count, length - i, capacity - o});
            std::memcpy(out + o, in + i, take);
            i += count;
            o += take;
        } else if (n != -128) {
            if (i >= length) {
                break;
            }
            const std::size_t count = std::min(std::size_t(1 - n), capacity - o);
            std::memset(out + o, in[i++], count);
            o += count;
        }
    }
    return o;
}

} // namespace

std::vector<Fragment> listFragments(int fd, std::uint64_t pixelDataOffset, std::uint64_t fileSize,
                                    const std::string& path) {
    std::vector<Fragment> fragments;
    std::uint64_t pos = pixelDataOffset;
    bool first = true;
    while (true) {
        std::uint8_t header[8];
        if (pos + 8 > fileSize || pread(fd, header, 8, off_t(pos)) != 8) {
            throw DicomValueError(path + ": encapsulated pixel data end without a delimiter");
        }
        const std::uint16_t group = std::uint16_t(header[0] | (header[1] << 8));
        const std::uint16_t element = std::uint16_t(header[2] | (header[3] << 8));
        const std::uint32_t length = readU32(header + 4);
        pos += 8;
        if (group == 0xFFFE && element == 0xE0DD) {
            return fragments;
        }
        if (group != 0xFFFE || element != 0xE000 || length == 0xFFFFFFFFu ||
            pos + length > fileSize) {
            throw DicomValueError(path + ": malformed or truncated fragment in the pixel data");
        }
        if (!first) {
            fragments.push_back({pos, length});
        }
        first = false;
        pos += length;
    }
}

void decodeRleFrame(const std::uint8_t* fragment, std::size_t length, const PixelModule& pixels,
                    std::uint8_t* out, const std::string& what) {
    const std::size_t bytesPerSample = std::size_t(pixels.bitsAllocated / 8);
    const std::size_t samples = std::size_t(pixels.samplesPerPixel);
    const std::size_t planeBytes = std::size_t(pixels.rows) * std::size_t(pixels.columns);
    const std::size_t expected = samples * bytesPerSample;
    if (length < 64) {
        throw DicomValueError(what + ": RLE fragment shorter than its 64-byte header");
    }
    const std::uint32_t segments = readU32(fragment);
    if (bytesPerSample == 0 || segments != expected || segments > 15) {
        throw DicomValueError(what + ": RLE header lists " + std::to_string(segments) +
                              " segments where the image needs " + std::to_string(expected));
    }
    std::vector<std::uint8_t> plane(planeBytes);
    for (std::uint32_t s = 0; s < segments; ++s) {
        const std::uint32_t begin = readU32(fragment + 4 + 4 * s);
        const std::uint32_t end =
            s + 1 < segments ? readU32(fragment + 8 + 4 * s) : std::uint32_t(length);
        if (begin < 64 || begin > end || end > length) {
            throw DicomValueError(what + ": RLE segment " + std::to_string(s + 1) +
                                  " lies outside its fragment");
        }
        const std::size_t got = unpackBits(fragment + begin, end - begin, plane.data(), planeBytes);
        if (got < planeBytes) {
            throw DicomValueError(what + ": RLE segment " + std::to_string(s + 1) + " holds " +
                                  std::to_string(got) + " of " + std::to_string(planeBytes) +
                                  " bytes");
        }
        // Segment s is byte (bytesPerSample - 1 - b) of sample c: most significant first.
        const std::size_t c = s / bytesPerSample;
        const std::size_t b = bytesPerSample - 1 - s % bytesPerSample;
        const std::size_t stride = samples * bytesPerSample;
        std::uint8_t* target = out + c * bytesPerSample + b;
        for (std::size_t i = 0; i < planeBytes; ++i) {
            target[i * stride] = plane[i];
        }
    }
}

} // namespace radiolens
