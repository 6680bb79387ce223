#pragma once

#include <QString>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

class QThread;

namespace radiolens {

/// One worker thread that runs posted jobs in order: for services whose state (a loaded model)
/// belongs to one thread. post() returns at once. The destructor drops waiting jobs, lets the
/// running one finish, runs `atExit` on the worker (to free what lives there), then joins.
/// post() and clear(): any thread.
class WorkerQueue {
public:
    using Job = std::function<void()>;

    /// Starts the thread, named `name` (shown by debuggers), at low priority.
    explicit WorkerQueue(const QString& name, Job atExit = {});
    ~WorkerQueue();
    WorkerQueue(const WorkerQueue&) = delete;
    WorkerQueue& operator=(const WorkerQueue&) = delete;

    void post(Job job);
    /// Drops waiting jobs, lets the running one finish, runs `atExit` and joins the thread; the
    /// destructor does it if nobody did. Call it from the owner's destructor before members a
    /// job may use go away (the queue stays valid, so a running job can still ask stopping()).
    void stop();
    /// Drops the jobs not yet started.
    void clear();
    /// True once the destructor has begun: a long job should stop at its next check.
    bool stopping() const { return m_stopping.load(); }

private:
    void run();

    QThread* m_thread = nullptr;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<Job> m_jobs;
    bool m_stop = false;
    std::atomic<bool> m_stopping{false};
    Job m_atExit;
};

} // namespace radiolens
