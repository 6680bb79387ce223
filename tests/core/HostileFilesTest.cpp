// Files found by fuzzing (libFuzzer + AddressSanitizer on the header reader and the loader) that
// once crashed Radiolens, read out of bounds, forced huge allocations or hit undefined
// behaviour. Each must now end in a clear reason - or load - and never take the process down.
// (Files that crash GDCM itself, and a JPEG file that hangs DCMTK's decoder, need decoding in a
// separate process: issue 9.)

#include "core/dicom/DicomHeaderScanner.h"
#include "core/dicom/DicomInstance.h"
#include "core/dicom/SeriesLoader.h"
#include "core/dicom/StudyIndexer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

std::string hostile(const std::string& name) {
    return std::string(RADIOLENS_HOSTILE_DIR) + "/" + name;
}

/// Reads, interprets and loads `path`; returns the first reason it was refused (empty if it
/// loaded).
std::string refusal(const std::string& path) {
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    if (!scan.ok()) {
        EXPECT_FALSE(scan.reason.empty()) << path;
        return scan.reason;
    }
    try {
        readIdentity(scan.header.dataSet);
        readImage(scan.header, path);
    } catch (const DicomValueError& e) {
        EXPECT_FALSE(std::string(e.what()).empty()) << path;
    }
    const SeriesLoadResult result = SeriesLoader().load({path});
    if (!result.ok()) {
        EXPECT_FALSE(result.error.empty()) << path;
        return result.error;
    }
    for (const auto& problem : result.problems) {
        return problem.reason;
    }
    return {};
}

} // namespace

TEST(HostileFiles, EveryOneEndsInAReasonOrAnImageNeverACrash) {
    ASSERT_TRUE(fs::is_directory(RADIOLENS_HOSTILE_DIR));
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(RADIOLENS_HOSTILE_DIR)) {
        SCOPED_TRACE(entry.path().filename().string());
        const auto start = std::chrono::steady_clock::now();
        refusal(entry.path().string());
        // Refusing must not mean allocating first: each file is decided in well under a second.
        EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                  5.0);
        ++files;
    }
    EXPECT_GE(files, 15u);
    // And all of them together in one folder: the index lists each as an instance or a problem.
    const StudyIndex index = StudyIndexer().index({RADIOLENS_HOSTILE_DIR});
    EXPECT_EQ(index.instanceCount() + index.problems.size(), files);
}

TEST(HostileFiles, TheReasonsNameWhatIsWrong) {
    const std::map<std::string, std::string> expected = {
        {"oom-readImage-encapsulated-NumberOfFrames-2147483647.dcm", "refused before allocating"},
        {"oom-readImage-encapsulated-NumberOfFrames-1e8.dcm", "refused before allocating"},
        {"asan-heap-overflow-convertColour-1bit-rgb.dcm", "1-bit"},
        {"asan-heap-overflow-convertColour-ybr422-1column.dcm", "even number of columns"},
        {"logic-NumberOfFrames-4294967297-becomes-1.dcm", "NumberOfFrames"},
        {"ub-numbers-IS-float-cast-NumberOfFrames-1e20.dcm", "NumberOfFrames"},
        {"ub-numbers-IS-float-cast-NumberOfFrames-nan.dcm", "NumberOfFrames"},
        {"dcmtk-segv-RLE-decodeFrame-segment-offset.dcm", "RLE"},
        // Found by tests/fuzz (fuzz_dicom): a damaged meta group length made the header reader
        // see no transfer syntax while DCMTK read RLE and ran its unsafe RLE decoder.
        {"dcmtk-segv-RLE-decoder-reached-through-damaged-meta-group-length.dcm",
         "file meta information is damaged"},
        {"dcmtk-uncaught-out_of_range-DirectoryRecordType.dcm", "DCMTK"},
    };
    for (const auto& [name, word] : expected) {
        SCOPED_TRACE(name);
        const std::string reason = refusal(hostile(name));
        EXPECT_NE(reason.find(word), std::string::npos) << "reason: " << reason;
    }
}
