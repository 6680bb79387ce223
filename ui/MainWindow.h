#pragma once

#include "core/domain/DicomNode.h"
#include "core/domain/StudyIndex.h"
#include "core/imaging/Volume.h"

#include <QFutureWatcher>
#include <QHash>
#include <QList>
#include <QMainWindow>
#include <QStringList>

#include <map>
#include <memory>
#include <optional>

class QAction;
class QDockWidget;
class QActionGroup;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QMenu;
class QProgressBar;
class QPushButton;
class QTableView;
class QTimer;
class QTreeView;

namespace radiolens {

class AiPanel;
class LabelPanel;
class PacsService;
class QueryRetrieveWindow;
class LabellingSession;
class ModelsWindow;
class PatientRiskWindow;
class TrainingWindow;
class AiReadingService;
class IndexJob;
class MeasurementListModel;
class ProblemListModel;
class SeriesService;
class StudyBrowserModel;
class StudyStore;
class StudyTreeModel;
class TagBrowser;
class ThumbnailJob;
class ViewerArea;
class Viewport;
class ViewportFrame;

/// The Radiolens main window: study browser (search, thumbnails), viewports in 1x1 / 1x2 / 2x2
/// layouts or MPR, problems, measurements, DICOM tags. Indexing, loading and thumbnails run in
/// the background with progress and cancel; the window never waits for them. Every command is
/// in a menu with its shortcut (Help > Keyboard and Mouse lists them). GUI thread only.
class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    /// `databasePath`: the study store (measurements, recent studies); empty uses the user's
    /// default store.
    explicit MainWindow(QWidget* parent = nullptr, const QString& databasePath = {});
    ~MainWindow() override;

    /// Indexes files, folders or DICOMDIRs and, when nothing is shown yet, opens the largest
    /// series found in the active viewport.
    void openPaths(const QStringList& paths);
    /// Writes the built-in demo study (once) in the background and opens it.
    void openDemoStudy();
    /// Loads series `uid` (or one image of it) into `frame` (default: the active viewport).
    void openSeries(const QString& seriesInstanceUid, const QString& imagePath = {},
                    ViewportFrame* frame = nullptr);
    /// Opens the ML engine (LibTorch) in the background, if it is not open yet; the status bar
    /// and mlEngineLoaded() tell the outcome. Nothing opens it at start-up: a session that
    /// runs no model never pays LibTorch's 0.8 s and 170 MiB.
    void loadMlEngine();
    /// Loads the AI model package in `dir` in the background; the AI panel shows it and
    /// classifies the active series when the model accepts it.
    void openModel(const QString& dir);
    /// The patient risk window (issue 7), created on first use; with paths and a model it
    /// opens those patients.
    PatientRiskWindow* patientRisk(const QStringList& dataPaths = {},
                                   const QStringList& outcomeFiles = {},
                                   const QString& modelDir = {});

    /// Labelling mode: the label panel is shown, and keys 1-9 label the image shown with a class
    /// (instead of choosing window presets), Enter accepts the model's suggestion, J and K go
    /// to the next and previous unlabelled image of the worklist, Ctrl+Z and Ctrl+Shift+Z undo
    /// and redo. Needs the store.
    void setLabellingMode(bool on);
    bool labellingMode() const;
    /// The label panel (created with labelling mode); null before.
    LabelPanel* labelPanel() const { return m_labelPanel; }
    /// The training window and the model registry window, created on first use (need the
    /// store; null without it).
    TrainingWindow* trainingWindow();
    ModelsWindow* modelsWindow();
    /// DICOM networking: queries, retrievals, sending, the listener (the settings' listener is
    /// started with the window when it is enabled).
    PacsService* pacsService() const { return m_pacs; }
    /// The Query / Retrieve window, created on first use. Studies it retrieves (and studies
    /// pushed to the listener) appear in the study browser as they arrive; one cut off is
    /// marked incomplete there.
    QueryRetrieveWindow* queryRetrieveWindow();
    /// Sends the files of the active viewport's series to `nodeName` (a configured node) with
    /// C-STORE in the background; the status bar tells the outcome.
    void sendCurrentSeries(const QString& nodeName);
    /// The file of the image the active viewport shows (reformats: the middle slice's); empty
    /// when nothing is shown.
    QString currentImageFile() const;

    /// Saves what the active viewport shows (overlays and measurements included) as PNG.
    bool exportViewportTo(const QString& path);
    /// Writes de-identified copies (DICOM PS3.15 Basic Profile, UIDs remapped consistently) of
    /// every file of the active viewport's study into `folder`, in the background;
    /// studyDeidentified() tells the outcome and Problems lists the warnings (burned-in text).
    void exportStudyDeidentifiedTo(const QString& folder);
    /// Writes the AI reading of the active viewport's series as DICOM into `folder`, in the
    /// background: the classification as a Structured Report (every slice's probabilities,
    /// the model's id, version and weights hash), and when a saliency overlay is shown, a
    /// Secondary Capture of it as drawn and a Parametric Map where the geometry allows. With
    /// `nodeName` (a configured node) the objects are then sent there. aiResultsWritten() tells
    /// the outcome.
    void saveAiResultsTo(const QString& folder, const QString& nodeName = {});
    /// Writes the active viewport's volume (.nii.gz, .nii, .nrrd, .mha) in the background;
    /// seriesExported() tells the outcome.
    void exportSeriesTo(const QString& path);

    ViewerArea* viewerArea() const { return m_viewer; }
    Viewport* activeViewport() const;
    StudyTreeModel* studyModel() const { return m_treeModel; }
    StudyBrowserModel* browserModel() const { return m_browser; }
    ProblemListModel* problemModel() const { return m_problemModel; }
    SeriesService* seriesService() const { return m_series; }
    /// The measurements of the active viewport's series.
    MeasurementListModel* measurementModel() const;
    TagBrowser* tagBrowser() const { return m_tags; }
    AiPanel* aiPanel() const { return m_aiPanel; }
    AiReadingService* aiService() const { return m_ai; }
    /// The series in the active viewport.
    QString currentSeriesUid() const;
    /// Every action of the menus (for Help and tests).
    QList<QAction*> commands() const { return m_commands; }

Q_SIGNALS:
    /// The folders' fresh index is shown (read from the files).
    void studiesIndexed();
    /// The index the store kept of these folders is shown, before they are read again.
    void studiesShownFromStore();
    /// Every slice of a series is decoded and shown (`seriesInstanceUid` of the request).
    void seriesLoaded(const QString& seriesInstanceUid);
    void seriesFailed(const QString& seriesInstanceUid, const QString& reason);
    void mlEngineLoaded(bool ok, const QString& description);
    /// A thumbnail arrived for this series.
    void thumbnailShown(const QString& seriesInstanceUid);
    /// exportSeriesTo() finished: `error` is empty on success.
    void seriesExported(const QString& path, const QString& error);
    /// saveAiResultsTo() finished: the files written, or the reason nothing was.
    void aiResultsWritten(const QStringList& files, const QString& error);
    /// exportStudyDeidentifiedTo() finished: `files` written, `failures` not (with reasons).
    void studyDeidentified(const QString& folder, int files, const QStringList& failures);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    QAction* command(QMenu* menu, const QString& text, const QKeySequence& shortcut,
                     const std::function<void()>& run, bool viewerOnly = false);
    void createMenus();
    void connectService();
    void connectViewport(ViewportFrame* frame);
    void showBusy(const QString& what);
    /// Shows `fraction` (0..1) of the current work on the progress bar, a few times a second.
    void showProgress(double fraction);
    void showIdle(const QString& message);
    void onIndexed(std::shared_ptr<const StudyIndex> index, bool fromStore, bool unchanged);
    void onActiveFrameChanged(ViewportFrame* frame);
    void updateStatus();
    void updateRecentMenu();
    void updatePresetMenu();
    void showSliceTags();
    void exportViewport();
    void exportSeries();
    MeasurementListModel* measurementsFor(const std::shared_ptr<const Volume>& volume);
    /// Drops the measurement lists of series no viewport shows (they hold their volume).
    void pruneMeasurementModels();
    void withActive(const std::function<void(Viewport&)>& f);
    /// Tells the labelling session which image the active viewport shows.
    void updateLabellingImage();
    /// The demo's chest radiograph with a nodule, once both the index and the demo model are
    /// ready.
    void showDemoChest();
    /// Reads the incoming folder (retrieved and received studies) into the study browser.
    void refreshIncoming();
    /// Marks the studies whose retrieval is not complete in the study browser.
    void showRetrievalNotes();
    /// The index's problems and the retrievals' (which survive a new index) in Problems.
    void showProblems(const std::vector<Problem>& indexProblems);
    /// Choose a configured node (a dialog); nullopt when none is configured or the reader
    /// cancels. `what` is the question ("Send the series shown to:").
    std::optional<DicomNode> chooseNode(const QString& title, const QString& what);
    /// The configured node called `name`.
    std::optional<DicomNode> nodeNamed(const QString& name) const;

    ViewerArea* m_viewer = nullptr;
    QTreeView* m_tree = nullptr;
    QLineEdit* m_search = nullptr;
    StudyTreeModel* m_treeModel = nullptr;
    StudyBrowserModel* m_browser = nullptr;
    QTableView* m_problems = nullptr;
    ProblemListModel* m_problemModel = nullptr;
    QTableView* m_measurementView = nullptr;
    TagBrowser* m_tags = nullptr;
    IndexJob* m_indexJob = nullptr;
    ThumbnailJob* m_thumbnails = nullptr;
    SeriesService* m_series = nullptr;
    std::unique_ptr<StudyStore> m_store;
    std::map<std::string, MeasurementListModel*> m_measurements; ///< by series UID
    QHash<ViewportFrame*, QString> m_pending; ///< request key each viewport waits for or shows
    QStringList m_lastPaths;
    /// The tree shows the index the store kept, while the folder is read again.
    bool m_showingStoreIndex = false;

    QProgressBar* m_progress = nullptr;
    QTimer* m_progressTimer = nullptr; ///< coalesces progress reports into few repaints
    int m_progressPercent = 0;
    QPushButton* m_cancel = nullptr;
    QLabel* m_status = nullptr;
    QLabel* m_readout = nullptr;
    QLabel* m_engineStatus = nullptr;
    QMenu* m_recentMenu = nullptr;
    QMenu* m_presetMenu = nullptr;
    QActionGroup* m_tools = nullptr;
    QAction* m_mprAction = nullptr;
    QAction* m_cineAction = nullptr;
    QDoubleSpinBox* m_fps = nullptr;
    QList<QAction*> m_commands;
    QFutureWatcher<QString>* m_demoWatcher = nullptr;
    QFutureWatcher<QString>* m_engineWatcher = nullptr;
    AiReadingService* m_ai = nullptr;
    AiPanel* m_aiPanel = nullptr;
    PatientRiskWindow* m_patientRisk = nullptr;
    LabellingSession* m_labelling = nullptr;
    LabelPanel* m_labelPanel = nullptr;
    QDockWidget* m_labelDock = nullptr;
    QAction* m_labellingAction = nullptr;
    QList<QAction*> m_labellingKeys; ///< enabled only in labelling mode
    QString m_labellingFile;         ///< the image file the labelling session was last told of
    TrainingWindow* m_training = nullptr;
    ModelsWindow* m_models = nullptr;
    QString m_demoChestSeries; ///< to show when the demo model is ready; empty once shown
    bool m_demoIndexed = false;
    bool m_demoModelReady = false;
    bool m_openFirstSeries = true;
    PacsService* m_pacs = nullptr;
    QueryRetrieveWindow* m_queryRetrieve = nullptr;
    QTimer* m_incomingTimer = nullptr; ///< coalesces arrivals into one read of the folder
    std::map<std::string, Problem> m_networkProblems; ///< by Study Instance UID
};

} // namespace radiolens
