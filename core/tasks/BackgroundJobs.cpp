#include "core/tasks/BackgroundJobs.h"

#include "core/dicom/SeriesLoader.h"
#include "core/dicom/StudyIndexer.h"
#include "core/store/IndexCache.h"
#include "core/store/StudyStore.h"

#include <QMetaObject>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <thread>

namespace radiolens {

void registerTaskMetatypes() {
    qRegisterMetaType<std::shared_ptr<const StudyIndex>>();
    qRegisterMetaType<std::shared_ptr<const Volume>>();
    qRegisterMetaType<std::vector<Problem>>();
}

namespace {

/// Passes progress on only when the whole percentage changes: a queued signal per percent, not
/// per file or slice.
class PercentFilter {
public:
    bool changed(double fraction) {
        const int percent = int(fraction * 100.0);
        const bool result = percent != m_last;
        m_last = percent;
        return result;
    }

private:
    int m_last = -1;
};

/// Core progress -> `emit`, the job's cancel flag -> the core job, and a load's per-slice
/// events -> callbacks. A cancelled run posts nothing more.
class JobProgress final : public ProgressSink, public SeriesLoadObserver {
public:
    JobProgress(std::function<void(double)> emit, const std::atomic<bool>& cancelled)
        : m_emit(std::move(emit))
        , m_cancelled(cancelled) {}

    bool report(double fraction) override {
        if (m_cancelled.load()) {
            return false;
        }
        if (m_filter.changed(fraction)) {
            m_emit(fraction);
        }
        return true;
    }
    bool progress(double fraction) override { return report(fraction); }

    std::function<void(std::shared_ptr<const Volume>)> onStarted;
    std::function<void(int)> onSlice;
    std::function<void(int, const std::string&)> onSliceFailed;
    void volumeStarted(const std::shared_ptr<const Volume>& volume) override {
        if (!m_cancelled.load()) {
            onStarted(volume);
        }
    }
    void sliceDecoded(std::size_t k) override {
        if (!m_cancelled.load()) {
            onSlice(int(k));
        }
    }
    void sliceFailed(std::size_t k, const std::string& reason) override {
        if (!m_cancelled.load()) {
            onSliceFailed(int(k), reason);
        }
    }

private:
    std::function<void(double)> m_emit;
    const std::atomic<bool>& m_cancelled;
    PercentFilter m_filter;
};

} // namespace

BackgroundJob::BackgroundJob(QObject* parent)
    : QObject(parent) {
    registerTaskMetatypes();
}

BackgroundJob::~BackgroundJob() {
    cancel();
    for (QFuture<void>& run : m_runs) {
        run.waitForFinished();
    }
}

bool BackgroundJob::isRunning() const {
    return !m_runs.isEmpty() && m_runs.back().isRunning();
}

void BackgroundJob::cancel() {
    if (m_cancel) {
        m_cancel->store(true);
    }
    ++m_generation;
}

void BackgroundJob::launch(
    std::function<void(const std::atomic<bool>& cancelled, const Post& post)> work) {
    cancel();
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    m_cancel = cancelled;
    const int generation = ++m_generation;
    // The destructor waits for every run, so `this` outlives every post.
    const Post post = [this, generation](std::function<void()> f) {
        QMetaObject::invokeMethod(
            this,
            [this, generation, f = std::move(f)] {
                if (generation == m_generation.load()) {
                    f();
                }
            },
            Qt::QueuedConnection);
    };
    m_runs.removeIf([](const QFuture<void>& run) { return run.isFinished(); });
    m_runs.append(
        QtConcurrent::run([work = std::move(work), cancelled, post] { work(*cancelled, post); }));
}

IndexJob::IndexJob(QObject* parent)
    : BackgroundJob(parent) {}

void IndexJob::start(const QStringList& paths) {
    std::vector<std::string> list;
    for (const QString& p : paths) {
        list.push_back(p.toStdString());
    }
    const std::string storePath = m_storePath.toStdString();
    launch([this, list, storePath](const std::atomic<bool>& cancelled, const Post& post) {
        std::unique_ptr<StudyStore> store;
        std::shared_ptr<const StudyIndex> kept;
        if (!storePath.empty()) {
            try {
                store = std::make_unique<StudyStore>(storePath);
                if (auto found = IndexCache(*store).load(list)) {
                    kept = std::make_shared<const StudyIndex>(std::move(*found));
                    post([this, kept] { Q_EMIT indexed(kept, true, false); });
                }
            } catch (const std::exception&) {
                store.reset(); // the store is reported where it is opened; indexing goes on
            }
        }
        JobProgress progress([this, post](double f) { post([this, f] { Q_EMIT progressed(f); }); },
                             cancelled);
        auto index = std::make_shared<const StudyIndex>(StudyIndexer().index(list, &progress));
        if (cancelled.load()) {
            return;
        }
        const bool unchanged = kept && index->sameInstancesAs(*kept);
        post([this, index, unchanged] { Q_EMIT indexed(index, false, unchanged); });
        if (store && !index->cancelled && !unchanged) {
            try {
                IndexCache(*store).save(list, *index);
            } catch (const std::exception&) {
            }
        }
    });
}

SeriesLoadJob::SeriesLoadJob(QObject* parent)
    : BackgroundJob(parent) {}

void SeriesLoadJob::start(const std::vector<std::string>& files, const QString& seriesUid) {
    launch([this, files, seriesUid](const std::atomic<bool>& cancelled, const Post& post) {
        JobProgress observer([this, post](double f) { post([this, f] { Q_EMIT progressed(f); }); },
                             cancelled);
        observer.onStarted = [this, post, seriesUid](std::shared_ptr<const Volume> v) {
            post([this, v, seriesUid] { Q_EMIT volumeStarted(v, seriesUid); });
        };
        observer.onSlice = [this, post](int k) {
            post([this, k] { Q_EMIT sliceDecoded(k); });
        };
        observer.onSliceFailed = [this, post](int k, const std::string& reason) {
            const QString text = QString::fromStdString(reason);
            post([this, k, text] { Q_EMIT sliceFailed(k, text); });
        };
        // The GUI thread paints while this decodes: it keeps a core of its own (on this 2-core
        // machine a second decoder doubled scrolling latency) and the decoders run at a lower
        // priority. The middle slice still comes first.
        SeriesLoadOptions options;
        options.lowPriority = true;
        options.threads = int(std::max(1u, std::thread::hardware_concurrency() - 1));
        const SeriesLoadResult result = SeriesLoader(options).load(files, &observer);
        if (result.cancelled || cancelled.load()) {
            return;
        }
        if (!result.ok()) {
            const QString reason = QString::fromStdString(result.error);
            post([this, seriesUid, reason] { Q_EMIT failed(seriesUid, reason); });
            return;
        }
        const std::vector<Problem> problems = result.problems;
        std::shared_ptr<const Volume> volume = result.volume;
        post([this, volume, seriesUid, problems] { Q_EMIT loaded(volume, seriesUid, problems); });
    });
}

} // namespace radiolens
