#pragma once

#include "core/domain/StudyIndex.h"
#include "core/imaging/Volume.h"
#include "core/tasks/Metatypes.h"

#include <QFuture>
#include <QObject>
#include <QList>
#include <QStringList>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace radiolens {

/// One background run at a time on Qt's thread pool, with cancel. Results are posted back to
/// the job's thread (the GUI) and dropped when the run they come from is no longer the current
/// one. Starting again cancels the run in progress; the destructor cancels and waits, so no work
/// outlives the window that started it.
class BackgroundJob : public QObject {
    Q_OBJECT
public:
    ~BackgroundJob() override;

    void cancel();
    bool isRunning() const;

protected:
    explicit BackgroundJob(QObject* parent);

    /// Runs `f` on the job's thread if the run that posts it is still current.
    using Post = std::function<void(std::function<void()>)>;
    /// Cancels the current run and starts `work(cancelled, post)` on the pool.
    void launch(std::function<void(const std::atomic<bool>& cancelled, const Post& post)> work);

private:
    /// Every run not yet known to be finished: a replaced run may still be winding down and
    /// posting, so the destructor waits for all of them, not only the latest.
    QList<QFuture<void>> m_runs;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    std::atomic<int> m_generation{0};
};

/// Indexes files and folders in the background. With a store, the index the store kept of the
/// same paths is announced first (reopening a folder shows its studies at once), then the
/// folder is read again and the fresh index announced and kept in the store (unless nothing
/// changed).
class IndexJob : public BackgroundJob {
    Q_OBJECT
public:
    explicit IndexJob(QObject* parent = nullptr);

    /// The store (its path) that keeps indexes; empty: none.
    void setStorePath(const QString& path) { m_storePath = path; }
    void start(const QStringList& paths);

Q_SIGNALS:
    /// Fraction of headers read, in [0, 1].
    void progressed(double fraction);
    /// The index (with `cancelled` set if it was cancelled). `fromStore`: what the store kept
    /// of these paths, before the fresh one (which follows). `unchanged` (a fresh index): the
    /// same instances in the same files as the kept one announced before (compared here, off
    /// the GUI thread; the store is not written again then).
    void indexed(std::shared_ptr<const radiolens::StudyIndex> index, bool fromStore,
                 bool unchanged);

private:
    QString m_storePath;
};

/// Loads one series in the background, the middle slice first; slices are announced as they
/// arrive so a view can show them before the whole series is there.
class SeriesLoadJob : public BackgroundJob {
    Q_OBJECT
public:
    explicit SeriesLoadJob(QObject* parent = nullptr);

    void start(const std::vector<std::string>& files, const QString& seriesInstanceUid);

Q_SIGNALS:
    void progressed(double fraction);
    /// Geometry is known and pixels are on their way (slices not yet announced read as zero).
    void volumeStarted(std::shared_ptr<const radiolens::Volume> volume, const QString& seriesUid);
    /// Slice `k` of the started volume holds its final values.
    void sliceDecoded(int k);
    /// Slice `k` could not be decoded; it holds no image.
    void sliceFailed(int k, const QString& reason);
    /// Every slice is there. `problems` lists files or frames left out, with reasons.
    void loaded(std::shared_ptr<const radiolens::Volume> volume, const QString& seriesUid,
                const std::vector<radiolens::Problem>& problems);
    /// Nothing could be shown; `reason` says why.
    void failed(const QString& seriesUid, const QString& reason);
};

} // namespace radiolens
