#pragma once

#include "core/domain/StudyIndex.h"
#include "core/imaging/Volume.h"

#include <QFutureWatcher>
#include <QMainWindow>
#include <QStringList>

#include <memory>

class QLabel;
class QProgressBar;
class QPushButton;
class QTableView;
class QTreeView;

namespace radiolens {

class IndexJob;
class ProblemListModel;
class SeriesLoadJob;
class SliceView;
class StudyTreeModel;

/// The Radiolens main window: study browser (Patient / Study / Series), problems found while
/// indexing or loading, and a slice view. Indexing and loading run in the background with
/// progress and cancel; the window never waits for them. GUI thread only.
class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Indexes files, folders or DICOMDIRs and, when nothing is shown yet, opens the largest
    /// series found.
    void openPaths(const QStringList& paths);
    /// Writes the built-in demo study (once) in the background and opens it.
    void openDemoStudy();
    /// Loads the series with this UID from the current index into the view.
    void openSeries(const QString& seriesInstanceUid);
    /// Opens the ML engine (LibTorch) in the background, if it is not open yet; the status bar
    /// and mlEngineLoaded() tell the outcome. Nothing opens it at start-up: a session that
    /// runs no model never pays LibTorch's 0.8 s and 170 MiB.
    void loadMlEngine();

    SliceView* sliceView() const { return m_view; }
    StudyTreeModel* studyModel() const { return m_treeModel; }
    ProblemListModel* problemModel() const { return m_problemModel; }
    QString currentSeriesUid() const { return m_currentSeries; }

Q_SIGNALS:
    /// The index of the last openPaths() call is in the tree.
    void studiesIndexed();
    /// Every slice of the series is decoded and shown.
    void seriesLoaded(const QString& seriesInstanceUid);
    /// A series could not be shown.
    void seriesFailed(const QString& seriesInstanceUid, const QString& reason);
    /// The ML engine is ready (or not: `ok` false and `description` says why).
    void mlEngineLoaded(bool ok, const QString& description);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    void createMenus();
    void showBusy(const QString& what);
    void showIdle(const QString& message);
    void onIndexed(std::shared_ptr<const StudyIndex> index);
    void updateSliceStatus();

    SliceView* m_view = nullptr;
    QTreeView* m_tree = nullptr;
    QTableView* m_problems = nullptr;
    StudyTreeModel* m_treeModel = nullptr;
    ProblemListModel* m_problemModel = nullptr;
    IndexJob* m_indexJob = nullptr;
    SeriesLoadJob* m_loadJob = nullptr;
    QProgressBar* m_progress = nullptr;
    QPushButton* m_cancel = nullptr;
    QLabel* m_status = nullptr;
    QLabel* m_sliceStatus = nullptr;
    QLabel* m_engineStatus = nullptr;
    QFutureWatcher<QString>* m_demoWatcher = nullptr;
    QFutureWatcher<QString>* m_engineWatcher = nullptr;
    QString m_currentSeries;
    bool m_openFirstSeries = true;
};

} // namespace radiolens
