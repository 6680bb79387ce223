#pragma once

#include "core/domain/StudyIndex.h"
#include "core/imaging/Volume.h"
#include "core/tasks/Metatypes.h"

#include <QFuture>
#include <QObject>
#include <QStringList>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace radiolens {

/// Indexes files and folders on a pool thread; signals arrive on the job's thread (the GUI).
///
/// Starting again cancels the run in progress; its results are dropped. The destructor cancels
/// and waits, so no work outlives the window that started it.
class IndexJob : public QObject {
    Q_OBJECT
public:
    explicit IndexJob(QObject* parent = nullptr);
    ~IndexJob() override;

    void start(const QStringList& paths);
    void cancel();
    bool isRunning() const;

Q_SIGNALS:
    /// Fraction of headers read, in [0, 1].
    void progressed(double fraction);
    /// The index (with `cancelled` set if it was cancelled).
    void indexed(std::shared_ptr<const radiolens::StudyIndex> index);

private:
    QFuture<void> m_future;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    std::atomic<int> m_generation{0};
};

/// Loads one series on a pool thread, the middle slice first; slices are announced as they
/// arrive so a view can show them before the whole series is there.
class SeriesLoadJob : public QObject {
    Q_OBJECT
public:
    explicit SeriesLoadJob(QObject* parent = nullptr);
    ~SeriesLoadJob() override;

    void start(const std::vector<std::string>& files, const QString& seriesInstanceUid);
    void cancel();
    bool isRunning() const;

Q_SIGNALS:
    void progressed(double fraction);
    /// Geometry is known and pixels are on their way (slices not yet announced read as zero).
    void volumeStarted(std::shared_ptr<const radiolens::Volume> volume, const QString& seriesUid);
    /// Slice `k` of the started volume holds its final values.
    void sliceDecoded(int k);
    /// Every slice is there. `problems` lists files left out, as "path: reason".
    void loaded(std::shared_ptr<const radiolens::Volume> volume, const QString& seriesUid,
                const QStringList& problems);
    /// Nothing could be shown; `reason` says why.
    void failed(const QString& seriesUid, const QString& reason);

private:
    QFuture<void> m_future;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    std::atomic<int> m_generation{0};
};

} // namespace radiolens
