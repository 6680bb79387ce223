#include "core/imaging/VolumeWriter.h"

#include "core/imaging/ItkVolume.h"

#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkImageIOBase.h>
#include <itkImageIOFactory.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace fs = std::filesystem;

namespace radiolens {

namespace {

bool endsWith(const std::string& text, const std::string& suffix) {
    if (text.size() < suffix.size()) {
        return false;
    }
    return std::equal(suffix.rbegin(), suffix.rend(), text.rbegin(),
                      [](char a, char b) { return std::tolower(a) == std::tolower(b); });
}

bool componentFromItk(itk::IOComponentEnum type, ComponentType& out) {
    switch (type) {
    case itk::IOComponentEnum::UCHAR:
        out = ComponentType::UInt8;
        return true;
    case itk::IOComponentEnum::CHAR:
        out = ComponentType::Int8;
        return true;
    case itk::IOComponentEnum::USHORT:
        out = ComponentType::UInt16;
        return true;
    case itk::IOComponentEnum::SHORT:
        out = ComponentType::Int16;
        return true;
    case itk::IOComponentEnum::UINT:
        out = ComponentType::UInt32;
        return true;
    case itk::IOComponentEnum::INT:
        out = ComponentType::Int32;
        return true;
    case itk::IOComponentEnum::FLOAT:
        out = ComponentType::Float32;
        return true;
    case itk::IOComponentEnum::DOUBLE:
        out = ComponentType::Float64;
        return true;
    default:
        return false;
    }
}

template <typename TPixel>
std::shared_ptr<Volume> readAs(const std::string& path, PixelFormat format) {
    using ImageType = itk::Image<TPixel, 3>;
    auto reader = itk::ImageFileReader<ImageType>::New();
    reader->SetFileName(path);
    reader->Update();
    typename ImageType::Pointer image = reader->GetOutput();
    const auto region = image->GetLargestPossibleRegion();
    std::array<std::size_t, 3> size{region.GetSize(0), region.GetSize(1), region.GetSize(2)};
    auto volume = std::make_shared<Volume>(format, size);
    std::memcpy(volume->data(), image->GetBufferPointer(), volume->byteSize());
    for (int a = 0; a < 3; ++a) {
        volume->spacing[a] = image->GetSpacing()[a];
        volume->origin[a] = image->GetOrigin()[a];
    }
    Vec3* axes[3] = {&volume->direction.i, &volume->direction.j, &volume->direction.k};
    for (int a = 0; a < 3; ++a) {
        for (int r = 0; r < 3; ++r) {
            (*axes[a])[r] = image->GetDirection()(r, a);
        }
    }
    volume->statistics = computeStatistics(*volume);
    return volume;
}

} // namespace

bool isWritableVolumePath(const std::string& path) {
    for (const char* ext : {".mha", ".mhd", ".nrrd", ".nhdr", ".nii", ".nii.gz"}) {
        if (endsWith(path, ext)) {
            return true;
        }
    }
    return false;
}

namespace {

/// ITK's messages span several lines; a reason is one.
std::string oneLine(std::string text) {
    for (char& c : text) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    while (!text.empty() && text.back() == ' ') {
        text.pop_back();
    }
    return text;
}

} // namespace

void writeVolume(const Volume& volume, const std::string& path) {
    if (!isWritableVolumePath(path)) {
        throw std::runtime_error(path + ": unknown output format (use .mha, .nrrd or .nii.gz)");
    }
    if ((endsWith(path, ".nii") || endsWith(path, ".nii.gz")) && volume.format().components == 3 &&
        volume.format().component != ComponentType::UInt8) {
        throw std::runtime_error(path +
                                 ": NIfTI stores colour only as 8-bit RGB; use .mha or .nrrd");
    }
    const fs::path target = fs::absolute(fs::path(path));
    std::error_code error;
    if (!fs::is_directory(target.parent_path(), error)) {
        throw std::runtime_error(path + ": the folder " + target.parent_path().string() +
                                 " does not exist");
    }
    if (access(target.parent_path().c_str(), W_OK) != 0) {
        throw std::runtime_error(path + ": the folder is not writable");
    }
    // Single-file formats are written under a temporary name and renamed into place, so a
    // failed or interrupted write never leaves a file that looks complete. (.mhd/.nhdr name
    // their data file inside the header, so they are written in place.)
    const bool singleFile = !endsWith(path, ".mhd") && !endsWith(path, ".nhdr");
    const std::string name = target.filename().string();
    const fs::path written =
        singleFile ? target.parent_path() / (".partial-" + std::to_string(getpid()) + "-" + name)
                   : target;
    try {
        withItkImage(volume, [&](auto image) {
            using ImageType = typename decltype(image)::ObjectType;
            auto writer = itk::ImageFileWriter<ImageType>::New();
            writer->SetFileName(written.string());
            writer->SetInput(image);
            writer->SetUseCompression(endsWith(path, ".gz"));
            writer->Update();
        });
    } catch (const itk::ExceptionObject& e) {
        fs::remove(written, error);
        throw std::runtime_error(path + ": " + oneLine(e.GetDescription()));
    }
    // Some ITK writers (NIfTI) report failure only on stderr: check what is on disk.
    const std::uintmax_t size = fs::file_size(written, error);
    const bool compressed = endsWith(path, ".gz");
    if (error || size == 0 || (!compressed && singleFile && size < volume.byteSize())) {
        fs::remove(written, error);
        throw std::runtime_error(path + ": the file could not be written completely");
    }
    if (singleFile) {
        fs::rename(written, target, error);
        if (error) {
            fs::remove(written, error);
            throw std::runtime_error(path + ": " + error.message());
        }
    }
}

std::shared_ptr<Volume> readVolume(const std::string& path) {
    try {
        auto io = itk::ImageIOFactory::CreateImageIO(path.c_str(), itk::IOFileModeEnum::ReadMode);
        if (!io) {
            throw std::runtime_error(path + ": not an image file ITK can read");
        }
        io->SetFileName(path);
        io->ReadImageInformation();
        PixelFormat format;
        if (!componentFromItk(io->GetComponentType(), format.component)) {
            throw std::runtime_error(path + ": unsupported pixel component type");
        }
        format.components = int(io->GetNumberOfComponents());
        if (format.components != 1 && format.components != 3) {
            throw std::runtime_error(path + ": only grey or RGB images are supported");
        }
        std::shared_ptr<Volume> out;
        dispatchComponent(format.component, [&](auto tag) {
            using T = decltype(tag);
            out = format.components == 3 ? readAs<itk::RGBPixel<T>>(path, format)
                                         : readAs<T>(path, format);
        });
        return out;
    } catch (const itk::ExceptionObject& e) {
        throw std::runtime_error(path + ": " + oneLine(e.GetDescription()));
    }
}

} // namespace radiolens
