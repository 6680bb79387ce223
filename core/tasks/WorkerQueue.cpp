#include "core/tasks/WorkerQueue.h"

#include <QThread>

namespace radiolens {

WorkerQueue::WorkerQueue(const QString& name, Job atExit)
    : m_atExit(std::move(atExit)) {
    m_thread = QThread::create([this] { run(); });
    m_thread->setObjectName(name);
    m_thread->start(QThread::LowPriority);
}

WorkerQueue::~WorkerQueue() {
    stop();
    delete m_thread;
}

void WorkerQueue::stop() {
    m_stopping = true;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = true;
        m_jobs.clear();
    }
    m_wake.notify_all();
    m_thread->wait();
}

void WorkerQueue::post(Job job) {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_jobs.push_back(std::move(job));
    }
    m_wake.notify_one();
}

void WorkerQueue::clear() {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_jobs.clear();
}

void WorkerQueue::run() {
    for (;;) {
        Job job;
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            m_wake.wait(lock, [this] { return m_stop || !m_jobs.empty(); });
            if (m_stop) {
                break;
            }
            job = std::move(m_jobs.front());
            m_jobs.pop_front();
        }
        job();
    }
    if (m_atExit) {
        m_atExit();
    }
}

} // namespace radiolens
