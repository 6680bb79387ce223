#include "core/ml/ImageDataset.h"

#include "core/ml/NpyArchive.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>

namespace radiolens {

const ImageSplit& ImageDataset::split(const std::string& name) const {
    if (name == "train") {
        return train;
    }
    if (name == "val" || name == "validation") {
        return validation;
    }
    if (name == "test") {
        return test;
    }
    throw std::invalid_argument("unknown split '" + name + "' (train, val or test)");
}

namespace {

/// Classes a dataset may have: labels are class indices below this.
constexpr int kMaxClasses = 10000;

std::string baseName(const std::string& path) {
    const std::size_t slash = path.find_last_of('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    const std::size_t dot = name.find('.');
    return dot == std::string::npos ? name : name.substr(0, dot);
}

ImageSplit splitFrom(std::map<std::string, NpyArray>& arrays, const std::string& path,
                     const std::string& prefix, std::size_t& labelColumns) {
    const auto images = arrays.find(prefix + "_images");
    const auto labels = arrays.find(prefix + "_labels");
    if (images == arrays.end() || labels == arrays.end()) {
        throw std::runtime_error(path + ": no " + prefix + "_images / " + prefix +
                                 "_labels arrays (is this a MedMNIST file?)");
    }
    const NpyArray& im = images->second;
    const NpyArray& lb = labels->second;
    if (im.dtype != "u1" || (im.shape.size() != 3 && im.shape.size() != 4)) {
        throw std::runtime_error(path + ": " + prefix +
                                 "_images must be 8-bit N x H x W or N x H x W x C");
    }
    ImageSplit split;
    split.count = im.shape[0];
    split.height = im.shape[1];
    split.width = im.shape[2];
    split.channels = im.shape.size() == 4 ? im.shape[3] : 1;
    if (split.channels != 1 && split.channels != 3) {
        throw std::runtime_error(path + ": " + prefix + "_images has " +
                                 std::to_string(split.channels) + " channels (1 or 3)");
    }
    if (lb.shape.empty() || lb.shape[0] != split.count) {
        throw std::runtime_error(path + ": " + prefix + "_labels does not have one row per image");
    }
    const std::size_t columns = lb.shape.size() > 1 ? lb.shape[1] : 1;
    if (labelColumns != 0 && columns != labelColumns) {
        throw std::runtime_error(path + ": " + prefix + "_labels has " + std::to_string(columns) +
                                 " columns, the other splits " + std::to_string(labelColumns));
    }
    labelColumns = columns;
    // Channel-last to channel-first.
    split.pixels.resize(im.bytes.size());
    const std::size_t plane = split.height * split.width;
    for (std::size_t i = 0; i < split.count; ++i) {
        const std::uint8_t* src = im.bytes.data() + i * plane * split.channels;
        std::uint8_t* dst = split.pixels.data() + i * plane * split.channels;
        for (std::size_t p = 0; p < plane; ++p) {
            for (std::size_t c = 0; c < split.channels; ++c) {
                dst[c * plane + p] = src[p * split.channels + c];
            }
        }
    }
    split.labels.resize(lb.count());
    for (std::size_t i = 0; i < lb.count(); ++i) {
        // Checked before the conversion to int (undefined for inf or 1e300), and bounded: each
        // class up to the largest label gets a name.
        const double label = lb.at(i);
        if (!(label == std::floor(label) && label > -1e9 && label < kMaxClasses)) {
            char text[32];
            std::snprintf(text, sizeof text, "%g", label);
            throw std::runtime_error(path + ": " + prefix + "_labels holds " + text +
                                     " (class labels are whole numbers below " +
                                     std::to_string(kMaxClasses) + ")");
        }
        split.labels[i] = int(label);
    }
    return split;
}

} // namespace

ImageDataset loadMedMnist(const std::string& path) {
    std::map<std::string, NpyArray> arrays = readNpz(path);
    ImageDataset data;
    data.source = path;
    std::size_t columns = 0;
    data.train = splitFrom(arrays, path, "train", columns);
    data.validation = splitFrom(arrays, path, "val", columns);
    data.test = splitFrom(arrays, path, "test", columns);
    data.labelColumns = columns;
    for (const ImageSplit* s : {&data.validation, &data.test}) {
        if (s->height != data.train.height || s->width != data.train.width ||
            s->channels != data.train.channels) {
            throw std::runtime_error(path + ": the splits have different image sizes");
        }
    }
    int maxLabel = 0;
    for (const ImageSplit* s : {&data.train, &data.validation, &data.test}) {
        for (int label : s->labels) {
            if (label < 0) {
                throw std::runtime_error(path + ": negative label " + std::to_string(label));
            }
            maxLabel = std::max(maxLabel, label);
        }
    }
    std::size_t classes = columns > 1 ? columns : std::size_t(maxLabel) + 1;
    if (columns > 1) {
        data.task = "multi-label";
    } else {
        classes = std::max<std::size_t>(classes, 2);
        data.task = classes == 2 ? "binary" : "multi-class";
    }
    if (baseName(path) == "pneumoniamnist" && classes == 2) {
        data.classNames = {"normal", "pneumonia"};
    } else {
        for (std::size_t k = 0; k < classes; ++k) {
            data.classNames.push_back("class " + std::to_string(k));
        }
    }
    return data;
}

} // namespace radiolens
