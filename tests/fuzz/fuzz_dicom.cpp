// libFuzzer harness: one DICOM file through what opening it does. The header scan
// (DicomHeaderScanner, with its DCMTK fallback), the identity the index reads (readIdentity),
// the image description (readImage), one frame decoded by FrameDecoder, and the whole load of
// the file as a series (SeriesLoader, one thread: scan, decode, conversion to output values).
//
// Promises checked besides the sanitizers': the scan never throws and gives a reason for every
// refusal; readIdentity, readImage and decode throw only DicomValueError with a message; a
// failed load says why.

#include "core/dicom/DicomHeaderScanner.h"
#include "core/dicom/DicomInstance.h"
#include "core/dicom/FrameDecoder.h"
#include "core/dicom/SeriesLoader.h"

#include "tests/fuzz/FuzzInput.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

using namespace radiolens;

namespace {

/// Frames larger than this are left to SeriesLoader, which allocates the whole volume anyway.
constexpr std::size_t kMaxDirectFrameBytes = std::size_t(64) << 20;

void decodeFirstFrame(const DicomImage& image) {
    const std::size_t bytes = FrameDecoder::decodedFrameBytes(image);
    if (bytes == 0 || bytes > kMaxDirectFrameBytes) {
        return;
    }
    std::vector<unsigned char> frame(bytes + 1);
    FrameDecoder decoder;
    try {
        decoder.decode(image, 0, frame.data());
    } catch (const DicomValueError& e) {
        if (std::string(e.what()).empty()) {
            fuzz::finding("FrameDecoder::decode threw without a reason");
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // JPEG 2000 goes to GDCM in the radiolens-jpeg2000 worker process, where a crash or hang on
    // damaged data costs that file only (HostileFiles tests it); fuzzing it here would fuzz
    // GDCM, and a hang would wait for the worker's timeout. RADIOLENS_FUZZ_GDCM=1 does anyway.
    const char* gdcm = std::getenv("RADIOLENS_FUZZ_GDCM");
    if (gdcm == nullptr || std::string(gdcm) != "1") {
        setenv("RADIOLENS_JPEG2000_DECODER", "/nonexistent/fuzzing-without-gdcm", 1);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = fuzz::inputFile(data, size, "input.dcm");
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    if (!scan.ok()) {
        if (scan.reason.empty()) {
            fuzz::finding("a refused header without a reason");
        }
        return 0;
    }
    try {
        readIdentity(scan.header.dataSet);
    } catch (const DicomValueError&) {
    }
    try {
        decodeFirstFrame(readImage(scan.header, path));
    } catch (const DicomValueError&) {
    }
    SeriesLoadOptions options;
    options.threads = 1;
    const SeriesLoadResult result = SeriesLoader(options).load({path});
    if (!result.ok() && result.error.empty()) {
        fuzz::finding("SeriesLoader failed without a reason");
    }
    return 0;
}
