#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace radiolens {

/// Images of one split, 8-bit, channel-first: image i, channel c, row y, column x is at
/// ((i * channels + c) * height + y) * width + x.
struct ImageSplit {
    std::size_t count = 0;
    std::size_t channels = 1;
    std::size_t height = 0;
    std::size_t width = 0;
    std::vector<std::uint8_t> pixels;
    /// count x labelColumns: the class index (binary, multi-class) or 0/1 per class
    /// (multi-label).
    std::vector<int> labels;

    std::size_t imageBytes() const { return channels * height * width; }
};

/// A labelled image dataset with its training, validation and test splits kept apart.
struct ImageDataset {
    std::string source;                  ///< the file it came from
    std::string task = "binary";         ///< binary, multi-class, multi-label
    std::vector<std::string> classNames; ///< one per class
    std::size_t labelColumns = 1;        ///< > 1 only for multi-label
    ImageSplit train;
    ImageSplit validation;
    ImageSplit test;

    /// "train", "val"/"validation" or "test". Throws std::invalid_argument otherwise.
    const ImageSplit& split(const std::string& name) const;
};

/// Reads a MedMNIST `.npz` (train/val/test _images and _labels; grey N x H x W or colour
/// N x H x W x 3). The task follows from the labels: several columns are multi-label, two
/// classes binary, more multi-class. Class names are MedMNIST's for the datasets it knows by
/// file name (pneumoniamnist: normal, pneumonia), otherwise "class 0", "class 1", ... Throws
/// std::runtime_error naming the file and the array on anything inconsistent.
ImageDataset loadMedMnist(const std::string& path);

} // namespace radiolens
