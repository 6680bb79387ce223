#include "core/ml/ImageFolderDataset.h"

#include "core/imaging/PlanarImageIo.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

namespace radiolens {

namespace {

std::vector<std::string> splitCsvLine(const std::string& line) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                cell += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                cell += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            cells.push_back(cell);
            cell.clear();
        } else if (c != '\r') {
            cell += c;
        }
    }
    cells.push_back(cell);
    for (std::string& s : cells) {
        const auto first = s.find_first_not_of(" \t");
        const auto last = s.find_last_not_of(" \t");
        s = first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
    }
    return cells;
}

/// `picture` resized to size x size with `channels` channels, channel-first.
std::vector<std::uint8_t> resized(const RenderedSlice& picture, int size, int channels) {
    const int w = picture.width, h = picture.height;
    std::vector<std::uint8_t> out(std::size_t(channels) * std::size_t(size) * std::size_t(size));
    const double sx = double(w) / size, sy = double(h) / size;
    for (int c = 0; c < channels; ++c) {
        const int from = std::min(c, picture.channels - 1);
        for (int y = 0; y < size; ++y) {
            for (int x = 0; x < size; ++x) {
                double value = 0.0;
                if (sx > 1.0 || sy > 1.0) {
                    // Shrinking: the mean of the source pixels the output pixel covers.
                    const int x0 = int(x * sx), x1 = std::max(x0 + 1, int((x + 1) * sx));
                    const int y0 = int(y * sy), y1 = std::max(y0 + 1, int((y + 1) * sy));
                    double sum = 0.0;
                    int n = 0;
                    for (int yy = y0; yy < std::min(y1, h); ++yy) {
                        for (int xx = x0; xx < std::min(x1, w); ++xx) {
                            sum +=
                                picture
                                    .pixels[(std::size_t(yy) * std::size_t(w) + std::size_t(xx)) *
                                                std::size_t(picture.channels) +
                                            std::size_t(from)];
                            ++n;
                        }
                    }
                    value = n ? sum / n : 0.0;
                } else {
                    // Enlarging: bilinear.
                    const double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, double(w - 1));
                    const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, double(h - 1));
                    const int x0 = int(fx), y0 = int(fy);
                    const int x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
                    const double ax = fx - x0, ay = fy - y0;
                    const auto at = [&](int xx, int yy) {
                        return double(
                            picture.pixels[(std::size_t(yy) * std::size_t(w) + std::size_t(xx)) *
                                               std::size_t(picture.channels) +
                                           std::size_t(from)]);
                    };
                    value = (1 - ay) * ((1 - ax) * at(x0, y0) + ax * at(x1, y0)) +
                            ay * ((1 - ax) * at(x0, y1) + ax * at(x1, y1));
                }
                out[(std::size_t(c) * std::size_t(size) + std::size_t(y)) * std::size_t(size) +
                    std::size_t(x)] = std::uint8_t(std::lround(std::clamp(value, 0.0, 255.0)));
            }
        }
    }
    return out;
}

} // namespace

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
        const std::vector<std::uint8_t> pixels = resized(pictures[i], size, channels);
        split.pixels.insert(split.pixels.end(), pixels.begin(), pixels.end());
        split.labels.push_back(classIndex[rows[i].label]);
        ++split.count;
    }
    return data;
}

} // namespace radiolens
