#pragma once

#include <string>

namespace radiolens {

/// Settings the ML engine takes when it is created.
struct MlEngineConfig {
    int threads = 0; ///< intra-op threads; 0 uses every core
};

/// The machine-learning engine (LibTorch, CPU), as the rest of Radiolens sees it: plain C++,
/// implemented inside the separately loaded plugin (MlRuntime). Later issues add inference,
/// saliency and training here.
///
/// Thread-safety: methods may be called from any thread, one call at a time.
class MlEngine {
public:
    virtual ~MlEngine() = default;
    /// "LibTorch 1.13.1 (CPU)"
    virtual std::string backendName() const = 0;
    /// Intra-op threads the engine uses.
    virtual int threads() const = 0;
    /// LibTorch's build configuration (BLAS, OpenMP, CPU capabilities).
    virtual std::string buildConfiguration() const = 0;
    /// Multiplies two n x n float32 matrices `repeats` times and returns the speed in GFLOP/s:
    /// a check that a fast BLAS is in use (DESIGN.md section 5: about 2.4 GFLOP/s per core with
    /// OpenBLAS against 48x slower reference BLAS).
    virtual double matmulGflops(int n, int repeats) = 0;
};

} // namespace radiolens

/// Entry point of the plugin: creates the engine (the caller owns it). Returns nullptr and
/// writes a reason into `error` (at most `errorSize` bytes) when LibTorch cannot start.
extern "C" __attribute__((visibility("default"))) radiolens::MlEngine*
radiolens_create_ml_engine(const radiolens::MlEngineConfig* config, char* error, int errorSize);
