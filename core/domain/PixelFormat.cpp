#include "core/domain/PixelFormat.h"

namespace radiolens {

std::size_t PixelFormat::componentBytes() const {
    return dispatchComponent(component, [](auto v) { return sizeof(v); });
}

bool PixelFormat::isSigned() const {
    return component == ComponentType::Int8 || component == ComponentType::Int16 ||
           component == ComponentType::Int32 || isFloat();
}

bool PixelFormat::isFloat() const {
    return component == ComponentType::Float32 || component == ComponentType::Float64;
}

std::string toString(ComponentType type) {
    switch (type) {
    case ComponentType::UInt8:
        return "uint8";
    case ComponentType::Int8:
        return "int8";
    case ComponentType::UInt16:
        return "uint16";
    case ComponentType::Int16:
        return "int16";
    case ComponentType::UInt32:
        return "uint32";
    case ComponentType::Int32:
        return "int32";
    case ComponentType::Float32:
        return "float32";
    case ComponentType::Float64:
        return "float64";
    }
    return "unknown";
}

std::string toString(const PixelFormat& format) {
    return format.components == 1 ? toString(format.component)
                                  : "rgb-" + toString(format.component);
}

std::string toString(Photometric photometric) {
    switch (photometric) {
    case Photometric::Monochrome1:
        return "MONOCHROME1";
    case Photometric::Monochrome2:
        return "MONOCHROME2";
    case Photometric::Rgb:
        return "RGB";
    }
    return "unknown";
}

} // namespace radiolens
