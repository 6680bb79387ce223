#include "core/ml/NpyArchive.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace radiolens {

namespace {

/// Largest array a .npy header may announce (bytes); no allocation depends on it, only the
/// arithmetic on the shape, which must not overflow.
constexpr std::size_t kMaxBytes = std::size_t(1) << 62;

std::uint16_t u16(const std::uint8_t* p) {
    return std::uint16_t(p[0] | (p[1] << 8));
}

std::uint32_t u32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) |
           (std::uint32_t(p[3]) << 24);
}

/// The value of `key` in the npy header dictionary, as written (quotes and brackets kept).
std::string headerValue(const std::string& header, const std::string& key) {
    const std::size_t k = header.find("'" + key + "'");
    if (k == std::string::npos) {
        return {};
    }
    std::size_t v = header.find(':', k);
    if (v == std::string::npos) {
        return {};
    }
    ++v;
    while (v < header.size() && header[v] == ' ') {
        ++v;
    }
    if (v < header.size() && header[v] == '(') {
        const std::size_t end = header.find(')', v);
        return end == std::string::npos ? std::string() : header.substr(v, end - v + 1);
    }
    const std::size_t end = header.find_first_of(",}", v);
    return header.substr(v, end == std::string::npos ? std::string::npos : end - v);
}

} // namespace

std::size_t NpyArray::count() const {
    std::size_t n = 1;
    for (std::size_t d : shape) {
        n *= d;
    }
    return n;
}

std::size_t NpyArray::itemSize() const {
    if (dtype.size() < 2) {
        return 0;
    }
    return std::size_t(std::stoul(dtype.substr(1)));
}

double NpyArray::at(std::size_t i) const {
    const std::uint8_t* p = bytes.data() + i * itemSize();
    const char kind = dtype[0];
    const std::size_t size = itemSize();
    if (kind == 'u') {
        std::uint64_t v = 0;
        std::memcpy(&v, p, size);
        return double(v);
    }
    if (kind == 'i' || kind == 'b') {
        switch (size) {
        case 1:
            return double(std::int8_t(p[0]));
        case 2: {
            std::int16_t v;
            std::memcpy(&v, p, 2);
            return v;
        }
        case 4: {
            std::int32_t v;
            std::memcpy(&v, p, 4);
            return v;
        }
        default: {
            std::int64_t v;
            std::memcpy(&v, p, 8);
            return double(v);
        }
        }
    }
    if (size == 4) {
        float v;
        std::memcpy(&v, p, 4);
        return v;
    }
    double v;
    std::memcpy(&v, p, 8);
    return v;
}

NpyArray parseNpy(const std::vector<std::uint8_t>& data, const std::string& name) {
    const auto fail = [&name](const std::string& why) {
        return std::runtime_error(name + ": " + why);
    };
    if (data.size() < 10 || std::memcmp(data.data(), "\x93NUMPY", 6) != 0) {
        throw fail("not a NumPy .npy array");
    }
    const int major = data[6];
    std::size_t headerLength = 0;
    std::size_t offset = 0;
    if (major == 1) {
        headerLength = u16(&data[8]);
        offset = 10;
    } else if (major == 2 || major == 3) {
        if (data.size() < 12) {
            throw fail("truncated .npy header");
        }
        headerLength = u32(&data[8]);
        offset = 12;
    } else {
        throw fail("unsupported .npy version " + std::to_string(major));
    }
    if (offset + headerLength > data.size()) {
        throw fail("truncated .npy header");
    }
    const std::string header(reinterpret_cast<const char*>(&data[offset]), headerLength);
    NpyArray array;
    std::string descr = headerValue(header, "descr");
    if (descr.size() < 4 || descr.front() != '\'') {
        throw fail("no element type in the .npy header");
    }
    descr = descr.substr(1, descr.size() - 2);
    const char order = descr[0];
    if (order == '>') {
        throw fail("big-endian arrays are not supported (" + descr + ")");
    }
    array.dtype = (order == '<' || order == '|' || order == '=') ? descr.substr(1) : descr;
    // Only the element types at() can read: a float16 or int128 would be read past its bytes.
    static const char* const kSupported[] = {"u1", "u2", "u4", "u8", "i1", "i2",
                                             "i4", "i8", "f4", "f8", "b1"};
    if (std::find(std::begin(kSupported), std::end(kSupported), array.dtype) ==
        std::end(kSupported)) {
        throw fail("unsupported element type " + descr);
    }
    if (headerValue(header, "fortran_order").find("True") != std::string::npos) {
        throw fail("Fortran-order arrays are not supported");
    }
    const std::string shape = headerValue(header, "shape");
    if (shape.empty() || shape.front() != '(') {
        throw fail("no shape in the .npy header");
    }
    std::size_t pos = 1;
    while (pos < shape.size()) {
        while (pos < shape.size() && (shape[pos] == ' ' || shape[pos] == ',')) {
            ++pos;
        }
        if (pos >= shape.size() || shape[pos] == ')') {
            break;
        }
        if (shape[pos] < '0' || shape[pos] > '9') {
            throw fail("malformed shape " + shape + " in the .npy header");
        }
        std::size_t dimension = 0;
        for (; pos < shape.size() && shape[pos] >= '0' && shape[pos] <= '9'; ++pos) {
            if (dimension > (kMaxBytes - 9) / 10) {
                throw fail("the shape " + shape + " is too large");
            }
            dimension = dimension * 10 + std::size_t(shape[pos] - '0');
        }
        array.shape.push_back(dimension);
    }
    // Bytes of the data, refused before the product overflows.
    std::size_t bytes = array.itemSize();
    for (std::size_t d : array.shape) {
        if (d != 0 && bytes > kMaxBytes / d) {
            throw fail("the shape " + shape + " is too large");
        }
        bytes *= d;
    }
    const std::size_t start = offset + headerLength;
    if (data.size() - start < bytes) {
        throw fail("truncated: the header announces " + std::to_string(bytes) +
                   " bytes of data, the file holds " + std::to_string(data.size() - start));
    }
    array.bytes.assign(data.begin() + std::ptrdiff_t(start),
                       data.begin() + std::ptrdiff_t(start + bytes));
    return array;
}

std::map<std::string, NpyArray> readNpz(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error(path + ": cannot be opened");
    }
    const std::vector<std::uint8_t> zip((std::istreambuf_iterator<char>(in)),
                                        std::istreambuf_iterator<char>());
    const auto fail = [&path](const std::string& why) {
        return std::runtime_error(path + ": " + why);
    };
    // The end-of-central-directory record, searched from the end (a comment may follow it).
    if (zip.size() < 22) {
        throw fail("not a NumPy .npz archive (too short for a zip file)");
    }
    std::size_t eocd = std::string::npos;
    for (std::size_t i = zip.size() - 22 + 1; i-- > 0 && zip.size() - i <= 22 + 65535;) {
        if (u32(&zip[i]) == 0x06054b50) {
            eocd = i;
            break;
        }
    }
    if (eocd == std::string::npos) {
        throw fail("not a NumPy .npz archive (no zip directory; truncated?)");
    }
    const std::size_t entries = u16(&zip[eocd + 10]);
    std::size_t entry = u32(&zip[eocd + 16]);
    std::map<std::string, NpyArray> arrays;
    for (std::size_t e = 0; e < entries; ++e) {
        if (entry + 46 > zip.size() || u32(&zip[entry]) != 0x02014b50) {
            throw fail("corrupt zip directory");
        }
        const int method = u16(&zip[entry + 10]);
        const std::uint32_t crc = u32(&zip[entry + 16]);
        std::size_t packed = u32(&zip[entry + 20]);
        std::size_t size = u32(&zip[entry + 24]);
        const std::size_t nameLength = u16(&zip[entry + 28]);
        const std::size_t extraLength = u16(&zip[entry + 30]);
        const std::size_t commentLength = u16(&zip[entry + 32]);
        std::size_t local = u32(&zip[entry + 42]);
        if (entry + 46 + nameLength > zip.size()) {
            throw fail("corrupt zip directory");
        }
        const std::string key(reinterpret_cast<const char*>(&zip[entry + 46]), nameLength);
        // The member as messages name it: a damaged name may hold control bytes, and a zero
        // byte would cut the message short.
        std::string name = key;
        std::replace_if(
            name.begin(), name.end(), [](char c) { return (unsigned char)c < 0x20 || c == 0x7f; },
            '?');
        // ZIP64 (members over 4 GiB) keeps sizes in an extra field.
        for (std::size_t x = entry + 46 + nameLength;
             x + 4 <= entry + 46 + nameLength + extraLength && x + 4 <= zip.size();) {
            const std::size_t id = u16(&zip[x]);
            const std::size_t length = u16(&zip[x + 2]);
            if (id == 0x0001) {
                std::size_t at = x + 4;
                const auto next64 = [&zip, &at]() {
                    std::uint64_t v = 0;
                    if (at + 8 <= zip.size()) {
                        std::memcpy(&v, &zip[at], 8);
                    }
                    at += 8;
                    return std::size_t(v);
                };
                if (size == 0xffffffff)
                    size = next64();
                if (packed == 0xffffffff)
                    packed = next64();
                if (local == 0xffffffff)
                    local = next64();
            }
            x += 4 + length;
        }
        entry += 46 + nameLength + extraLength + commentLength;
        if (local + 30 > zip.size() || u32(&zip[local]) != 0x04034b50) {
            throw fail(name + ": corrupt zip member header");
        }
        const std::size_t dataStart = local + 30 + u16(&zip[local + 26]) + u16(&zip[local + 28]);
        if (dataStart > zip.size() || zip.size() - dataStart < packed) {
            throw fail(name + ": truncated (the archive ends inside this member)");
        }
        // The method and sizes are checked before anything is allocated: deflate packs at most
        // 1032:1.
        if (method != 0 && method != 8) {
            throw fail(name + ": unsupported zip compression method " + std::to_string(method));
        }
        if ((method == 0 && packed != size) || (method == 8 && size / 1032 > packed + 1)) {
            throw fail(name + ": corrupt zip member sizes (" + std::to_string(size) +
                       " bytes from " + std::to_string(packed) + " compressed)");
        }
        std::vector<std::uint8_t> data(size);
        if (method == 0) {
            if (size > 0) { // an empty member has no bytes to copy (and data() may be null)
                std::memcpy(data.data(), &zip[dataStart], size);
            }
        } else if (method == 8) {
            z_stream stream{};
            if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) {
                throw fail(name + ": cannot start zlib");
            }
            stream.next_in = const_cast<Bytef*>(&zip[dataStart]);
            stream.avail_in = uInt(packed);
            stream.next_out = data.data();
            stream.avail_out = uInt(size);
            const int status = inflate(&stream, Z_FINISH);
            const std::size_t produced = stream.total_out;
            inflateEnd(&stream);
            if (status != Z_STREAM_END || produced != size) {
                throw fail(name + ": corrupt compressed data");
            }
        }
        if (std::uint32_t(crc32(0L, data.data(), uInt(data.size()))) != crc) {
            throw fail(name + ": CRC mismatch (the archive is damaged)");
        }
        std::string array = key;
        if (array.size() > 4 && array.compare(array.size() - 4, 4, ".npy") == 0) {
            array.resize(array.size() - 4);
        }
        arrays[array] = parseNpy(data, path + ": " + name);
    }
    return arrays;
}

} // namespace radiolens
