#include "core/ml/MlEngine.h"

#include <stdexcept>

namespace radiolens {

const char* saliencyName(SaliencyMethod method) {
    switch (method) {
    case SaliencyMethod::GradCam:
        return "gradcam";
    case SaliencyMethod::IntegratedGradients:
        return "ig";
    case SaliencyMethod::Occlusion:
        return "occlusion";
    }
    return "?";
}

SaliencyMethod parseSaliencyMethod(const std::string& name) {
    for (SaliencyMethod m : {SaliencyMethod::GradCam, SaliencyMethod::IntegratedGradients,
                             SaliencyMethod::Occlusion}) {
        if (name == saliencyName(m)) {
            return m;
        }
    }
    throw std::invalid_argument("unknown saliency method '" + name + "' (gradcam, ig, occlusion)");
}

} // namespace radiolens
