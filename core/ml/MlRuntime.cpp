#include "core/ml/MlRuntime.h"

#include "core/domain/Paths.h"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace radiolens {

namespace {

constexpr const char* kPluginName = "libradiolens_ml.so";

std::mutex g_mutex;
std::unique_ptr<MlEngine> g_engine;
std::atomic<bool> g_loaded{false};

} // namespace

std::string MlRuntime::pluginPath() {
    return findPlugin(kPluginName, "RADIOLENS_ML_PLUGIN");
}

bool MlRuntime::isLoaded() {
    return g_loaded.load(std::memory_order_acquire);
}

std::unique_ptr<MlEngine> MlRuntime::createEngine(const MlEngineConfig& config) {
    const std::string path = pluginPath();
    // The handle is kept for the life of the process: LibTorch does not support unloading.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* reason = dlerror();
        throw std::runtime_error("cannot load the ML plugin " + path + ": " +
                                 (reason ? reason : "unknown reason"));
    }
    using Create = MlEngine* (*)(const MlEngineConfig*, char*, int);
    auto create = reinterpret_cast<Create>(dlsym(handle, "radiolens_create_ml_engine"));
    if (create == nullptr) {
        throw std::runtime_error(path + " is not a Radiolens ML plugin (no entry point)");
    }
    char error[512] = {0};
    MlEngine* engine = create(&config, error, int(sizeof error));
    if (engine == nullptr) {
        throw std::runtime_error(std::string("the ML engine did not start: ") + error);
    }
    return std::unique_ptr<MlEngine>(engine);
}

MlEngine& MlRuntime::engine() {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_engine) {
        return *g_engine;
    }
    // Read by libgomp and OpenBLAS when they are loaded, i.e. by the dlopen in createEngine.
    setenv("OMP_WAIT_POLICY", "passive", 0);
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    MlEngineConfig config;
    config.threads = int(std::max(1u, std::thread::hardware_concurrency()));
    g_engine = createEngine(config);
    g_loaded.store(true, std::memory_order_release);
    return *g_engine;
}

} // namespace radiolens
