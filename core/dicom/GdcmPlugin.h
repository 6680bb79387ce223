#pragma once

// C interface of libradiolens_gdcm.so, which decodes JPEG 2000 with GDCM. GDCM's static
// initialisation costs 40-60 ms and 8 MB per process here, and only JPEG 2000 needs it, so it is
// opened on the first JPEG 2000 file (FrameDecoder) rather than linked.

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
