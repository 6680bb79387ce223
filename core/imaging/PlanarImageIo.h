#pragma once

#include "core/imaging/SliceRenderer.h"

#include <string>

namespace radiolens {

/// Reads a PNG, JPEG or BMP picture as 8-bit grey (when every pixel is grey) or RGB. Throws
/// std::runtime_error naming the file when it cannot be read.
RenderedSlice readPlanarImage(const std::string& path);

/// True when `path` names a picture readPlanarImage reads (by extension).
bool isPlanarImagePath(const std::string& path);

/// Writes `image` (grey or RGB, 8-bit) as PNG. Throws std::runtime_error naming the file.
void writePng(const RenderedSlice& image, const std::string& path);

} // namespace radiolens
