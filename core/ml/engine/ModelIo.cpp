#include "core/ml/engine/ModelIo.h"

#include "core/domain/Sha256.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>

namespace radiolens::ml {

torch::Tensor inputTensor(const ImageSplit& images, std::size_t first, std::size_t count,
                          const InputSpec& input) {
    if (images.channels != std::size_t(input.channels)) {
        throw std::invalid_argument("the model takes " + std::to_string(input.channels) +
                                    "-channel images; these have " +
                                    std::to_string(images.channels));
    }
    const auto bytes = images.imageBytes();
    auto x = torch::from_blob(const_cast<std::uint8_t*>(images.pixels.data() + first * bytes),
                              {std::int64_t(count), std::int64_t(images.channels),
                               std::int64_t(images.height), std::int64_t(images.width)},
                              torch::kUInt8)
                 .to(torch::kFloat32)
                 .div_(255.0);
    if (images.height != std::size_t(input.size) || images.width != std::size_t(input.size)) {
        namespace F = torch::nn::functional;
        const bool shrinking = images.height > std::size_t(input.size);
        x = F::interpolate(x, F::InterpolateFuncOptions()
                                  .size(std::vector<std::int64_t>{input.size, input.size})
                                  .mode(torch::kBilinear)
                                  .align_corners(false)
                                  .antialias(shrinking));
    }
    return x.sub_(input.mean).div_(input.std);
}

std::shared_ptr<Network> networkFor(const ModelCard& card) {
    NetworkSpec spec;
    spec.architecture = card.architecture;
    spec.stem = card.stem.empty() ? stemFor(spec, card.input.size) : card.stem;
    spec.inputChannels = card.input.channels;
    spec.classes = int(card.classNames.size());
    spec.width = card.width;
    return makeNetwork(spec);
}

std::string saveWeights(const std::shared_ptr<Network>& network, const std::string& path) {
    const std::string temporary = path + ".tmp";
    torch::serialize::OutputArchive archive;
    network->save(archive);
    archive.save_to(temporary);
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        throw std::runtime_error(path + ": cannot be written");
    }
    return Sha256::ofFile(path);
}

namespace {

/// Empty when `archive` holds exactly the tensors and sub-modules of `module`, otherwise the
/// first difference ("layer3.1.conv2.weight is missing").
std::string compareWithArchive(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                               const std::string& prefix) {
    std::set<std::string> expected;
    for (const auto& p : module.named_parameters(false)) {
        expected.insert(p.key());
    }
    for (const auto& b : module.named_buffers(false)) {
        expected.insert(b.key());
    }
    // Children without tensors (activations wrapped in Functional) leave no trace in the file.
    const auto hasTensors = [](const torch::nn::Module& child) {
        return !child.parameters().empty() || !child.buffers().empty();
    };
    for (const auto& c : module.named_children()) {
        if (hasTensors(*c.value())) {
            expected.insert(c.key());
        }
    }
    for (const std::string& key : archive.keys()) {
        if (expected.erase(key) == 0) {
            return prefix + key + " is in the weights but not in the architecture";
        }
    }
    if (!expected.empty()) {
        return prefix + *expected.begin() + " is missing from the weights";
    }
    for (const auto& c : module.named_children()) {
        if (!hasTensors(*c.value())) {
            continue;
        }
        torch::serialize::InputArchive child;
        archive.read(c.key(), child);
        const std::string difference =
            compareWithArchive(*c.value(), child, prefix + c.key() + ".");
        if (!difference.empty()) {
            return difference;
        }
    }
    return {};
}

} // namespace

std::shared_ptr<Network> loadNetwork(const ModelCard& card, const std::string& dir) {
    const std::string path = dir + "/" + card.weightsFile;
    if (!std::filesystem::is_regular_file(path)) {
        throw std::runtime_error(path + ": the weights file is missing");
    }
    const std::string hash = Sha256::ofFile(path);
    if (hash != card.weightsSha256) {
        throw std::runtime_error(path + ": the weights do not match the model card (sha256 " +
                                 hash.substr(0, 12) + "..., the card says " +
                                 card.weightsSha256.substr(0, 12) +
                                 "...): changed, damaged or from another model");
    }
    std::shared_ptr<Network> network;
    try {
        network = networkFor(card);
    } catch (const std::exception& e) {
        throw std::runtime_error(dir + "/card.json: " + e.what());
    }
    try {
        torch::serialize::InputArchive archive;
        archive.load_from(path);
        std::string difference = compareWithArchive(*network, archive, "");
        // Module::load replaces a tensor of another shape without complaint: compare shapes.
        std::map<std::string, std::vector<std::int64_t>> shapes;
        for (const auto& p : network->named_parameters()) {
            shapes[p.key()] = p.value().sizes().vec();
        }
        if (difference.empty()) {
            network->load(archive);
            for (const auto& p : network->named_parameters()) {
                if (p.value().sizes().vec() != shapes[p.key()]) {
                    difference = p.key() + " has another shape";
                    break;
                }
            }
        }
        if (!difference.empty()) {
            throw std::runtime_error(path + ": the weights do not fit the card's " +
                                     card.architecture + " (" + difference + ")");
        }
    } catch (const c10::Error& e) {
        std::string why = e.what_without_backtrace();
        why = why.substr(0, why.find('\n'));
        throw std::runtime_error(path + ": the weights cannot be read as the card's " +
                                 card.architecture + " (" + why + ")");
    }
    network->eval();
    return network;
}

} // namespace radiolens::ml
