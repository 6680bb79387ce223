#pragma once

// ITK view of a Volume, for code inside core/ that links ITK (imaging algorithms, writers,
// tests). Not for ui/ or app/: they see only the plain C++ Volume.

#include "core/imaging/Volume.h"

#include <itkImage.h>
#include <itkImportImageContainer.h>
#include <itkRGBPixel.h>

#include <stdexcept>

namespace radiolens {

/// Pixel container that borrows a Volume's buffer and keeps it alive, so an ITK image made from
/// a Volume shares its memory (no copy) and stays valid after the Volume is gone.
template <typename TElement>
class SharedBufferContainer : public itk::ImportImageContainer<itk::SizeValueType, TElement> {
public:
    using Self = SharedBufferContainer;
    using Superclass = itk::ImportImageContainer<itk::SizeValueType, TElement>;
    using Pointer = itk::SmartPointer<Self>;
    itkNewMacro(Self);

    void share(const std::shared_ptr<PixelBuffer>& buffer, itk::SizeValueType elements) {
        m_keepAlive = buffer;
        this->SetImportPointer(static_cast<TElement*>(buffer->data()), elements, false);
    }

private:
    std::shared_ptr<PixelBuffer> m_keepAlive;
};

/// The ITK image (LPS origin, spacing, direction) that shares `volume`'s pixels. `TPixel` must
/// match the volume's format: the component type for grey images, itk::RGBPixel<T> for colour.
/// Throws std::invalid_argument on a mismatch.
template <typename TPixel>
typename itk::Image<TPixel, 3>::Pointer toItkImage(const Volume& volume) {
    using ImageType = itk::Image<TPixel, 3>;
    const std::size_t components = volume.format().components;
    if (sizeof(TPixel) != volume.format().bytesPerPixel() ||
        (components == 3) != (itk::NumericTraits<TPixel>::GetLength() == 3)) {
        throw std::invalid_argument("toItkImage: pixel type does not match the volume (" +
                                    toString(volume.format()) + ")");
    }
    auto image = ImageType::New();
    typename ImageType::RegionType region;
    typename ImageType::SpacingType spacing;
    typename ImageType::PointType origin;
    typename ImageType::DirectionType direction;
    for (unsigned a = 0; a < 3; ++a) {
        region.SetSize(a, volume.size()[a]);
        spacing[a] = volume.spacing[int(a)];
        origin[a] = volume.origin[int(a)];
        for (unsigned r = 0; r < 3; ++r) {
            direction(r, a) = volume.direction.axis(int(a))[int(r)];
        }
    }
    image->SetRegions(region);
    image->SetSpacing(spacing);
    image->SetOrigin(origin);
    image->SetDirection(direction);
    auto container = SharedBufferContainer<TPixel>::New();
    container->share(volume.buffer(), volume.voxelCount());
    image->SetPixelContainer(container);
    return image;
}

/// Calls `f(image)` with the ITK image of `volume` in its own pixel type (a generic lambda).
template <typename F>
void withItkImage(const Volume& volume, F&& f) {
    dispatchComponent(volume.format().component, [&](auto tag) {
        using T = decltype(tag);
        if (volume.format().components == 3) {
            f(toItkImage<itk::RGBPixel<T>>(volume));
        } else {
            f(toItkImage<T>(volume));
        }
    });
}

} // namespace radiolens
