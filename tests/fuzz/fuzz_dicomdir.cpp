// libFuzzer harness: a DICOMDIR (PS3.10 media directory) read by DicomdirReader, as the index
// does for a folder or a CD that holds one. The input is written as a file named DICOMDIR in a
// folder of its own, so a record may reference the directory itself (the only file there).
//
// Promises checked besides the sanitizers': readDicomdir never throws, every problem has a
// reason and every entry it returns names a file that exists.

#include "core/dicom/DicomdirReader.h"

#include "tests/fuzz/FuzzInput.h"

#include <cstdint>
#include <filesystem>

using namespace radiolens;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = fuzz::inputFile(data, size, "DICOMDIR");
    std::vector<DicomdirEntry> entries;
    std::vector<Problem> problems;
    readDicomdir(path, entries, problems);
    for (const Problem& problem : problems) {
        if (problem.reason.empty()) {
            fuzz::finding("a DICOMDIR problem without a reason: " + problem.path);
        }
    }
    for (const DicomdirEntry& entry : entries) {
        std::error_code error;
        if (!std::filesystem::is_regular_file(entry.path, error)) {
            fuzz::finding("a DICOMDIR entry whose file does not exist: " + entry.path);
        }
    }
    return 0;
}
