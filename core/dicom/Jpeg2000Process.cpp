#include "core/dicom/Jpeg2000Process.h"

#include "core/dicom/DicomDataSet.h"
#include "core/dicom/SocketTransfer.h"
#include "core/domain/Paths.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace radiolens {

namespace {

using Clock = std::chrono::steady_clock;

/// Why a worker could not answer: it died (crashed), or did not answer in time.
struct WorkerLost {
    std::string reason;
};

/// One radiolens-jpeg2000 process and Radiolens's end of its socket.
class Worker {
public:
    explicit Worker(const std::string& program)
        : m_program(program) {
        int ends[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
            throw std::runtime_error(std::string("cannot make a socket: ") + std::strerror(errno));
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        // The worker's end becomes its descriptor 3 (dup2 clears close-on-exec there).
        posix_spawn_file_actions_adddup2(&actions, ends[1], 3);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        // What GDCM or the C library print when they fail is not for the user: the reason
        // comes back as an error (or, for a crash, from the exit status).
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        char* argv[] = {const_cast<char*>(program.c_str()), nullptr};
        const int rc = ::posix_spawn(&m_pid, program.c_str(), &actions, nullptr, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(ends[1]);
        if (rc != 0) {
            ::close(ends[0]);
            throw std::runtime_error("cannot start " + program + ": " + std::strerror(rc));
        }
        m_socket = ends[0];
    }

    ~Worker() {
        ::close(m_socket);
        if (m_pid > 0 && !m_reaped) {
            // A worker that is no longer wanted reads the end of its socket and leaves; one that
            // failed is killed.
            if (m_failed) {
                ::kill(m_pid, SIGKILL);
            }
            int status = 0;
            ::waitpid(m_pid, &status, m_failed ? 0 : WNOHANG);
        }
    }
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    Jpeg2000Pixels decode(const std::string& path, double timeoutSeconds) {
        m_deadline = Clock::now() + std::chrono::milliseconds(
                                        std::llround(std::max(0.001, timeoutSeconds) * 1000.0));
        m_timeout = timeoutSeconds;
        const std::uint32_t length = std::uint32_t(path.size());
        send(&length, sizeof length);
        send(path.data(), path.size());
        std::int32_t status = 0;
        receive(&status, sizeof status);
        if (status != 0) {
            std::uint32_t size = 0;
            receive(&size, sizeof size);
            std::string reason(std::min<std::uint32_t>(size, 4096), '\0');
            receive(reason.data(), reason.size());
            throw DicomValueError(path + ": JPEG 2000: " + reason);
        }
        std::uint64_t bytes = 0;
        std::int32_t planar = 0;
        char photometric[32] = {0};
        receive(&bytes, sizeof bytes);
        receive(&planar, sizeof planar);
        receive(photometric, sizeof photometric);
        photometric[sizeof photometric - 1] = '\0';
        Jpeg2000Pixels out;
        out.pixels.resize(bytes);
        receive(out.pixels.data(), out.pixels.size());
        out.planarConfiguration = planar;
        out.photometric = photometric;
        return out;
    }

private:
    void send(const void* data, std::size_t size) {
        if (!sendAll(m_socket, data, size)) {
            lost();
        }
    }

    /// Receives `size` bytes, waiting for them until the deadline.
    void receive(void* data, std::size_t size) {
        const bool received =
            transferAll(static_cast<char*>(data), size, [this](char* p, std::size_t n) {
                for (;;) {
                    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                                          m_deadline - Clock::now())
                                          .count();
                    if (left <= 0) {
                        m_failed = true;
                        char text[64];
                        std::snprintf(text, sizeof text, "%g s", m_timeout);
                        throw WorkerLost{
                            std::string("the JPEG 2000 decoder did not finish within ") + text +
                            " and was stopped"};
                    }
                    pollfd ready{m_socket, POLLIN, 0};
                    if (::poll(&ready, 1, int(std::min<long long>(left, 1000))) > 0) {
                        return ::recv(m_socket, p, n, 0);
                    }
                }
            });
        if (!received) {
            lost();
        }
    }

    [[noreturn]] void lost() {
        m_failed = true;
        int status = 0;
        // The socket closed: the worker is gone or going; its status says how.
        std::string how = "it stopped";
        if (::waitpid(m_pid, &status, 0) == m_pid) {
            m_reaped = true;
            if (WIFSIGNALED(status)) {
                how = std::string("it crashed (") + strsignal(WTERMSIG(status)) + ")";
            } else if (WIFEXITED(status)) {
                how = "it exited with status " + std::to_string(WEXITSTATUS(status));
            }
        }
        throw WorkerLost{"the JPEG 2000 decoder failed on this file: " + how +
                         "; the data are damaged or not JPEG 2000 GDCM can read"};
    }

public:
    const std::string& program() const { return m_program; }

private:
    std::string m_program;
    pid_t m_pid = -1;
    int m_socket = -1;
    bool m_failed = false;
    bool m_reaped = false;
    Clock::time_point m_deadline;
    double m_timeout = 0.0;
};

/// Idle workers, for the next file.
struct Pool {
    std::mutex mutex;
    std::vector<std::unique_ptr<Worker>> idle;
};

Pool& pool() {
    static Pool* instance = new Pool; // lives as long as the process (workers leave with it)
    return *instance;
}

} // namespace

Jpeg2000Pixels decodeJpeg2000InWorker(const std::string& path, double timeoutSeconds) {
    const std::string program = findPlugin("radiolens-jpeg2000", "RADIOLENS_JPEG2000_DECODER");
    std::unique_ptr<Worker> worker;
    {
        std::lock_guard<std::mutex> lock(pool().mutex);
        auto& idle = pool().idle;
        const auto same = std::find_if(idle.rbegin(), idle.rend(),
                                       [&](const auto& w) { return w->program() == program; });
        if (same != idle.rend()) {
            worker = std::move(*same);
            idle.erase(std::next(same).base());
        }
    }
    if (!worker) {
        if (::access(program.c_str(), X_OK) != 0) {
            throw DicomValueError(path + ": JPEG 2000 decoder unavailable: " + program +
                                  " is missing");
        }
        try {
            worker = std::make_unique<Worker>(program);
        } catch (const std::exception& e) {
            throw DicomValueError(path + ": JPEG 2000 decoder unavailable: " + e.what());
        }
    }
    try {
        Jpeg2000Pixels pixels = worker->decode(path, timeoutSeconds);
        std::lock_guard<std::mutex> lock(pool().mutex);
        pool().idle.push_back(std::move(worker));
        return pixels;
    } catch (const DicomValueError&) {
        // GDCM refused the file and said why; the worker is fine.
        std::lock_guard<std::mutex> lock(pool().mutex);
        pool().idle.push_back(std::move(worker));
        throw;
    } catch (const WorkerLost& lost) {
        worker.reset(); // killed and reaped; the next file gets a new one
        throw DicomValueError(path + ": " + lost.reason);
    }
}

} // namespace radiolens
