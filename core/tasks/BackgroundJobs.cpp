#include "core/tasks/BackgroundJobs.h"

#include "core/dicom/SeriesLoader.h"
#include "core/dicom/StudyIndexer.h"

#include <QMetaObject>
#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>

namespace radiolens {

void registerTaskMetatypes() {
    qRegisterMetaType<std::shared_ptr<const StudyIndex>>();
    qRegisterMetaType<std::shared_ptr<const Volume>>();
}

namespace {

/// Forwards core progress to a Qt signal (queued to the receiver's thread) and carries the
/// cancel flag back into the core job.
class SignalProgress final : public ProgressSink {
public:
    SignalProgress(std::function<void(double)> emitter, std::shared_ptr<std::atomic<bool>> cancel)
        : m_emit(std::move(emitter))
        , m_cancel(std::move(cancel)) {}
    bool report(double fraction) override {
        const int percent = int(fraction * 100.0);
        if (percent != m_last) {
            m_last = percent;
            m_emit(fraction);
        }
        return !m_cancel->load();
    }

private:
    std::function<void(double)> m_emit;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    int m_last = -1;
};

} // namespace

IndexJob::IndexJob(QObject* parent)
    : QObject(parent) {
    registerTaskMetatypes();
}

IndexJob::~IndexJob() {
    cancel();
    m_future.waitForFinished();
}

bool IndexJob::isRunning() const {
    return m_future.isRunning();
}

void IndexJob::cancel() {
    if (m_cancel) {
        m_cancel->store(true);
    }
    ++m_generation;
}

void IndexJob::start(const QStringList& paths) {
    cancel();
    auto cancelFlag = std::make_shared<std::atomic<bool>>(false);
    m_cancel = cancelFlag;
    const int generation = ++m_generation;
    std::vector<std::string> list;
    for (const QString& p : paths) {
        list.push_back(p.toStdString());
    }
    QPointer<IndexJob> self(this);
    m_future = QtConcurrent::run([self, list, cancelFlag, generation, this] {
        SignalProgress progress(
            [self, generation, this](double f) {
                QMetaObject::invokeMethod(
                    self,
                    [self, generation, f, this] {
                        if (self && generation == m_generation.load()) {
                            Q_EMIT progressed(f);
                        }
                    },
                    Qt::QueuedConnection);
            },
            cancelFlag);
        auto index = std::make_shared<const StudyIndex>(StudyIndexer().index(list, &progress));
        QMetaObject::invokeMethod(
            self,
            [self, generation, index, this] {
                if (self && generation == m_generation.load()) {
                    Q_EMIT indexed(index);
                }
            },
            Qt::QueuedConnection);
    });
}

namespace {

/// Passes SeriesLoader's callbacks to the job's signals, on the job's thread.
class JobObserver final : public SeriesLoadObserver {
public:
    JobObserver(std::function<void(std::shared_ptr<const Volume>)> started,
                std::function<void(int)> slice, std::function<void(double)> progress,
                std::shared_ptr<std::atomic<bool>> cancel)
        : m_started(std::move(started))
        , m_slice(std::move(slice))
        , m_progress(std::move(progress))
        , m_cancel(std::move(cancel)) {}
    void volumeStarted(const std::shared_ptr<const Volume>& volume) override { m_started(volume); }
    void sliceDecoded(std::size_t k) override { m_slice(int(k)); }
    bool progress(double fraction) override {
        const int percent = int(fraction * 100.0);
        if (percent != m_last) {
            m_last = percent;
            m_progress(fraction);
        }
        return !m_cancel->load();
    }

private:
    std::function<void(std::shared_ptr<const Volume>)> m_started;
    std::function<void(int)> m_slice;
    std::function<void(double)> m_progress;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    int m_last = -1;
};

} // namespace

SeriesLoadJob::SeriesLoadJob(QObject* parent)
    : QObject(parent) {
    registerTaskMetatypes();
}

SeriesLoadJob::~SeriesLoadJob() {
    cancel();
    m_future.waitForFinished();
}

bool SeriesLoadJob::isRunning() const {
    return m_future.isRunning();
}

void SeriesLoadJob::cancel() {
    if (m_cancel) {
        m_cancel->store(true);
    }
    ++m_generation;
}

void SeriesLoadJob::start(const std::vector<std::string>& files, const QString& seriesUid) {
    cancel();
    auto cancelFlag = std::make_shared<std::atomic<bool>>(false);
    m_cancel = cancelFlag;
    const int generation = ++m_generation;
    QPointer<SeriesLoadJob> self(this);
    // Posts `f` to the job's thread if this run is still the current one.
    auto post = [self, generation, this](auto f) {
        QMetaObject::invokeMethod(
            self,
            [self, generation, f, this] {
                if (self && generation == m_generation.load()) {
                    f();
                }
            },
            Qt::QueuedConnection);
    };
    m_future = QtConcurrent::run([files, seriesUid, cancelFlag, post, this] {
        JobObserver observer(
            [post, seriesUid, this](std::shared_ptr<const Volume> v) {
                post([v, seriesUid, this] { Q_EMIT volumeStarted(v, seriesUid); });
            },
            [post, this](int k) { post([k, this] { Q_EMIT sliceDecoded(k); }); },
            [post, this](double f) { post([f, this] { Q_EMIT progressed(f); }); }, cancelFlag);
        SeriesLoadResult result = SeriesLoader().load(files, &observer);
        if (result.cancelled) {
            return;
        }
        QStringList problems;
        for (const auto& p : result.problems) {
            problems << QString::fromStdString(p.path + ": " + p.reason);
        }
        if (!result.ok()) {
            const QString reason = QString::fromStdString(result.error);
            post([seriesUid, reason, this] { Q_EMIT failed(seriesUid, reason); });
            return;
        }
        std::shared_ptr<const Volume> volume = result.volume;
        post([volume, seriesUid, problems, this] { Q_EMIT loaded(volume, seriesUid, problems); });
    });
}

} // namespace radiolens
