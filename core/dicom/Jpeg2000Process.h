#pragma once
// Internal to core/dicom: JPEG 2000 decoding in a separate process. GDCM (and the OpenJPEG
// under it) can corrupt memory, abort or hang on damaged data; run in the application, one
// damaged file would take the whole workstation down. The decoder runs in radiolens-jpeg2000
// worker processes instead (Jpeg2000Worker.cpp): a crash or a hang costs that file only.

#include <string>
#include <vector>

namespace radiolens {

/// Every frame of one JPEG 2000 file, decoded.
struct Jpeg2000Pixels {
    std::vector<char> pixels; ///< stored values, frame after frame
    int planarConfiguration = 0;
    std::string photometric; ///< of the decoded samples
};

/// Decodes every frame of the JPEG 2000 file `path` in a worker process (kept for the next
/// file; one per thread that decodes at once, started on first use). Throws DicomValueError
/// naming the file when GDCM refuses it, when the worker crashes on it (the worker is replaced
/// for the next file) or takes longer than `timeoutSeconds` (it is killed). Thread-safe.
Jpeg2000Pixels decodeJpeg2000InWorker(const std::string& path, double timeoutSeconds = 300.0);

} // namespace radiolens
