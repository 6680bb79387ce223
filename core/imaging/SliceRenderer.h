#pragma once

#include "core/imaging/PlaneView.h"
#include "core/imaging/Volume.h"

#include <cstdint>
#include <vector>

namespace radiolens {

/// A window on output values (HU for CT): values below center - width/2 are black, above
/// center + width/2 white, linear in between (the DICOM "LINEAR" VOI function, PS3.3 C.11.2.1.2).
struct DisplayWindow {
    double center = 40.0;
    double width = 400.0;
};

/// One image ready to show: 8-bit grey (1 byte per pixel) or RGB (3 bytes per pixel),
/// `width` x `height`, rows top to bottom, tightly packed.
struct RenderedSlice {
    int width = 0;
    int height = 0;
    int channels = 1;
    std::vector<std::uint8_t> pixels;
};

/// Maps `image` through `window` to display grey levels. Grey scales are inverted when
/// `invert` is set (MONOCHROME1 is passed as invert by the caller, values stay as stored).
/// Colour images are shown as stored (8-bit) or scaled by their maximum (16/32-bit) and the
/// window is ignored. Pure function, safe on any thread; a 512 x 512 int16 image takes about a
/// millisecond (one table lookup per pixel).
RenderedSlice renderImage(const StridedImage& image, const DisplayWindow& window, bool invert);

/// As renderImage, into caller memory: `out` holds image.height rows of `rowBytes` bytes each
/// (at least width x channels). No allocation: a viewer renders every frame into the same
/// buffer (fresh memory costs about 25 us per 4 KiB page here, DESIGN.md section 5).
void renderImageInto(const StridedImage& image, const DisplayWindow& window, bool invert,
                     std::uint8_t* out, std::size_t rowBytes);

/// Slice `k` of `volume` as stored, inverted for MONOCHROME1.
RenderedSlice renderSlice(const Volume& volume, std::size_t k, const DisplayWindow& window);

/// The window to open a volume with: the file's first preset, else one spanning the 1st to 99th
/// percentile of the given slice's values (robust to air and metal).
DisplayWindow defaultWindow(const Volume& volume, std::size_t k);

} // namespace radiolens
