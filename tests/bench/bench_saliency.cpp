// Is saliency informative? On a dataset split, the deletion and insertion AUC of each method's
// map for the predicted class, against uniformly random maps, averaged over the images (a lower
// deletion AUC and a higher insertion AUC than random mean the map ranks pixels by evidence).
//   bench_saliency MODEL_DIR DATASET.npz [--split test] [--images N] [--methods
//   gradcam,ig,occlusion]
// Prints a table and one JSON line.

#include "core/ml/ImageDataset.h"
#include "core/ml/MlEngine.h"
#include "core/ml/MlRuntime.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace radiolens;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_saliency MODEL_DIR DATASET.npz [--split S] [--images N] "
                             "[--methods gradcam,ig,occlusion]\n");
        return 2;
    }
    std::string split = "test";
    std::size_t limit = 0;
    std::string methodList = "gradcam";
    for (int i = 3; i + 1 < argc; i += 2) {
        const std::string option = argv[i];
        if (option == "--split") {
            split = argv[i + 1];
        } else if (option == "--images") {
            limit = std::size_t(std::atol(argv[i + 1]));
        } else if (option == "--methods") {
            methodList = argv[i + 1];
        }
    }
    try {
        const ImageDataset data = loadMedMnist(argv[2]);
        const ImageSplit& images = data.split(split);
        auto model = MlRuntime::engine().loadClassifier(argv[1]);
        const std::size_t n = limit > 0 ? std::min(limit, images.count) : images.count;
        std::vector<SaliencyMethod> methods;
        std::stringstream list(methodList);
        for (std::string name; std::getline(list, name, ',');) {
            methods.push_back(parseSaliencyMethod(name));
        }
        const std::size_t classes = model->card().classNames.size();
        const std::vector<double> p = model->predict(images);
        std::mt19937 random(5);
        std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
        std::vector<double> deletion(methods.size() + 1, 0.0), insertion(methods.size() + 1, 0.0);
        for (std::size_t i = 0; i < n; ++i) {
            const double* row = &p[i * classes];
            const int predicted = int(std::max_element(row, row + classes) - row);
            for (std::size_t m = 0; m <= methods.size(); ++m) {
                SaliencyMap map;
                if (m < methods.size()) {
                    map = model->saliency(images, i, predicted, methods[m]);
                } else {
                    map.classIndex = predicted;
                    map.width = images.width;
                    map.height = images.height;
                    map.values.resize(map.width * map.height);
                    for (float& v : map.values) {
                        v = uniform(random);
                    }
                }
                const Faithfulness f = model->faithfulness(images, i, map, 32);
                deletion[m] += f.deletionAuc / double(n);
                insertion[m] += f.insertionAuc / double(n);
            }
        }
        std::printf("%zu %s images of %s, map of the predicted class\n", n, split.c_str(), argv[2]);
        std::printf("%-24s %14s %14s\n", "map", "deletion AUC", "insertion AUC");
        std::string json = "{\"bench\":\"saliency\",\"images\":" + std::to_string(n);
        for (std::size_t m = 0; m <= methods.size(); ++m) {
            const std::string name = m < methods.size() ? saliencyName(methods[m]) : "random";
            std::printf("%-24s %14.4f %14.4f\n", name.c_str(), deletion[m], insertion[m]);
            char part[160];
            std::snprintf(part, sizeof part, ",\"%s\":{\"deletionAuc\":%.5f,\"insertionAuc\":%.5f}",
                          name.c_str(), deletion[m], insertion[m]);
            json += part;
        }
        std::printf("%s}\n", json.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_saliency: %s\n", e.what());
        return 1;
    }
}
