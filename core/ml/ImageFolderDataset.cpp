#include "core/ml/ImageFolderDataset.h"

#include "core/domain/Csv.h"
#include "core/imaging/PlanarImageIo.h"
#include "core/ml/ModelInput.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

namespace radiolens {

ImageDataset loadImageFolder(const std::string& csvPath, int size) {
    std::ifstream in(csvPath);
    if (!in) {
        throw std::runtime_error(csvPath + ": cannot be read");
    }
    const std::filesystem::path folder = std::filesystem::path(csvPath).parent_path();
    std::string line;
    if (!std::getline(in, line)) {
        throw std::runtime_error(csvPath + ": empty (expected a header: file,label[,split])");
    }
    const std::vector<std::string> header = splitCsvLine(line);
    const auto column = [&header](const std::string& name) {
        const auto it = std::find(header.begin(), header.end(), name);
        return it == header.end() ? -1 : int(it - header.begin());
    };
    const int fileColumn = column("file");
    const int labelColumn = column("label");
    const int splitColumn = column("split");
    if (fileColumn < 0 || labelColumn < 0) {
        throw std::runtime_error(csvPath + ": line 1: the header needs 'file' and 'label' columns");
    }
    struct Row {
        std::string file, label, split;
        int line;
    };
    std::vector<Row> rows;
    for (int number = 2; std::getline(in, line); ++number) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        const std::vector<std::string> cells = splitCsvLine(line);
        const auto cell = [&cells](int c) {
            return c >= 0 && c < int(cells.size()) ? cells[std::size_t(c)] : std::string();
        };
        Row row{cell(fileColumn), cell(labelColumn), cell(splitColumn), number};
        if (row.file.empty() || row.label.empty()) {
            throw std::runtime_error(csvPath + ": line " + std::to_string(number) +
                                     ": no file or no label");
        }
        if (splitColumn >= 0 && row.split != "train" && row.split != "val" && row.split != "test") {
            throw std::runtime_error(csvPath + ": line " + std::to_string(number) + ": split '" +
                                     row.split + "' (train, val or test)");
        }
        if (splitColumn < 0) {
            const std::size_t bucket = std::hash<std::string>{}(row.file) % 10;
            row.split = bucket < 8 ? "train" : bucket == 8 ? "val" : "test";
        }
        rows.push_back(row);
    }
    if (rows.empty()) {
        throw std::runtime_error(csvPath + ": no images listed");
    }
    ImageDataset data;
    data.source = csvPath;
    std::map<std::string, int> classIndex;
    for (const Row& r : rows) {
        classIndex[r.label] = 0;
    }
    for (auto& [name, index] : classIndex) {
        index = int(data.classNames.size());
        data.classNames.push_back(name);
    }
    if (data.classNames.size() < 2) {
        throw std::runtime_error(csvPath + ": only one class ('" + data.classNames.front() +
                                 "'); a classifier needs at least two");
    }
    data.task = data.classNames.size() == 2 ? "binary" : "multi-class";
    std::vector<RenderedSlice> pictures;
    int channels = 1;
    bool sameSize = true;
    for (const Row& r : rows) {
        const std::string path = (folder / r.file).string();
        try {
            pictures.push_back(readPlanarImage(path));
        } catch (const std::exception& e) {
            throw std::runtime_error(csvPath + ": line " + std::to_string(r.line) + ": " +
                                     e.what());
        }
        channels = std::max(channels, pictures.back().channels);
        sameSize = sameSize && pictures.back().width == pictures.front().width &&
                   pictures.back().height == pictures.front().height &&
                   pictures.back().width == pictures.back().height;
    }
    if (size <= 0) {
        if (!sameSize) {
            throw std::runtime_error(csvPath + ": the pictures differ in size; give an image size");
        }
        size = pictures.front().width;
    }
    for (ImageSplit* split : {&data.train, &data.validation, &data.test}) {
        split->channels = std::size_t(channels);
        split->width = split->height = std::size_t(size);
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
        ImageSplit& split = rows[i].split == "train" ? data.train
                            : rows[i].split == "val" ? data.validation
                                                     : data.test;
        const std::vector<std::uint8_t> pixels =
            squarePixels(toImageSplit(pictures[i]), 0, size, channels);
        split.pixels.insert(split.pixels.end(), pixels.begin(), pixels.end());
        split.labels.push_back(classIndex[rows[i].label]);
        ++split.count;
    }
    return data;
}

ImageDataset loadImageDataset(const std::string& path, int size) {
    const auto endsWith = [&path](const std::string& suffix) {
        return path.size() >= suffix.size() &&
               path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (endsWith(".npz")) {
        return loadMedMnist(path);
    }
    if (endsWith(".csv")) {
        return loadImageFolder(path, size);
    }
    throw std::runtime_error(path + ": not a dataset Radiolens reads (a MedMNIST .npz file, or a "
                                    ".csv listing pictures)");
}

} // namespace radiolens
