#pragma once

#include "core/ml/MlEngine.h"

#include <memory>
#include <string>

namespace radiolens {

/// Opens the ML plugin (libradiolens_ml.so, which links LibTorch) on first use.
///
/// A process that links LibTorch spends about 0.8 s and 170 MiB before main() (DESIGN.md
/// section 5), so nothing links it: viewer and DICOM commands never pay for it, and the GUI
/// opens the plugin in the background. Before opening it, OMP_WAIT_POLICY=passive and
/// OPENBLAS_NUM_THREADS=1 are set unless the user set them (libgomp and OpenBLAS read them
/// when they load, which is now, not at process start).
///
/// Thread-safe: concurrent first calls load once.
class MlRuntime {
public:
    /// The engine, loading the plugin if needed. Throws std::runtime_error with the plugin path
    /// and the loader's reason when it cannot be loaded.
    static MlEngine& engine();
    /// A further engine of the plugin with its own `config`, owned by the caller; the plugin
    /// is opened if needed, without touching the environment (engine() sets it first). For
    /// comparisons, as the inference benchmark's baseline and the inference-plan tests do.
    /// Throws std::runtime_error as engine() does.
    static std::unique_ptr<MlEngine> createEngine(const MlEngineConfig& config);
    /// True once the plugin is loaded and the engine created.
    static bool isLoaded();
    /// Where the plugin is looked for: $RADIOLENS_ML_PLUGIN, else next to the executable's
    /// ../lib folder, else the executable's own folder.
    static std::string pluginPath();
};

} // namespace radiolens
