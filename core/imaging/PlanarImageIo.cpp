#include "core/imaging/PlanarImageIo.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkPNGImageIO.h>
#include <itkRGBPixel.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace radiolens {

namespace {

using RgbImage = itk::Image<itk::RGBPixel<unsigned char>, 2>;
using GreyImage = itk::Image<unsigned char, 2>;

std::string lowerExtension(const std::string& path) {
    const std::size_t dot = path.find_last_of('.');
    const std::size_t slash = path.find_last_of('/');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) {
        return {};
    }
    std::string ext = path.substr(dot + 1);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return ext;
}

} // namespace

bool isPlanarImagePath(const std::string& path) {
    const std::string ext = lowerExtension(path);
    return ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "bmp";
}

RenderedSlice readPlanarImage(const std::string& path) {
    if (!isPlanarImagePath(path)) {
        throw std::runtime_error(path + ": not a PNG, JPEG or BMP file");
    }
    if (!std::filesystem::is_regular_file(path)) {
        throw std::runtime_error(path + ": no such file");
    }
    auto reader = itk::ImageFileReader<RgbImage>::New();
    reader->SetFileName(path);
    try {
        reader->Update();
    } catch (const itk::ExceptionObject& e) {
        std::string why = e.GetDescription();
        std::replace(why.begin(), why.end(), '\n', ' ');
        throw std::runtime_error(path + ": cannot be read as a picture (" + why + ")");
    }
    const RgbImage* image = reader->GetOutput();
    const auto size = image->GetLargestPossibleRegion().GetSize();
    RenderedSlice out;
    out.width = int(size[0]);
    out.height = int(size[1]);
    const auto* rgb = image->GetBufferPointer();
    const std::size_t n = std::size_t(out.width) * std::size_t(out.height);
    const bool grey = std::all_of(rgb, rgb + n, [](const itk::RGBPixel<unsigned char>& p) {
        return p[0] == p[1] && p[1] == p[2];
    });
    out.channels = grey ? 1 : 3;
    out.pixels.resize(n * std::size_t(out.channels));
    for (std::size_t i = 0; i < n; ++i) {
        for (int c = 0; c < out.channels; ++c) {
            out.pixels[i * std::size_t(out.channels) + std::size_t(c)] = rgb[i][unsigned(c)];
        }
    }
    return out;
}

void writePng(const RenderedSlice& image, const std::string& path) {
    const auto write = [&path](auto itkImage) {
        using ImageType = typename decltype(itkImage)::ObjectType;
        auto writer = itk::ImageFileWriter<ImageType>::New();
        writer->SetFileName(path);
        writer->SetImageIO(itk::PNGImageIO::New());
        writer->SetInput(itkImage);
        try {
            writer->Update();
        } catch (const itk::ExceptionObject& e) {
            throw std::runtime_error(path + ": cannot be written (" +
                                     std::string(e.GetDescription()) + ")");
        }
    };
    const auto fill = [&image](auto itkImage) {
        typename decltype(itkImage)::ObjectType::RegionType region;
        region.SetSize(0, std::size_t(image.width));
        region.SetSize(1, std::size_t(image.height));
        itkImage->SetRegions(region);
        itkImage->Allocate();
        std::memcpy(static_cast<void*>(itkImage->GetBufferPointer()), image.pixels.data(),
                    image.pixels.size());
    };
    if (image.channels == 3) {
        auto rgb = RgbImage::New();
        fill(rgb);
        write(rgb);
    } else if (image.channels == 1) {
        auto grey = GreyImage::New();
        fill(grey);
        write(grey);
    } else {
        throw std::runtime_error(path + ": only grey or RGB pictures are written");
    }
}

} // namespace radiolens
