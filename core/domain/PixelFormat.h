#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace radiolens {

/// Type of one sample of a pixel.
enum class ComponentType { UInt8, Int8, UInt16, Int16, UInt32, Int32, Float32, Float64 };

/// How the samples of a pixel are to be shown. Values are never altered for display reasons:
/// MONOCHROME1 images keep their stored values and the viewer inverts the grey scale.
enum class Photometric { Monochrome1, Monochrome2, Rgb };

/// Memory layout of one pixel: `components` samples (1 for grey, 3 for RGB, interleaved) of
/// type `component`.
struct PixelFormat {
    ComponentType component = ComponentType::Int16;
    int components = 1;

    std::size_t componentBytes() const;
    std::size_t bytesPerPixel() const { return componentBytes() * std::size_t(components); }
    bool isSigned() const;
    bool isFloat() const;
    bool operator==(const PixelFormat& o) const {
        return component == o.component && components == o.components;
    }
    bool operator!=(const PixelFormat& o) const { return !(*this == o); }
};

/// "int16", "uint8", "float32", ...
std::string toString(ComponentType type);
/// "int16", or "rgb-uint8" for three components.
std::string toString(const PixelFormat& format);
std::string toString(Photometric photometric);

/// Calls `f(T{})` with the C++ type of `type` (a generic lambda), so that per-type loops are
/// written once.
template <typename F>
decltype(auto) dispatchComponent(ComponentType type, F&& f) {
    switch (type) {
    case ComponentType::UInt8:
        return f(std::uint8_t{});
    case ComponentType::Int8:
        return f(std::int8_t{});
    case ComponentType::UInt16:
        return f(std::uint16_t{});
    case ComponentType::Int16:
        return f(std::int16_t{});
    case ComponentType::UInt32:
        return f(std::uint32_t{});
    case ComponentType::Int32:
        return f(std::int32_t{});
    case ComponentType::Float32:
        return f(float{});
    case ComponentType::Float64:
        break;
    }
    return f(double{});
}

} // namespace radiolens
