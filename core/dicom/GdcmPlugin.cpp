// JPEG 2000 decoding through GDCM (free DCMTK has no JPEG 2000 codec), for the radiolens-jpeg2000
// worker.

#include "core/dicom/GdcmPlugin.h"

#include <gdcmImage.h>
#include <gdcmImageReader.h>
#include <gdcmPhotometricInterpretation.h>
#include <gdcmTrace.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

extern "C" int radiolens_gdcm_decode(const char* path, RadiolensDecodedPixels* out, char* error,
                                     int errorSize) {
    const auto fail = [&](const char* reason) {
        if (error != nullptr && errorSize > 0) {
            std::snprintf(error, std::size_t(errorSize), "%s", reason);
        }
        return 1;
    };
    try {
        // Radiolens reports problems itself; GDCM would print to stderr.
        gdcm::Trace::SetDebug(false);
        gdcm::Trace::SetWarning(false);
        gdcm::Trace::SetError(false);
        gdcm::ImageReader reader;
        reader.SetFileName(path);
        if (!reader.Read()) {
            return fail("GDCM cannot read the file");
        }
        const gdcm::Image& image = reader.GetImage();
        const std::size_t bytes = image.GetBufferLength();
        void* pixels = std::malloc(bytes == 0 ? 1 : bytes);
        if (pixels == nullptr) {
            return fail("out of memory");
        }
        if (!image.GetBuffer(static_cast<char*>(pixels))) {
            std::free(pixels);
            return fail("the JPEG 2000 data could not be decoded");
        }
        out->pixels = pixels;
        out->bytes = bytes;
        out->planarConfiguration = int(image.GetPlanarConfiguration());
        const char* model =
            gdcm::PhotometricInterpretation::GetPIString(image.GetPhotometricInterpretation());
        std::snprintf(out->photometric, sizeof out->photometric, "%s", model ? model : "");
        return 0;
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}

extern "C" void radiolens_gdcm_release(RadiolensDecodedPixels* pixels) {
    if (pixels != nullptr) {
        std::free(pixels->pixels);
        pixels->pixels = nullptr;
    }
}
