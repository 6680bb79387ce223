#pragma once

// JPEG 2000 decoding with GDCM, in the radiolens-jpeg2000 worker process (Jpeg2000Worker.cpp;
// Jpeg2000Process.h says why it is a process of its own). GDCM's static initialisation costs
// 40-60 ms and 8 MB per process here; a worker pays it once and serves every later file.

#include <cstddef>

extern "C" {

/// All frames of one file, decoded: stored values, frame after frame.
struct RadiolensDecodedPixels {
    void* pixels; ///< owned by the plugin; free with radiolens_gdcm_release
    std::size_t bytes;
    int planarConfiguration; ///< 1: colour-by-plane
    char photometric[32];    ///< photometric interpretation of the decoded samples
};

/// Decodes every frame of `path`. Returns 0 on success; otherwise writes a reason into `error`.
__attribute__((visibility("default"))) int
radiolens_gdcm_decode(const char* path, RadiolensDecodedPixels* out, char* error, int errorSize);

/// Frees what radiolens_gdcm_decode returned.
__attribute__((visibility("default"))) void radiolens_gdcm_release(RadiolensDecodedPixels* pixels);
}
