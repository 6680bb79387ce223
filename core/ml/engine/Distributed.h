#pragma once
// Plugin-internal (core/ml/engine), plain C++: the processes of a data-parallel training run and
// the exchanges between them. LibTorch's distributed package does the work (c10d: a TCPStore
// for the rendezvous, the Gloo backend for the collectives); its side is Distributed.cpp.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace radiolens::ml {

/// Where and how the processes of one run meet.
struct DistributedSettings {
    int worldSize = 1;         ///< processes in the run
    int rank = 0;              ///< this one, 0 .. worldSize - 1
    std::string masterAddress; ///< where rank 0 listens (host name or IP address)
    int masterPort = 0;
    /// Seconds to wait for the other processes: at the rendezvous, and for any one exchange.
    double timeoutSeconds = 300.0;
};

/// False when this build has no distributed training (LibTorch's Gloo headers, Debian's
/// libgloo-dev, were missing when the plugin was built).
bool distributedTrainingAvailable();

/// The processes of one training run, connected. Every method but the accessors is collective:
/// each process calls the same ones, with the same sizes, in the same order. A process that
/// is gone (killed, its machine off) makes the next exchange fail at once on the others when
/// its connection drops, else when the timeout passes; the error (std::runtime_error) names
/// the master's address and the timeout, never a hang. Not thread-safe: one call at a time.
class DistributedGroup {
public:
    /// Joins the run: rank 0 listens at masterAddress:masterPort (every interface, that port),
    /// every rank connects to it and waits until all have, then the Gloo connections are made
    /// (on loopback when the master is, else on the interface of this machine's host name, or
    /// of $GLOO_SOCKET_IFNAME). Throws std::runtime_error naming the master and the timeout
    /// when the others do not come in time, or when rank 0 cannot listen on the port.
    explicit DistributedGroup(const DistributedSettings& settings);
    ~DistributedGroup();
    DistributedGroup(const DistributedGroup&) = delete;
    DistributedGroup& operator=(const DistributedGroup&) = delete;

    int rank() const;
    int size() const;
    /// Processes of the run on this machine (the same host name), this one included.
    int localProcesses() const;
    /// "ADDR:PORT (timeout N s)", for messages.
    std::string description() const;

    /// values[i] = the sum of every process's values[i].
    void allreduceSum(float* values, std::size_t count);
    void allreduceSum(double* values, std::size_t count);
    /// Process `root`'s values everywhere.
    void broadcast(float* values, std::size_t count, int root);
    /// Process `root`'s bytes everywhere (the others' are replaced, whatever their length).
    void broadcast(std::string& bytes, int root);

private:
    struct Impl;
    std::unique_ptr<Impl> m;
};

/// Sets LibTorch's intra-op threads (when `threads` > 0) until the end of the scope.
class ScopedThreads {
public:
    explicit ScopedThreads(int threads);
    ~ScopedThreads();
    ScopedThreads(const ScopedThreads&) = delete;
    ScopedThreads& operator=(const ScopedThreads&) = delete;

private:
    int m_previous = 0;
};

/// The cores of this machine (at least 1).
int hardwareThreads();

} // namespace radiolens::ml
