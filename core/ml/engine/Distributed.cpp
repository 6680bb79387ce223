// The LibTorch side of DistributedGroup: c10d's TCPStore (rank 0 serves it) for the rendezvous
// and ProcessGroupGloo for the collectives, on CPU tensors that wrap the caller's memory.

#include "core/ml/engine/Distributed.h"

#include <torch/torch.h>

#ifdef RADIOLENS_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

namespace radiolens::ml {

namespace {

/// The first line of a LibTorch or Gloo error, without its C++ backtrace.
std::string firstLine(const std::exception& e) {
    const auto* c10Error = dynamic_cast<const c10::Error*>(&e);
    std::string text = c10Error != nullptr ? c10Error->what_without_backtrace() : e.what();
    text = text.substr(0, text.find('\n'));
    // Gloo prefixes its messages with the source position: "[../gloo/.../pair.cc:589] ".
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find("] ");
        if (close != std::string::npos) {
            text = text.substr(close + 2);
        }
    }
    return text;
}

std::string secondsText(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%g s", seconds);
    return text;
}

std::string hostName() {
    char name[256] = {0};
    if (gethostname(name, sizeof name - 1) != 0) {
        return "localhost";
    }
    return name;
}

bool isLoopback(const std::string& address) {
    return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1" ||
           address == "[::1]";
}

} // namespace

int hardwareThreads() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
        return CPU_COUNT(&set);
    }
    return int(std::max(1u, std::thread::hardware_concurrency()));
}

ScopedThreads::ScopedThreads(int threads)
    : m_previous(torch::get_num_threads()) {
    if (threads > 0) {
        torch::set_num_threads(threads);
    }
}

ScopedThreads::~ScopedThreads() {
    if (torch::get_num_threads() != m_previous) {
        torch::set_num_threads(m_previous);
    }
}

#ifdef RADIOLENS_HAVE_GLOO

bool distributedTrainingAvailable() {
    return true;
}

struct DistributedGroup::Impl {
    DistributedSettings settings;
    c10::intrusive_ptr<c10d::TCPStore> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
    int localProcesses = 1;

    std::string who() const {
        return "rank " + std::to_string(settings.rank) + " of " +
               std::to_string(settings.worldSize);
    }
    std::string master() const {
        return settings.masterAddress + ":" + std::to_string(settings.masterPort);
    }

    /// Runs one collective to its end; a failure becomes a one-line reason naming the master.
    template <typename Start>
    void run(Start&& start) {
        try {
            const c10::intrusive_ptr<c10d::Work> work = start();
            work->wait();
        } catch (const std::exception& e) {
            throw std::runtime_error("distributed training (" + who() + ", master " + master() +
                                     ", timeout " + secondsText(settings.timeoutSeconds) +
                                     "): lost the other processes of the run: " + firstLine(e));
        }
    }
};

DistributedGroup::DistributedGroup(const DistributedSettings& settings)
    : m(std::make_unique<Impl>()) {
    m->settings = settings;
    const DistributedSettings& s = m->settings;
    if (s.worldSize < 1 || s.rank < 0 || s.rank >= s.worldSize) {
        throw std::invalid_argument("distributed training: rank " + std::to_string(s.rank) +
                                    " is not one of the " + std::to_string(s.worldSize) +
                                    " processes");
    }
    if (s.masterAddress.empty() || s.masterPort < 1 || s.masterPort > 65535) {
        throw std::invalid_argument("distributed training needs the master's address and port");
    }
    if (!(s.timeoutSeconds > 0.0)) {
        throw std::invalid_argument("distributed training needs a timeout above 0 s");
    }
    const auto timeout = std::chrono::milliseconds(std::llround(s.timeoutSeconds * 1000.0));
    const std::string timeoutText = secondsText(s.timeoutSeconds);

    // 1. The store: rank 0 serves it; the others connect, retrying until the timeout.
    c10d::TCPStoreOptions storeOptions;
    storeOptions.port = std::uint16_t(s.masterPort);
    storeOptions.isServer = s.rank == 0;
    storeOptions.numWorkers = std::size_t(s.worldSize);
    storeOptions.waitWorkers = false; // waited for below, with a message that says who is missing
    storeOptions.timeout = timeout;
    try {
        m->store = c10::make_intrusive<c10d::TCPStore>(s.masterAddress, storeOptions);
    } catch (const std::exception& e) {
        if (s.rank == 0) {
            throw std::runtime_error("distributed training (" + m->who() +
                                     "): cannot serve as the master at " + m->master() + ": " +
                                     firstLine(e));
        }
        throw std::runtime_error("distributed training (" + m->who() + "): no master answered at " +
                                 m->master() + " within " + timeoutText +
                                 " (is rank 0 running, listening there?): " + firstLine(e));
    }

    // 2. Every rank says it is there (and on which machine), then waits for the others.
    const std::string prefix = "radiolens/host/";
    const std::string host = hostName();
    std::vector<std::string> keys;
    for (int r = 0; r < s.worldSize; ++r) {
        keys.push_back(prefix + std::to_string(r));
    }
    try {
        m->store->set(keys[std::size_t(s.rank)],
                      std::vector<std::uint8_t>(host.begin(), host.end()));
        m->store->wait(keys, timeout);
    } catch (const std::exception& e) {
        std::string missing;
        try {
            for (int r = 0; r < s.worldSize; ++r) {
                if (!m->store->check({keys[std::size_t(r)]})) {
                    missing += (missing.empty() ? "" : ", ") + std::to_string(r);
                }
            }
        } catch (const std::exception&) {
            missing.clear(); // the master itself is gone
        }
        throw std::runtime_error(
            "distributed training (" + m->who() + ", master " + m->master() + "): " +
            (missing.empty() ? "lost the master: " + firstLine(e)
                             : "rank(s) " + missing + " did not come within " + timeoutText));
    }
    int local = 0;
    for (const std::string& key : keys) {
        const std::vector<std::uint8_t> value = m->store->get(key);
        local += std::string(value.begin(), value.end()) == host ? 1 : 0;
    }
    m->localProcesses = std::max(1, local);

    // 3. The Gloo connections between every pair of ranks.
    try {
        auto options = c10d::ProcessGroupGloo::Options::create(timeout);
        options->threads = 1; // one collective at a time
        if (const char* name = std::getenv("GLOO_SOCKET_IFNAME"); name != nullptr && *name) {
            options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
        } else if (isLoopback(s.masterAddress)) {
            options->devices.push_back(
                c10d::ProcessGroupGloo::createDeviceForHostname(s.masterAddress));
        } else {
            options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
        }
        m->group =
            c10::make_intrusive<c10d::ProcessGroupGloo>(m->store, s.rank, s.worldSize, options);
    } catch (const std::exception& e) {
        throw std::runtime_error("distributed training (" + m->who() + ", master " + m->master() +
                                 ", timeout " + timeoutText +
                                 "): cannot connect to the other processes: " + firstLine(e));
    }
}

DistributedGroup::~DistributedGroup() = default;

int DistributedGroup::rank() const {
    return m->settings.rank;
}

int DistributedGroup::size() const {
    return m->settings.worldSize;
}

int DistributedGroup::localProcesses() const {
    return m->localProcesses;
}

std::string DistributedGroup::description() const {
    return m->master() + " (timeout " + secondsText(m->settings.timeoutSeconds) + ")";
}

void DistributedGroup::allreduceSum(float* values, std::size_t count) {
    if (count == 0) {
        return;
    }
    std::vector<at::Tensor> tensors{
        torch::from_blob(values, {std::int64_t(count)}, torch::kFloat32)};
    m->run([&] { return m->group->allreduce(tensors); });
}

void DistributedGroup::allreduceSum(double* values, std::size_t count) {
    if (count == 0) {
        return;
    }
    std::vector<at::Tensor> tensors{
        torch::from_blob(values, {std::int64_t(count)}, torch::kFloat64)};
    m->run([&] { return m->group->allreduce(tensors); });
}

void DistributedGroup::broadcast(float* values, std::size_t count, int root) {
    if (count == 0) {
        return;
    }
    std::vector<at::Tensor> tensors{
        torch::from_blob(values, {std::int64_t(count)}, torch::kFloat32)};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    m->run([&] { return m->group->broadcast(tensors, options); });
}

void DistributedGroup::broadcast(std::string& bytes, int root) {
    std::int64_t length = std::int64_t(bytes.size());
    std::vector<at::Tensor> lengths{torch::from_blob(&length, {1}, torch::kInt64)};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    m->run([&] { return m->group->broadcast(lengths, options); });
    bytes.resize(std::size_t(length));
    if (length == 0) {
        return;
    }
    std::vector<at::Tensor> data{torch::from_blob(bytes.data(), {length}, torch::kUInt8)};
    m->run([&] { return m->group->broadcast(data, options); });
}

#else // no Gloo headers at build time

bool distributedTrainingAvailable() {
    return false;
}

struct DistributedGroup::Impl {};

DistributedGroup::DistributedGroup(const DistributedSettings&) {
    throw std::runtime_error("this build of Radiolens has no distributed training: LibTorch's "
                             "Gloo headers (Debian package libgloo-dev) were missing when the ML "
                             "plugin was built; install them and rebuild");
}

DistributedGroup::~DistributedGroup() = default;
int DistributedGroup::rank() const {
    return 0;
}
int DistributedGroup::size() const {
    return 1;
}
int DistributedGroup::localProcesses() const {
    return 1;
}
std::string DistributedGroup::description() const {
    return {};
}
void DistributedGroup::allreduceSum(float*, std::size_t) {}
void DistributedGroup::allreduceSum(double*, std::size_t) {}
void DistributedGroup::broadcast(float*, std::size_t, int) {}
void DistributedGroup::broadcast(std::string&, int) {}

#endif

} // namespace radiolens::ml
