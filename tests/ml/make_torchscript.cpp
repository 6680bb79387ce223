// Writes two small TorchScript classifiers, as PyTorch's torch.jit.save would, for the tests of
// TorchScript model packages (tests/cli/test_ml_cli.py). Both take 1 x S x S images and give 2
// logits; one returns the logits only, the other (logits, features) for Grad-CAM.
//   make_torchscript DIR  ->  DIR/logits-only.pt, DIR/with-features.pt

#include <torch/script.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>

namespace {

void write(const std::string& path, bool withFeatures) {
    torch::manual_seed(4);
    torch::jit::Module module("Classifier");
    module.register_parameter("w", torch::randn({4, 1, 3, 3}), false);
    module.register_parameter("b", torch::zeros({4}), false);
    module.register_parameter("fc", torch::randn({4, 2}), false);
    module.define(std::string(R"(
def forward(self, x):
    f = torch.relu(torch.conv2d(x, self.w, self.b, [1, 1], [1, 1]))
    logits = torch.matmul(torch.mean(f, [2, 3]), self.fc)
    return )") + (withFeatures ? "(logits, f)" : "logits") +
                  "\n");
    module.save(path);
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_torchscript DIR\n");
        return 2;
    }
    write(std::string(argv[1]) + "/logits-only.pt", false);
    write(std::string(argv[1]) + "/with-features.pt", true);
    return 0;
}
