// libFuzzer harness for the NumPy readers (core/ml/NpyArchive): the input is read as a MedMNIST
// .npz dataset (loadMedMnist, which reads the zip with readNpz: stored and deflated members,
// ZIP64 sizes, CRC), once as it is and once with its members' CRCs made right (so that
// mutated arrays get past the CRC check), and, on its own, as one .npy array (parseNpy).
//
// Promises checked besides the sanitizers': a file that cannot be used is a std::runtime_error
// naming the file; an array that was accepted holds exactly shape x item size bytes and every
// element can be read; a dataset's labels fit its classes.

#include "core/ml/ImageDataset.h"
#include "core/ml/NpyArchive.h"

#include "tests/fuzz/FuzzInput.h"

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

using namespace radiolens;

namespace {

void check(const NpyArray& array, const std::string& what) {
    if (array.bytes.size() != array.count() * array.itemSize()) {
        fuzz::finding(what + ": " + std::to_string(array.bytes.size()) + " bytes for " +
                      std::to_string(array.count()) + " elements");
    }
    double sum = 0;
    for (std::size_t i = 0; i < array.count() && i < 4096; ++i) {
        sum += array.at(i);
    }
    (void)sum;
}

void check(const ImageDataset& data) {
    const std::size_t classes = data.classNames.size();
    for (const ImageSplit* split : {&data.train, &data.validation, &data.test}) {
        if (split->pixels.size() != split->count * split->imageBytes()) {
            fuzz::finding("a split whose pixels do not fill its images");
        }
        if (split->labels.size() != split->count * data.labelColumns) {
            fuzz::finding("a split without one label row per image");
        }
        for (int label : split->labels) {
            if (label < 0 || (data.labelColumns == 1 && std::size_t(label) >= classes)) {
                fuzz::finding("a label outside the dataset's classes: " + std::to_string(label));
            }
        }
    }
}

std::uint32_t u32(const std::vector<std::uint8_t>& b, std::size_t at) {
    return std::uint32_t(b[at]) | std::uint32_t(b[at + 1]) << 8 | std::uint32_t(b[at + 2]) << 16 |
           std::uint32_t(b[at + 3]) << 24;
}

std::size_t u16(const std::vector<std::uint8_t>& b, std::size_t at) {
    return std::size_t(b[at]) | std::size_t(b[at + 1]) << 8;
}

void put32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        b[at + std::size_t(i)] = std::uint8_t(v >> (8 * i));
    }
}

/// The archive with each member's CRC-32 made right (in the directory and the member header),
/// so that mutations of the arrays inside reach the .npy and dataset readers instead of all
/// stopping at the CRC check. Members this cannot read are left as they are.
std::vector<std::uint8_t> withRightCrcs(std::vector<std::uint8_t> zip) {
    if (zip.size() < 22) {
        return zip;
    }
    std::size_t eocd = std::string::npos;
    for (std::size_t i = zip.size() - 22 + 1; i-- > 0;) {
        if (u32(zip, i) == 0x06054b50) {
            eocd = i;
            break;
        }
    }
    if (eocd == std::string::npos) {
        return zip;
    }
    std::size_t entry = u32(zip, eocd + 16);
    for (std::size_t e = 0, n = u16(zip, eocd + 10); e < n; ++e) {
        if (entry + 46 > zip.size() || u32(zip, entry) != 0x02014b50) {
            break;
        }
        const std::size_t method = u16(zip, entry + 10);
        const std::size_t packed = u32(zip, entry + 20);
        const std::size_t size = u32(zip, entry + 24);
        const std::size_t local = u32(zip, entry + 42);
        const std::size_t next =
            entry + 46 + u16(zip, entry + 28) + u16(zip, entry + 30) + u16(zip, entry + 32);
        if (local + 30 <= zip.size() && u32(zip, local) == 0x04034b50 && size < (1u << 24)) {
            const std::size_t start = local + 30 + u16(zip, local + 26) + u16(zip, local + 28);
            std::vector<std::uint8_t> plain;
            if (start <= zip.size() && zip.size() - start >= packed) {
                if (method == 0) {
                    plain.assign(zip.begin() + std::ptrdiff_t(start),
                                 zip.begin() + std::ptrdiff_t(start + packed));
                } else if (method == 8) {
                    plain.resize(size);
                    z_stream stream{};
                    if (inflateInit2(&stream, -MAX_WBITS) == Z_OK) {
                        stream.next_in = zip.data() + start;
                        stream.avail_in = uInt(packed);
                        stream.next_out = plain.data();
                        stream.avail_out = uInt(size);
                        inflate(&stream, Z_FINISH);
                        plain.resize(stream.total_out);
                        inflateEnd(&stream);
                    }
                }
                const auto crc = std::uint32_t(crc32(0L, plain.data(), uInt(plain.size())));
                put32(zip, entry + 16, crc);
                put32(zip, local + 14, crc);
            }
        }
        entry = next;
    }
    return zip;
}

void readArchive(const std::string& path) {
    try {
        for (const auto& [name, array] : readNpz(path)) {
            check(array, name);
        }
        check(loadMedMnist(path));
    } catch (const std::runtime_error& e) {
        if (std::string(e.what()).empty()) {
            fuzz::finding("an archive refused without a reason");
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The archive as it is (the zip reader's checks), then with its CRCs made right (the arrays).
    readArchive(fuzz::inputFile(data, size, "fuzzmnist.npz"));
    const std::vector<std::uint8_t> repaired = withRightCrcs({data, data + size});
    if (repaired != std::vector<std::uint8_t>(data, data + size)) {
        readArchive(fuzz::inputFile(repaired.data(), repaired.size(), "fuzzmnist.npz"));
    }
    try {
        check(parseNpy(std::vector<std::uint8_t>(data, data + size), "fuzz.npy"), "fuzz.npy");
    } catch (const std::runtime_error& e) {
        if (std::string(e.what()).empty()) {
            fuzz::finding("an array refused without a reason");
        }
    }
    return 0;
}
