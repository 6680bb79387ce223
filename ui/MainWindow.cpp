#include "ui/MainWindow.h"

#include "core/dicom/Deidentifier.h"
#include "core/domain/EventLog.h"
#include "core/dicom/ResultDocuments.h"
#include "core/domain/Paths.h"

#include "core/dicom/DemoStudy.h"
#include "core/ml/DemoChestModel.h"
#include "core/tasks/AiReadingService.h"
#include "ui/AiPanel.h"
#include "ui/LabelPanel.h"
#include "ui/ModelsWindow.h"
#include "ui/NetworkSettingsDialog.h"
#include "ui/QueryRetrieveWindow.h"
#include "core/tasks/PacsService.h"
#include "ui/TrainingWindow.h"
#include "ui/PatientRiskWindow.h"
#include "core/domain/Paths.h"
#include "core/imaging/VolumeWriter.h"
#include "core/ml/MlRuntime.h"
#include "core/store/IndexCache.h"
#include "core/store/StudyStore.h"
#include "core/tasks/LabellingSession.h"
#include "core/tasks/BackgroundJobs.h"
#include "core/tasks/MeasurementListModel.h"
#include "core/tasks/SeriesService.h"
#include "core/tasks/StudyTreeModel.h"
#include "core/tasks/ThumbnailJob.h"
#include "ui/StudyBrowserModel.h"
#include "ui/TagBrowser.h"
#include "ui/ViewerArea.h"
#include "ui/Viewport.h"
#include "ui/ViewportFrame.h"

#include <QAction>
#include <QInputDialog>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDockWidget>
#include <QScrollArea>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QIcon>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QStatusBar>
#include <QTableView>
#include <QTableWidget>
#include <QTimer>
#include <QToolBar>
#include <QTreeView>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <set>

namespace radiolens {

namespace {

QString personName(const std::string& dicom) {
    QStringList parts = QString::fromStdString(dicom).split(QLatin1Char('^'));
    while (!parts.isEmpty() && parts.back().trimmed().isEmpty()) {
        parts.removeLast();
    }
    if (parts.isEmpty()) {
        return QObject::tr("(no name)");
    }
    const QString family = parts.takeFirst().trimmed();
    return parts.isEmpty() ? family
                           : family + QStringLiteral(", ") + parts.join(QLatin1Char(' ')).trimmed();
}

} // namespace

MainWindow::MainWindow(QWidget* parent, const QString& databasePath)
    : QMainWindow(parent) {
    setWindowTitle(tr("Radiolens"));
    setWindowIcon(QIcon(QStringLiteral(":/radiolens/icons/radiolens.png")));
    setAcceptDrops(true);
    resize(1400, 900);

    m_viewer = new ViewerArea(this);
    setCentralWidget(m_viewer);

    // Studies: search, tree with thumbnails; series can be dragged onto a viewport.
    m_treeModel = new StudyTreeModel(this);
    m_browser = new StudyBrowserModel(this);
    m_browser->setSourceModel(m_treeModel);
    m_search = new QLineEdit;
    m_search->setPlaceholderText(tr("Search patient, study, series, modality..."));
    m_search->setClearButtonEnabled(true);
    m_tree = new QTreeView;
    m_tree->setModel(m_browser);
    m_tree->setUniformRowHeights(false);
    m_tree->setIconSize(QSize(48, 48));
    m_tree->setAlternatingRowColors(true);
    m_tree->setDragEnabled(true);
    m_tree->setDragDropMode(QAbstractItemView::DragOnly);
    m_tree->header()->setStretchLastSection(false);
    m_tree->header()->setSectionResizeMode(StudyTreeModel::NameColumn, QHeaderView::Stretch);
    for (int column : {StudyTreeModel::ModalityColumn, StudyTreeModel::DateColumn,
                       StudyTreeModel::InstancesColumn}) {
        m_tree->header()->setSectionResizeMode(column, QHeaderView::ResizeToContents);
    }
    auto* studiesPanel = new QWidget;
    auto* studiesLayout = new QVBoxLayout(studiesPanel);
    studiesLayout->setContentsMargins(2, 2, 2, 2);
    studiesLayout->addWidget(m_search);
    studiesLayout->addWidget(m_tree);
    auto* studies = new QDockWidget(tr("Studies"), this);
    studies->setObjectName(QStringLiteral("studies"));
    studies->setWidget(studiesPanel);
    addDockWidget(Qt::LeftDockWidgetArea, studies);

    m_problemModel = new ProblemListModel(this);
    m_problems = new QTableView;
    m_problems->setModel(m_problemModel);
    m_problems->horizontalHeader()->setStretchLastSection(true);
    m_problems->horizontalHeader()->resizeSection(0, 360);
    m_problems->setTextElideMode(Qt::ElideMiddle); // keep the file name at the end of a path
    m_problems->setWordWrap(false);
    m_problems->verticalHeader()->hide();
    m_problems->setSelectionBehavior(QAbstractItemView::SelectRows);
    auto* problems = new QDockWidget(tr("Problems"), this);
    problems->setObjectName(QStringLiteral("problems"));
    problems->setWidget(m_problems);
    addDockWidget(Qt::BottomDockWidgetArea, problems);

    m_measurementView = new QTableView;
    m_measurementView->horizontalHeader()->setStretchLastSection(true);
    m_measurementView->verticalHeader()->hide();
    m_measurementView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_measurementView->setSelectionMode(QAbstractItemView::SingleSelection);
    auto* deleteButton = new QPushButton(tr("Delete"));
    auto* measurementPanel = new QWidget;
    auto* measurementLayout = new QVBoxLayout(measurementPanel);
    measurementLayout->setContentsMargins(2, 2, 2, 2);
    measurementLayout->addWidget(m_measurementView);
    measurementLayout->addWidget(deleteButton, 0, Qt::AlignRight);
    auto* measurements = new QDockWidget(tr("Measurements"), this);
    measurements->setObjectName(QStringLiteral("measurements"));
    measurements->setWidget(measurementPanel);
    addDockWidget(Qt::BottomDockWidgetArea, measurements);
    tabifyDockWidget(problems, measurements);
    problems->raise();

    m_ai = new AiReadingService(this);
    m_aiPanel = new AiPanel(m_ai);
    auto* ai = new QDockWidget(tr("AI Reading"), this);
    ai->setObjectName(QStringLiteral("ai"));
    ai->setWidget(m_aiPanel);
    addDockWidget(Qt::RightDockWidgetArea, ai);
    // Hidden until a model is loaded: a session that only views images keeps the viewer wide.
    ai->hide();
    connect(m_ai, &AiReadingService::trainingProgressed, this,
            [this](double fraction, const QString& text) {
                m_engineStatus->setText(text);
                if (fraction >= 1.0) {
                    m_engineStatus->setText(tr("AI engine ready"));
                }
            });
    connect(m_ai, &AiReadingService::modelLoaded, this,
            [this, ai](std::shared_ptr<const ModelCard> card, const QString&) {
                ai->show();
                m_engineStatus->setText(tr("AI model: %1").arg(QString::fromStdString(card->id)));
                if (!m_demoChestSeries.isEmpty() && card->id == "demo-chest-nodule") {
                    m_demoModelReady = true;
                    showDemoChest();
                }
            });
    connect(m_ai, &AiReadingService::modelFailed, this,
            [this](const QString& dir, const QString& reason) {
                m_problemModel->addProblems({{dir.toStdString(), reason.toStdString()}});
            });

    m_tags = new TagBrowser;
    auto* tags = new QDockWidget(tr("DICOM Tags"), this);
    tags->setObjectName(QStringLiteral("tags"));
    tags->setWidget(m_tags);
    addDockWidget(Qt::RightDockWidgetArea, tags);
    tags->hide();
    connect(tags, &QDockWidget::visibilityChanged, this, [this](bool visible) {
        if (visible) {
            showSliceTags();
        }
    });

    resizeDocks({studies}, {400}, Qt::Horizontal);
    resizeDocks({problems}, {140}, Qt::Vertical);

    m_status = new QLabel;
    // A long message (a series' warnings) is cut at the right, never pushed off the left edge;
    // the whole text is in the tooltip and in the Problems list.
    m_status->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_progress = new QProgressBar;
    m_progress->setRange(0, 100);
    m_progress->setMaximumWidth(200);
    m_progress->hide();
    // QProgressBar::setValue repaints at once; a load reports every slice, so the bar takes the
    // latest fraction at most ten times a second and scrolling elsewhere stays smooth.
    m_progressTimer = new QTimer(this);
    m_progressTimer->setSingleShot(true);
    m_progressTimer->setInterval(100);
    connect(m_progressTimer, &QTimer::timeout, this,
            [this] { m_progress->setValue(m_progressPercent); });
    m_cancel = new QPushButton(tr("Cancel"));
    m_cancel->hide();
    m_readout = new QLabel;
    m_engineStatus = new QLabel(tr("AI engine: loads on first use"));
    statusBar()->addWidget(m_status, 1);
    statusBar()->addWidget(m_progress);
    statusBar()->addWidget(m_cancel);
    statusBar()->addPermanentWidget(m_readout);
    statusBar()->addPermanentWidget(m_engineStatus);

    // The local store: measurements and recent studies survive restarts and crashes.
    try {
        m_store = std::make_unique<StudyStore>(databasePath.isEmpty() ? StudyStore::defaultPath()
                                                                      : databasePath.toStdString());
    } catch (const std::exception& e) {
        m_problemModel->addProblems(
            {{databasePath.isEmpty() ? StudyStore::defaultPath() : databasePath.toStdString(),
              std::string("the study store could not be opened; measurements are not saved: ") +
                  e.what()}});
    }

    m_indexJob = new IndexJob(this);
    if (m_store) {
        m_indexJob->setStorePath(QString::fromStdString(m_store->path()));
    }
    m_thumbnails = new ThumbnailJob(this);
    m_series = new SeriesService(this);
    connect(m_indexJob, &IndexJob::progressed, this, [this](double f) { showProgress(f); });
    connect(m_indexJob, &IndexJob::indexed, this, &MainWindow::onIndexed);
    connect(m_thumbnails, &ThumbnailJob::thumbnailReady, this,
            [this](const QString& uid, const RenderedSlice& picture) {
                const QImage image(picture.pixels.data(), picture.width, picture.height,
                                   picture.width * picture.channels,
                                   picture.channels == 3 ? QImage::Format_RGB888
                                                         : QImage::Format_Grayscale8);
                m_browser->setThumbnail(uid, QPixmap::fromImage(image.copy()));
                Q_EMIT thumbnailShown(uid);
            });
    connectService();

    // DICOM networking: what arrives (retrieved or pushed) is shown in the browser.
    m_pacs =
        new PacsService({}, m_store ? QString::fromStdString(m_store->path()) : QString(), this);
    m_incomingTimer = new QTimer(this);
    m_incomingTimer->setSingleShot(true);
    m_incomingTimer->setInterval(800);
    connect(m_incomingTimer, &QTimer::timeout, this, &MainWindow::refreshIncoming);
    connect(m_pacs, &PacsService::instanceArrived, this, [this] {
        if (!m_incomingTimer->isActive()) {
            m_incomingTimer->start();
        }
    });
    connect(m_pacs, &PacsService::instanceReceived, this,
            [this](const QString&, const QString&, const QString& caller) {
                showIdle(tr("Receiving a study from %1...").arg(caller));
                if (!m_incomingTimer->isActive()) {
                    m_incomingTimer->start();
                }
            });
    connect(m_pacs, &PacsService::retrievalFinished, this, [this](const Retrieval& r) {
        logEvent("pacs", "retrieval of study " + r.studyInstanceUid + " from " + r.node + ": " +
                             toString(r.state) + ", " + std::to_string(r.present) + " of " +
                             std::to_string(r.expected) +
                             (r.error.empty() ? std::string() : ": " + r.error));
        // A study's latest retrieval is its problem, until one completes it.
        if (r.state == Retrieval::State::Complete) {
            m_networkProblems.erase(r.studyInstanceUid);
        } else {
            m_networkProblems[r.studyInstanceUid] = {
                r.folder + "/" + r.studyInstanceUid,
                "retrieval " + std::string(toString(r.state)) + ": " + std::to_string(r.present) +
                    " of " + std::to_string(r.expected) + " images. " + r.error};
        }
        showRetrievalNotes();
        refreshIncoming();
    });
    connect(
        m_pacs, &PacsService::sent, this,
        [this](const QString& node, int stored, const QStringList& failures, const QString& error) {
            if (!error.isEmpty()) {
                showIdle(tr("Sending failed: %1").arg(error));
            } else {
                showIdle(tr("Sent %1 file(s) to %2%3")
                             .arg(stored)
                             .arg(node)
                             .arg(failures.isEmpty() ? QString()
                                                     : tr("; %1 refused").arg(failures.size())));
            }
            std::vector<Problem> problems;
            for (const QString& f : failures) {
                problems.push_back({node.toStdString(), f.toStdString()});
            }
            m_problemModel->addProblems(problems);
        });
    connect(m_pacs, &PacsService::listenerChanged, this,
            [this](bool running, const QString& message) {
                if (!running && !message.isEmpty() && m_pacs->settings().listenerEnabled) {
                    m_problemModel->addProblems(
                        {{m_pacs->settingsPath().toStdString(), message.toStdString()}});
                }
            });
    if (m_pacs->settings().listenerEnabled) {
        m_pacs->startListener();
    }
    showRetrievalNotes();

    connect(m_cancel, &QPushButton::clicked, this, [this] {
        m_indexJob->cancel();
        m_series->cancelAll();
        if (m_demoWatcher != nullptr) {
            m_demoWatcher->cancel();
        }
        showIdle(tr("Cancelled"));
    });
    connect(m_search, &QLineEdit::textChanged, this, [this](const QString& text) {
        m_browser->setSearchText(text);
        m_tree->expandAll();
    });
    connect(m_tree, &QTreeView::activated, this, [this](const QModelIndex& index) {
        const QModelIndex row = index.siblingAtColumn(0);
        const QString uid = row.data(StudyTreeModel::SeriesUidRole).toString();
        if (!uid.isEmpty()) {
            openSeries(uid, row.data(StudyTreeModel::InstancePathRole).toString());
        }
    });
    connect(deleteButton, &QPushButton::clicked, this, [this] {
        MeasurementListModel* model = measurementModel();
        const QModelIndex current = m_measurementView->currentIndex();
        if (model && current.isValid()) {
            model->remove(current.data(MeasurementListModel::IdRole).toLongLong());
        }
    });
    connect(m_viewer, &ViewerArea::activeFrameChanged, this, &MainWindow::onActiveFrameChanged);
    connect(m_viewer, &ViewerArea::seriesDropped, this,
            [this](ViewportFrame* frame, const QString& uid, const QString& image) {
                openSeries(uid, image, frame);
            });
    for (ViewportFrame* frame : m_viewer->findChildren<ViewportFrame*>()) {
        connectViewport(frame);
    }
    createMenus();
    onActiveFrameChanged(m_viewer->activeFrame());
    updateRecentMenu();
    showIdle(tr("Ready"));
}

MainWindow::~MainWindow() {
    // Stop background work before the models it reports to go away.
    m_indexJob->cancel();
    m_series->cancelAll();
}

Viewport* MainWindow::activeViewport() const {
    return m_viewer->activeFrame()->viewport();
}

QString MainWindow::currentSeriesUid() const {
    const auto& volume = activeViewport()->volume();
    return volume ? QString::fromStdString(volume->seriesInstanceUid) : QString();
}

MeasurementListModel* MainWindow::measurementModel() const {
    const auto& volume = activeViewport()->volume();
    if (!volume) {
        return nullptr;
    }
    const auto it = m_measurements.find(volume->seriesInstanceUid);
    return it == m_measurements.end() ? nullptr : it->second;
}

MeasurementListModel* MainWindow::measurementsFor(const std::shared_ptr<const Volume>& volume) {
    if (!volume) {
        return nullptr;
    }
    MeasurementListModel*& model = m_measurements[volume->seriesInstanceUid];
    if (model == nullptr) {
        model = new MeasurementListModel(this);
        model->setStore(m_store.get());
        connect(model, &MeasurementListModel::errorOccurred, this, [this](const QString& message) {
            m_problemModel->addProblems(
                {{tr("Measurements").toStdString(), message.toStdString()}});
            showIdle(message);
        });
    }
    if (model->volume() != volume) {
        model->setVolume(volume);
    }
    return model;
}

void MainWindow::pruneMeasurementModels() {
    std::set<std::string> shown;
    for (ViewportFrame* frame : m_viewer->findChildren<ViewportFrame*>()) {
        if (const auto& volume = frame->viewport()->volume()) {
            shown.insert(volume->seriesInstanceUid);
        }
    }
    for (auto it = m_measurements.begin(); it != m_measurements.end();) {
        if (shown.count(it->first) == 0) {
            if (m_measurementView->model() == it->second) {
                m_measurementView->setModel(nullptr);
            }
            for (ViewportFrame* frame : m_viewer->findChildren<ViewportFrame*>()) {
                if (frame->viewport()->measurementModel() == it->second) {
                    frame->viewport()->setMeasurementModel(nullptr);
                }
            }
            it->second->deleteLater();
            it = m_measurements.erase(it);
        } else {
            ++it;
        }
    }
}

void MainWindow::withActive(const std::function<void(Viewport&)>& f) {
    f(*activeViewport());
}

// ---- series delivery
// -----------------------------------------------------------------------------

void MainWindow::connectService() {
    const auto framesFor = [this](const QString& key) {
        QList<ViewportFrame*> out;
        for (auto it = m_pending.begin(); it != m_pending.end(); ++it) {
            if (it.value() == key) {
                out << it.key();
            }
        }
        return out;
    };
    connect(m_series, &SeriesService::progressed, this,
            [this](const QString&, double f) { showProgress(f); });
    connect(m_series, &SeriesService::volumeStarted, this,
            [this, framesFor](const QString& key, std::shared_ptr<const Volume> volume) {
                for (ViewportFrame* frame : framesFor(key)) {
                    if (frame->viewport()->volume() != volume) {
                        frame->viewport()->setVolume(volume, false, key);
                        frame->viewport()->setMeasurementModel(measurementsFor(volume));
                    }
                }
            });
    connect(m_series, &SeriesService::sliceDecoded, this,
            [this, framesFor](const QString& key, int k) {
                for (ViewportFrame* frame : framesFor(key)) {
                    frame->viewport()->markSliceReady(k);
                }
            });
    connect(m_series, &SeriesService::sliceFailed, this,
            [this, framesFor](const QString& key, int k, const QString& reason) {
                for (ViewportFrame* frame : framesFor(key)) {
                    frame->viewport()->markSliceFailed(k, reason);
                }
            });
    connect(m_series, &SeriesService::loaded, this,
            [this, framesFor](const QString& key, std::shared_ptr<const Volume> volume,
                              const std::vector<Problem>& problems) {
                for (ViewportFrame* frame : framesFor(key)) {
                    Viewport* v = frame->viewport();
                    if (v->volume() != volume) {
                        v->setVolume(volume, true, key);
                    } else {
                        v->markAllSlicesReady();
                    }
                    v->setMeasurementModel(measurementsFor(volume));
                    m_aiPanel->volumeLoaded(v);
                }
                pruneMeasurementModels();
                m_problemModel->addProblems(problems);
                // Every warning about the series goes into the Problems panel under its name.
                const std::string series =
                    "Series " + std::to_string(volume->seriesNumber) + " " +
                    (volume->description.empty() ? volume->modality : volume->description) + " (" +
                    volume->seriesInstanceUid + ")";
                std::vector<Problem> warnings;
                for (const std::string& warning : volume->warnings) {
                    warnings.push_back({series, warning});
                }
                m_problemModel->addProblems(warnings);
                const QString name = volume->description.empty()
                                         ? tr("Series %1 %2")
                                               .arg(volume->seriesNumber)
                                               .arg(QString::fromStdString(volume->modality))
                                         : QString::fromStdString(volume->description);
                QString message = tr("%1: %2 x %3 x %4")
                                      .arg(name)
                                      .arg(volume->size()[0])
                                      .arg(volume->size()[1])
                                      .arg(volume->size()[2]);
                if (!volume->warnings.empty()) {
                    message +=
                        QStringLiteral("  -  ") + QString::fromStdString(volume->warnings.front());
                    if (volume->warnings.size() > 1) {
                        message += tr("  (+%1 more in Problems)").arg(volume->warnings.size() - 1);
                    }
                }
                showIdle(message);
                onActiveFrameChanged(m_viewer->activeFrame());
                Q_EMIT seriesLoaded(QString::fromStdString(volume->seriesInstanceUid));
            });
    connect(m_series, &SeriesService::failed, this,
            [this, framesFor](const QString& key, const QString& reason) {
                for (ViewportFrame* frame : framesFor(key)) {
                    // Nothing of the failed series stays on screen under its name.
                    frame->viewport()->clear();
                    m_pending.remove(frame);
                }
                const QString uid = key.section(QLatin1Char('|'), 0, 0);
                showIdle(tr("Could not open the series: %1").arg(reason));
                m_problemModel->addProblems({{uid.toStdString(), reason.toStdString()}});
                Q_EMIT seriesFailed(uid, reason);
            });
}

void MainWindow::connectViewport(ViewportFrame* frame) {
    Viewport* v = frame->viewport();
    connect(v, &Viewport::cursorReadout, m_readout, &QLabel::setText);
    connect(v, &Viewport::sliceChanged, this, [this, frame] {
        if (frame == m_viewer->activeFrame()) {
            updateStatus();
            if (m_tags->isVisible()) {
                showSliceTags();
            }
        }
    });
    connect(v, &Viewport::windowChanged, this, [this, frame] {
        if (frame == m_viewer->activeFrame()) {
            updateStatus();
        }
    });
}

void MainWindow::openSeries(const QString& seriesInstanceUid, const QString& imagePath,
                            ViewportFrame* frame) {
    const auto& index = m_treeModel->studyIndex();
    if (!index && imagePath.isEmpty()) {
        return;
    }
    if (frame == nullptr) {
        frame = m_viewer->activeFrame();
    }
    if (m_viewer->mprMode()) {
        m_viewer->setMprMode(false);
        m_mprAction->setChecked(false);
    }
    const SeriesRequest request =
        SeriesService::requestFor(index ? *index : StudyIndex{}, seriesInstanceUid, imagePath);
    if (request.files.empty()) {
        return;
    }
    m_openFirstSeries = false;
    const QString previous = m_pending.value(frame);
    if (!previous.isEmpty() && previous != request.key && !m_pending.keys(previous).isEmpty() &&
        m_pending.keys(previous).size() == 1) {
        m_series->cancel(previous); // nobody else waits for it
    }
    m_pending.insert(frame, request.key);
    frame->viewport()->setPlane(PlaneKind::Native);
    const QModelIndex row = m_browser->mapFromSource(m_treeModel->indexOfSeries(seriesInstanceUid));
    if (row.isValid()) {
        m_tree->setCurrentIndex(row);
    }
    const SeriesEntry* series =
        index ? index->findSeries(seriesInstanceUid.toStdString()) : nullptr;
    showBusy(tr("Loading %1...")
                 .arg(series ? QString::fromStdString(series->description) : seriesInstanceUid));
    m_series->open(request);
}

// ---- menus
// ----------------------------------------------------------------------------------------

QAction* MainWindow::command(QMenu* menu, const QString& text, const QKeySequence& shortcut,
                             const std::function<void()>& run, bool viewerOnly) {
    QAction* action = menu->addAction(text);
    if (!shortcut.isEmpty()) {
        action->setShortcut(shortcut);
    }
    if (viewerOnly) {
        // Single keys act only where images are, never while typing in the search field.
        action->setShortcutContext(Qt::WidgetWithChildrenShortcut);
        m_viewer->addAction(action);
    }
    connect(action, &QAction::triggered, this, run);
    m_commands << action;
    return action;
}

void MainWindow::createMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    command(file, tr("Open &Folder..."), QKeySequence::Open, [this] {
        const QString folder =
            QFileDialog::getExistingDirectory(this, tr("Open a folder of DICOM files"));
        if (!folder.isEmpty()) {
            openPaths({folder});
        }
    });
    command(file, tr("Open F&iles..."), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O), [this] {
        const QStringList files = QFileDialog::getOpenFileNames(this, tr("Open DICOM files"));
        if (!files.isEmpty()) {
            openPaths(files);
        }
    });
    command(file, tr("Open DICOM&DIR..."), {}, [this] {
        const QString dicomdir =
            QFileDialog::getOpenFileName(this, tr("Open a DICOMDIR"), QString(),
                                         tr("DICOMDIR (DICOMDIR dicomdir);;All files (*)"));
        if (!dicomdir.isEmpty()) {
            openPaths({dicomdir});
        }
    });
    m_recentMenu = file->addMenu(tr("&Recent Studies"));
    command(file, tr("Open &Demo Study"), QKeySequence(Qt::CTRL | Qt::Key_D),
            [this] { openDemoStudy(); });
    file->addSeparator();
    command(file, tr("&Export Viewport as PNG..."), QKeySequence(Qt::CTRL | Qt::Key_E),
            [this] { exportViewport(); });
    command(file, tr("Export &Series as NIfTI / NRRD..."),
            QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E), [this] { exportSeries(); });
    command(file, tr("Save AI Reading as DICOM..."), {}, [this] {
        const QString folder = QFileDialog::getExistingDirectory(
            this, tr("Folder for the AI reading (Structured Report, Secondary Capture)"));
        if (!folder.isEmpty()) {
            saveAiResultsTo(folder);
        }
    });
    command(file, tr("Send AI Reading to PACS..."), {}, [this] {
        if (const auto node =
                chooseNode(tr("Send AI Reading"), tr("Send the AI reading shown to:"))) {
            saveAiResultsTo(QString::fromStdString(userDataFolder()) + QStringLiteral("/results/") +
                                QString::number(QDateTime::currentMSecsSinceEpoch()),
                            QString::fromStdString(node->name));
        }
    });
    command(file, tr("Export Study &De-identified..."), {}, [this] {
        const QString folder = QFileDialog::getExistingDirectory(
            this, tr("Folder for the de-identified copies of the study shown"));
        if (!folder.isEmpty()) {
            exportStudyDeidentifiedTo(folder);
        }
    });
    file->addSeparator();
    command(file, tr("&Query / Retrieve (PACS)..."), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Q),
            [this] {
                QueryRetrieveWindow* window = queryRetrieveWindow();
                window->show();
                window->raise();
                window->activateWindow();
            });
    command(file, tr("Se&nd Series to PACS..."), {}, [this] {
        if (const auto node = chooseNode(tr("Send Series"), tr("Send the series shown to:"))) {
            sendCurrentSeries(QString::fromStdString(node->name));
        }
    });
    command(file, tr("Ne&twork Settings..."), {}, [this] {
        NetworkSettingsDialog dialog(*m_pacs, this);
        if (dialog.exec() == QDialog::Accepted && m_queryRetrieve != nullptr) {
            m_queryRetrieve->reloadNodes();
        }
    });
    file->addSeparator();
    command(file, tr("&Quit"), QKeySequence::Quit, [this] { close(); });

    QMenu* view = menuBar()->addMenu(tr("&View"));
    QMenu* layout = view->addMenu(tr("&Layout"));
    command(layout, tr("1 x 1"), QKeySequence(Qt::CTRL | Qt::Key_1),
            [this] { m_viewer->setViewLayout(ViewerArea::Layout::One); });
    command(layout, tr("1 x 2"), QKeySequence(Qt::CTRL | Qt::Key_2),
            [this] { m_viewer->setViewLayout(ViewerArea::Layout::OneByTwo); });
    command(layout, tr("2 x 2"), QKeySequence(Qt::CTRL | Qt::Key_3),
            [this] { m_viewer->setViewLayout(ViewerArea::Layout::TwoByTwo); });
    m_mprAction = command(
        view, tr("&MPR (Axial / Coronal / Sagittal)"), QKeySequence(Qt::Key_M),
        [this] {
            const bool on = m_mprAction->isChecked();
            if (!m_viewer->setMprMode(on)) {
                m_mprAction->setChecked(false);
                showIdle(tr("MPR needs a volume with several slices, loaded completely"));
            }
        },
        true);
    m_mprAction->setCheckable(true);
    view->addSeparator();
    command(
        view, tr("&Fit to Viewport"), QKeySequence(Qt::Key_F),
        [this] { withActive([](Viewport& v) { v.fit(); }); }, true);
    command(
        view, tr("&One to One (1:1)"), QKeySequence(Qt::Key_Equal),
        [this] { withActive([](Viewport& v) { v.oneToOne(); }); }, true);
    command(
        view, tr("Zoom &In"), QKeySequence(Qt::CTRL | Qt::Key_Plus),
        [this] { withActive([](Viewport& v) { v.zoomBy(1.25); }); }, true);
    command(
        view, tr("Zoom O&ut"), QKeySequence(Qt::CTRL | Qt::Key_Minus),
        [this] { withActive([](Viewport& v) { v.zoomBy(0.8); }); }, true);
    command(
        view, tr("Rotate &Left"), QKeySequence(Qt::Key_BracketLeft),
        [this] { withActive([](Viewport& v) { v.rotate(-1); }); }, true);
    command(
        view, tr("Rotate &Right"), QKeySequence(Qt::Key_BracketRight),
        [this] { withActive([](Viewport& v) { v.rotate(1); }); }, true);
    command(
        view, tr("Flip &Horizontally"), QKeySequence(Qt::Key_H),
        [this] { withActive([](Viewport& v) { v.flipHorizontal(); }); }, true);
    command(
        view, tr("Flip &Vertically"), QKeySequence(Qt::Key_V),
        [this] { withActive([](Viewport& v) { v.flipVertical(); }); }, true);
    view->addSeparator();
    command(
        view, tr("&Invert Grey Scale"), QKeySequence(Qt::Key_I),
        [this] { withActive([](Viewport& v) { v.setInverted(!v.inverted()); }); }, true);
    m_presetMenu = view->addMenu(tr("&Window Presets"));
    connect(m_presetMenu, &QMenu::aboutToShow, this, &MainWindow::updatePresetMenu);
    command(
        view, tr("File &Window / Automatic"), QKeySequence(Qt::Key_0),
        [this] { withActive([](Viewport& v) { v.resetWindow(); }); }, true);
    command(
        view, tr("Corner &Overlays"), QKeySequence(Qt::Key_O),
        [this] {
            const bool show = !activeViewport()->overlaysVisible();
            for (ViewportFrame* frame : m_viewer->frames()) {
                frame->viewport()->setOverlaysVisible(show);
            }
        },
        true);
    view->addSeparator();
    m_cineAction = command(
        view, tr("&Cine Play / Pause"), QKeySequence(Qt::Key_Space),
        [this] {
            ViewportFrame* frame = m_viewer->activeFrame();
            frame->setCineFps(m_fps->value());
            frame->setCinePlaying(!frame->isCinePlaying());
        },
        true);
    view->addSeparator();
    for (QDockWidget* dock : findChildren<QDockWidget*>()) {
        QAction* toggle = dock->toggleViewAction();
        if (dock->objectName() == QLatin1String("tags")) {
            toggle->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_T));
        }
        view->addAction(toggle);
        m_commands << toggle;
    }

    QMenu* tools = menuBar()->addMenu(tr("&Tools"));
    m_tools = new QActionGroup(this);
    const struct {
        QString text;
        Qt::Key key;
        Viewport::Tool tool;
    } toolList[] = {
        {tr("&Navigate (pan, crosshair)"), Qt::Key_N, Viewport::Tool::Navigate},
        {tr("&Distance"), Qt::Key_D, Viewport::Tool::Distance},
        {tr("&Angle"), Qt::Key_A, Viewport::Tool::Angle},
        {tr("&Rectangle ROI"), Qt::Key_R, Viewport::Tool::Rectangle},
        {tr("&Ellipse ROI"), Qt::Key_E, Viewport::Tool::Ellipse},
    };
    for (const auto& t : toolList) {
        const Viewport::Tool tool = t.tool;
        QAction* action = command(
            tools, t.text, QKeySequence(t.key),
            [this, tool] {
                for (ViewportFrame* frame : m_viewer->findChildren<ViewportFrame*>()) {
                    frame->viewport()->setTool(tool);
                }
            },
            true);
        action->setCheckable(true);
        action->setChecked(tool == Viewport::Tool::Navigate);
        m_tools->addAction(action);
    }
    tools->addSeparator();
    command(
        tools, tr("Delete Selected Measurement"), QKeySequence::Delete,
        [this] {
            MeasurementListModel* model = measurementModel();
            const QModelIndex current = m_measurementView->currentIndex();
            if (model && current.isValid()) {
                model->remove(current.data(MeasurementListModel::IdRole).toLongLong());
            }
        },
        true);
    tools->addSeparator();
    command(tools, tr("Load the &AI Engine"), {}, [this] { loadMlEngine(); });
    command(tools, tr("Open AI &Model..."), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_M), [this] {
        const QString dir = QFileDialog::getExistingDirectory(
            this, tr("Open a model package (a folder with card.json and model.pt)"));
        if (!dir.isEmpty()) {
            openModel(dir);
        }
    });
    command(
        tools, tr("&Classify Series"), QKeySequence(Qt::CTRL | Qt::Key_K),
        [this] { m_aiPanel->classifyNow(); }, true);
    command(
        tools, tr("Show / Hide AI &Overlay"), QKeySequence(Qt::Key_S),
        [this] { m_aiPanel->setOverlayVisible(!activeViewport()->saliencyVisible()); }, true);
    command(
        tools, tr("AI Overlay &Faithfulness"), {}, [this] { m_aiPanel->explainNow(true); }, true);
    tools->addSeparator();
    m_labellingAction = command(tools, tr("&Labelling Mode"), QKeySequence(Qt::CTRL | Qt::Key_L),
                                [this] { setLabellingMode(m_labellingAction->isChecked()); });
    m_labellingAction->setCheckable(true);
    command(tools, tr("&Train a New Model..."), {}, [this] {
        if (TrainingWindow* w = trainingWindow()) {
            w->show();
            w->raise();
        }
    });
    command(tools, tr("Model &Registry..."), {}, [this] {
        if (ModelsWindow* w = modelsWindow()) {
            w->refresh();
            w->show();
            w->raise();
        }
    });
    // Labelling keys: active only in labelling mode (the digits choose window presets
    // otherwise).
    const auto labellingKey = [this](const QKeySequence& keys, const std::function<void()>& run) {
        auto* action = new QAction(this);
        action->setShortcut(keys);
        action->setShortcutContext(Qt::WindowShortcut);
        action->setEnabled(false);
        connect(action, &QAction::triggered, this, run);
        addAction(action);
        m_labellingKeys << action;
    };
    for (int i = 0; i < 9; ++i) {
        labellingKey(QKeySequence(Qt::Key_1 + i), [this, i] { m_labelPanel->labelWithClass(i); });
    }
    // Enter in a text field (the annotator's name) finishes the text, it never labels.
    const auto accept = [this] {
        if (auto* field = qobject_cast<QLineEdit*>(QApplication::focusWidget())) {
            field->clearFocus();
            return;
        }
        m_labelPanel->acceptSuggestion();
    };
    labellingKey(QKeySequence(Qt::Key_Return), accept);
    labellingKey(QKeySequence(Qt::Key_Enter), accept);
    labellingKey(QKeySequence(Qt::Key_J), [this] { m_labelPanel->goToUnlabelled(1); });
    labellingKey(QKeySequence(Qt::Key_K), [this] { m_labelPanel->goToUnlabelled(-1); });
    labellingKey(QKeySequence::Undo, [this] { m_labelPanel->undo(); });
    labellingKey(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Z), [this] { m_labelPanel->redo(); });
    tools->addSeparator();
    command(tools, tr("Patient Risk &Forecasts..."), {}, [this] { patientRisk(); });

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    command(help, tr("&Keyboard and Mouse"), QKeySequence::HelpContents, [this] {
        QDialog dialog(this);
        dialog.setWindowTitle(tr("Keyboard and mouse"));
        auto* table = new QTableWidget(0, 2, &dialog);
        table->setHorizontalHeaderLabels({tr("Key or gesture"), tr("Does")});
        const auto row = [table](const QString& key, const QString& does) {
            const int r = table->rowCount();
            table->insertRow(r);
            table->setItem(r, 0, new QTableWidgetItem(key));
            table->setItem(r, 1, new QTableWidgetItem(does));
        };
        const std::pair<const char*, const char*> gestures[] = {
            {"Wheel, Up / Down", "previous / next slice"},
            {"Page Up / Page Down", "10% of the slices"},
            {"Home / End", "first / last slice"},
            {"Ctrl + wheel", "zoom at the cursor"},
            {"Right-drag", "window: left/right width, up/down level (2 units per pixel)"},
            {"Middle-drag, or left-drag in Navigate", "pan (Shift + left-drag in MPR)"},
            {"Left click / drag in MPR (Navigate)", "move the crosshair"},
            {"Left-drag (Distance, Rectangle, Ellipse)", "draw; Angle: three clicks"},
            {"1 - 9", "window presets (CT: brain, subdural, stroke, lung, mediastinum, abdomen, "
                      "liver, bone); in labelling mode (Ctrl+L): label the image with class 1-9"},
            {"Enter (labelling mode)", "accept the model's suggestion for the image"},
            {"J / K (labelling mode)", "next / previous unlabelled image of the worklist"},
            {"Ctrl+Z / Ctrl+Shift+Z (labelling mode)", "undo / redo a label"},
            {"Escape", "abandon the measurement being drawn"},
            {"Click the AI panel's probability strip", "show that slice"},
        };
        for (const auto& [key, does] : gestures) {
            row(tr(key), tr(does));
        }
        for (QAction* action : m_commands) {
            if (!action->shortcut().isEmpty() && action->isVisible()) {
                row(action->shortcut().toString(QKeySequence::NativeText),
                    action->text().remove(QLatin1Char('&')));
            }
        }
        table->resizeColumnsToContents();
        table->horizontalHeader()->setStretchLastSection(true);
        auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, &dialog);
        connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
        auto* box = new QVBoxLayout(&dialog);
        box->addWidget(table);
        box->addWidget(buttons);
        dialog.resize(640, 560);
        dialog.exec();
    });
    command(help, tr("&About Radiolens"), {}, [this] {
        QMessageBox::about(this, tr("About Radiolens"),
                           tr("Radiolens 0.1 - a diagnostic imaging workstation.\n"
                              "DICOM through DCMTK and GDCM, images through ITK, models through "
                              "LibTorch. Patient data never leave this machine."));
    });

    // A toolbar with the most used commands.
    QToolBar* bar = addToolBar(tr("Viewer"));
    bar->setObjectName(QStringLiteral("viewer-toolbar"));
    for (QAction* action : m_tools->actions()) {
        bar->addAction(action);
    }
    bar->addSeparator();
    bar->addAction(m_mprAction);
    bar->addAction(m_cineAction);
    m_fps = new QDoubleSpinBox;
    m_fps->setRange(1, 60);
    m_fps->setValue(10);
    m_fps->setSuffix(tr(" fps"));
    m_fps->setToolTip(tr("Cine speed"));
    bar->addWidget(m_fps);
    connect(m_fps, &QDoubleSpinBox::valueChanged, this,
            [this](double fps) { m_viewer->activeFrame()->setCineFps(fps); });
}

void MainWindow::updatePresetMenu() {
    m_presetMenu->clear();
    const auto presets = activeViewport()->presets();
    for (int i = 0; i < int(presets.size()); ++i) {
        QAction* action =
            m_presetMenu->addAction(tr("%1   (C %2 / W %3)")
                                        .arg(QString::fromStdString(presets[std::size_t(i)].name))
                                        .arg(presets[std::size_t(i)].center)
                                        .arg(presets[std::size_t(i)].width));
        if (i < 9) {
            action->setShortcut(QKeySequence(Qt::Key_1 + i));
            action->setShortcutContext(Qt::WidgetShortcut); // the viewport handles the digit
        }
        connect(action, &QAction::triggered, this, [this, i] { activeViewport()->applyPreset(i); });
    }
    if (presets.empty()) {
        m_presetMenu->addAction(tr("(open a series)"))->setEnabled(false);
    }
}

void MainWindow::updateRecentMenu() {
    m_recentMenu->clear();
    if (!m_store) {
        m_recentMenu->addAction(tr("(the study store is not available)"))->setEnabled(false);
        return;
    }
    std::vector<RecentStudy> recent;
    try {
        recent = m_store->recentStudies(10);
    } catch (const std::exception&) {
    }
    for (const RecentStudy& study : recent) {
        QStringList paths;
        for (const auto& p : study.paths) {
            paths << QString::fromStdString(p);
        }
        QAction* action = m_recentMenu->addAction(QString::fromStdString(study.label));
        action->setToolTip(paths.join(QLatin1Char('\n')));
        connect(action, &QAction::triggered, this, [this, paths] { openPaths(paths); });
    }
    if (recent.empty()) {
        m_recentMenu->addAction(tr("(none yet)"))->setEnabled(false);
    }
}

// ---- status
// ---------------------------------------------------------------------------------------

void MainWindow::showBusy(const QString& what) {
    m_status->setText(what);
    m_status->setToolTip(what);
    m_progressTimer->stop();
    m_progressPercent = 0;
    m_progress->setValue(0);
    m_progress->show();
    m_cancel->show();
}

void MainWindow::showProgress(double fraction) {
    m_progressPercent = std::clamp(int(fraction * 100), 0, 100);
    if (!m_progressTimer->isActive()) {
        m_progressTimer->start();
    }
}

void MainWindow::showIdle(const QString& message) {
    m_status->setText(message);
    m_status->setToolTip(message);
    m_progressTimer->stop();
    m_progress->hide();
    m_cancel->hide();
}

void MainWindow::updateStatus() {
    Viewport* v = activeViewport();
    if (!v->volume()) {
        return;
    }
    updateLabellingImage();
    const QString title = tr("Radiolens - %1 - %2")
                              .arg(personName(v->volume()->patientName))
                              .arg(QString::fromStdString(v->volume()->description));
    if (title != windowTitle()) {
        setWindowTitle(title);
    }
}

void MainWindow::onActiveFrameChanged(ViewportFrame* frame) {
    Viewport* v = frame->viewport();
    m_aiPanel->setViewport(v);
    MeasurementListModel* model = v->volume() ? measurementsFor(v->volume()) : nullptr;
    if (m_measurementView->model() == model) {
        updateStatus();
        return;
    }
    m_measurementView->setModel(model);
    if (model) {
        connect(m_measurementView->selectionModel(), &QItemSelectionModel::currentRowChanged, v,
                [v, model](const QModelIndex& current) {
                    if (!current.isValid()) {
                        return;
                    }
                    const std::int64_t id = current.data(MeasurementListModel::IdRole).toLongLong();
                    v->setSelectedMeasurement(id);
                    // Show the slice the measurement lies on.
                    if (const Measurement* m = model->find(id)) {
                        const MeasurementValue value = model->value(*m);
                        if (value.slice >= 0) {
                            v->setPlane(value.plane);
                            v->setCurrentSlice(value.slice);
                        }
                    }
                });
    }
    updateStatus();
    if (m_tags->isVisible()) {
        showSliceTags();
    }
}

void MainWindow::setLabellingMode(bool on) {
    if (on && !m_store) {
        m_labellingAction->setChecked(false);
        showIdle(tr("Labelling needs the study store, which could not be opened"));
        return;
    }
    if (on && m_labelPanel == nullptr) {
        m_labelling = new LabellingSession(*m_store, this);
        m_labelPanel = new LabelPanel(m_labelling);
        m_labelDock = new QDockWidget(tr("Labelling"), this);
        m_labelDock->setObjectName(QStringLiteral("labelling"));
        auto* scroll = new QScrollArea;
        scroll->setWidget(m_labelPanel);
        scroll->setWidgetResizable(true);
        scroll->setMinimumWidth(m_labelPanel->sizeHint().width() + 20);
        m_labelDock->setWidget(scroll);
        addDockWidget(Qt::RightDockWidgetArea, m_labelDock);
        connect(m_labelPanel, &LabelPanel::openRequested, this, [this](const InstanceRecord& r) {
            openSeries(QString::fromStdString(r.seriesInstanceUid),
                       QString::fromStdString(r.instance.path));
        });
        connect(m_labelPanel, &LabelPanel::trainRequested, this, [this] {
            if (TrainingWindow* w = trainingWindow()) {
                w->show();
                w->raise();
            }
        });
        connect(m_labelPanel, &LabelPanel::modelsRequested, this, [this] {
            if (ModelsWindow* w = modelsWindow()) {
                w->refresh();
                w->show();
                w->raise();
            }
        });
        m_labelPanel->refreshWorklist();
    }
    m_labellingAction->setChecked(on);
    if (m_labelDock != nullptr) {
        m_labelDock->setVisible(on);
    }
    for (QAction* action : m_labellingKeys) {
        action->setEnabled(on);
    }
    if (on) {
        m_labellingFile.clear();
        updateLabellingImage();
    }
}

bool MainWindow::labellingMode() const {
    return m_labellingAction->isChecked();
}

TrainingWindow* MainWindow::trainingWindow() {
    if (m_training == nullptr && m_store) {
        m_training = new TrainingWindow(QString::fromStdString(m_store->path()), this);
        connect(m_training, &TrainingWindow::modelsRequested, this, [this] {
            if (ModelsWindow* w = modelsWindow()) {
                w->refresh();
                w->show();
                w->raise();
            }
        });
        connect(m_training, &TrainingWindow::published, this, [this] {
            if (m_models != nullptr) {
                m_models->refresh();
            }
        });
    }
    return m_training;
}

ModelsWindow* MainWindow::modelsWindow() {
    if (m_models == nullptr && m_store) {
        m_models = new ModelsWindow(*m_store, this);
        connect(m_models, &ModelsWindow::activeModelChanged, this, [this] {
            if (m_labelling != nullptr) {
                m_labelling->activeModelChanged();
                m_labelPanel->refreshWorklist();
            }
        });
    }
    return m_models;
}

QString MainWindow::currentImageFile() const {
    const Viewport* v = activeViewport();
    const auto& volume = v->volume();
    if (!volume || volume->sliceFiles.empty()) {
        return {};
    }
    // The file of the native slice shown (reformats show the middle slice's file).
    std::size_t k = volume->sliceFiles.size() / 2;
    if (v->plane() == PlaneKind::Native) {
        k = std::min<std::size_t>(std::size_t(v->currentSlice()), volume->sliceFiles.size() - 1);
    }
    return QString::fromStdString(volume->sliceFiles[k]);
}

void MainWindow::updateLabellingImage() {
    if (m_labelling == nullptr || !labellingMode() || !m_store) {
        return;
    }
    const QString file = currentImageFile();
    // Called on every slice, window and view change: only a new image needs the store.
    if (file.isEmpty() || file == m_labellingFile) {
        return;
    }
    m_labellingFile = file;
    try {
        if (auto record = IndexCache(*m_store).byPath(file.toStdString())) {
            m_labelling->setCurrentImage(*record);
        }
    } catch (const std::exception& e) {
        showIdle(QString::fromStdString(e.what()));
    }
}

void MainWindow::showSliceTags() {
    const QString path = currentImageFile();
    if (path.isEmpty()) {
        return;
    }
    if (m_tags->currentFile() != path) {
        m_tags->showFile(path);
    }
}

// ---- opening
// --------------------------------------------------------------------------------------

void MainWindow::openPaths(const QStringList& paths) {
    if (paths.isEmpty()) {
        return;
    }
    m_openFirstSeries = true;
    m_lastPaths = paths;
    showBusy(tr("Reading headers of %1...")
                 .arg(paths.size() == 1 ? paths.front() : tr("%1 items").arg(paths.size())));
    m_indexJob->start(paths);
}

void MainWindow::onIndexed(std::shared_ptr<const StudyIndex> index, bool fromStore,
                           bool unchanged) {
    if (!fromStore && unchanged && m_showingStoreIndex) {
        // The folder is as the store kept it: the tree stays, the problems come in.
        m_showingStoreIndex = false;
        showProblems(index->problems);
        showIdle(tr("%1 series; the folder is unchanged since it was last read; %2 problem(s)")
                     .arg(index->seriesCount())
                     .arg(index->problems.size()));
        Q_EMIT studiesIndexed();
        return;
    }
    m_showingStoreIndex = fromStore;
    m_treeModel->setIndex(index);
    if (m_patientRisk != nullptr) {
        m_patientRisk->setStudies(index);
    }
    if (!m_demoChestSeries.isEmpty()) {
        m_demoIndexed = true;
        QTimer::singleShot(0, this, &MainWindow::showDemoChest); // after the first series opens
    }
    m_browser->clearThumbnails();
    m_tree->expandAll();
    showProblems(index->problems);
    std::size_t studies = 0;
    for (const auto& p : index->patients) {
        studies += p.studies.size();
    }
    const std::size_t series = index->seriesCount();
    showIdle(index->cancelled ? tr("Indexing cancelled")
             : fromStore      ? tr("%1 series in %2 studies, as kept in the store; reading the "
                                        "folder again...")
                               .arg(series)
                               .arg(studies)
                         : tr("%1 series in %2 studies; %3 problem(s)")
                               .arg(series)
                               .arg(studies)
                               .arg(index->problems.size()));
    if (fromStore) {
        showBusy(tr("Checking %1 series against the folder...").arg(series));
    }
    if (series > 0) {
        m_thumbnails->start(index);
        if (m_store && !index->cancelled && !fromStore) {
            RecentStudy recent;
            for (const QString& p : m_lastPaths) {
                recent.paths.push_back(QFileInfo(p).absoluteFilePath().toStdString());
            }
            const PatientEntry& patient = index->patients.front();
            const StudyEntry& study = patient.studies.front();
            recent.label =
                (personName(patient.name) + QStringLiteral(" - ") +
                 QString::fromStdString(study.description.empty() ? study.studyInstanceUid
                                                                  : study.description) +
                 (index->patients.size() > 1 || patient.studies.size() > 1
                      ? tr(" (+%1 more)").arg(studies - 1)
                      : QString()))
                    .toStdString();
            recent.openedAt = QDateTime::currentSecsSinceEpoch();
            try {
                m_store->addRecent(recent);
                updateRecentMenu();
            } catch (const std::exception&) {
            }
        }
    }
    if (fromStore) {
        Q_EMIT studiesShownFromStore();
    } else {
        logEvent("gui", "indexed " + std::to_string(series) + " series in " +
                            std::to_string(studies) + " studies, " +
                            std::to_string(index->problems.size()) + " problem(s)");
        for (std::size_t i = 0; i < index->problems.size() && i < 20; ++i) {
            logEvent("gui",
                     "problem: " + index->problems[i].path + ": " + index->problems[i].reason);
        }
        Q_EMIT studiesIndexed();
    }
    if (m_openFirstSeries && series > 0) {
        // The series with the most images is usually the one to read first.
        const auto all = index->allSeries();
        const SeriesEntry* best =
            *std::max_element(all.begin(), all.end(), [](const auto* a, const auto* b) {
                return a->instances.size() < b->instances.size();
            });
        openSeries(QString::fromStdString(best->seriesInstanceUid));
    }
}

void MainWindow::openDemoStudy() {
    if (m_demoWatcher != nullptr && m_demoWatcher->isRunning()) {
        return;
    }
    showBusy(tr("Preparing the demo study..."));
    m_progress->setRange(0, 0); // writing the demo reports no fraction to the GUI
    delete m_demoWatcher;
    m_demoWatcher = new QFutureWatcher<QString>(this);
    connect(m_demoWatcher, &QFutureWatcher<QString>::finished, this, [this] {
        m_progress->setRange(0, 100);
        if (m_demoWatcher->isCanceled()) {
            return;
        }
        const QString result = m_demoWatcher->result();
        if (result.startsWith(QLatin1Char('!'))) {
            showIdle(tr("The demo study could not be written: %1").arg(result.mid(1)));
            m_problemModel->addProblems({{demoStudyFolder(), result.mid(1).toStdString()}});
            return;
        }
        // "folder\nseries UID of the first chest radiograph with a nodule".
        const QStringList parts = result.split(QLatin1Char('\n'));
        m_demoChestSeries = parts.value(1);
        m_demoIndexed = false;
        m_demoModelReady = false;
        openPaths({parts.value(0)});
        // The demo's classifier: trained by Radiolens the first time (about a minute, in the
        // background while the CT is read), then loaded; it needs the ML plugin.
        if (!m_demoChestSeries.isEmpty() &&
            QFileInfo::exists(QString::fromStdString(MlRuntime::pluginPath()))) {
            m_ai->ensureDemoModel(QString::fromStdString(demoChestModelFolder()));
        }
    });
    m_demoWatcher->setFuture(QtConcurrent::run([]() -> QString {
        try {
            const DemoStudy demo = ensureDemoStudy(demoStudyFolder());
            QString chest;
            for (const DemoStudy::Chest& c : demo.chests) {
                if (c.nodule) {
                    chest = QString::fromStdString(c.seriesInstanceUid);
                    break;
                }
            }
            return QString::fromStdString(demo.folder) + QLatin1Char('\n') + chest;
        } catch (const std::exception& e) {
            return QLatin1Char('!') + QString::fromStdString(e.what());
        }
    }));
}

void MainWindow::openModel(const QString& dir) {
    m_engineStatus->setText(tr("AI model: loading..."));
    m_ai->loadModel(dir);
}

void MainWindow::showDemoChest() {
    if (m_demoChestSeries.isEmpty() || !m_demoIndexed || !m_demoModelReady) {
        return;
    }
    const QString uid = m_demoChestSeries;
    m_demoChestSeries.clear();
    openSeries(uid);
}

void MainWindow::loadMlEngine() {
    if (m_engineWatcher != nullptr) {
        return;
    }
    m_engineStatus->setText(tr("AI engine: loading..."));
    m_engineWatcher = new QFutureWatcher<QString>(this);
    connect(m_engineWatcher, &QFutureWatcher<QString>::finished, this, [this] {
        const QString result = m_engineWatcher->result();
        const bool ok = !result.startsWith(QLatin1Char('!'));
        const QString description = ok ? result : result.mid(1);
        m_engineStatus->setText(ok ? tr("AI engine: %1").arg(description)
                                   : tr("AI engine unavailable"));
        m_engineStatus->setToolTip(description);
        Q_EMIT mlEngineLoaded(ok, description);
    });
    m_engineWatcher->setFuture(QtConcurrent::run([]() -> QString {
        try {
            MlEngine& engine = MlRuntime::engine();
            return QString::fromStdString(engine.backendName()) +
                   QObject::tr(", %1 threads").arg(engine.threads());
        } catch (const std::exception& e) {
            return QLatin1Char('!') + QString::fromStdString(e.what());
        }
    }));
}

// ---- export
// ---------------------------------------------------------------------------------------

void MainWindow::exportViewport() {
    if (!activeViewport()->volume()) {
        return;
    }
    const QString path =
        QFileDialog::getSaveFileName(this, tr("Export the viewport as PNG"),
                                     QStringLiteral("viewport.png"), tr("PNG images (*.png)"));
    if (!path.isEmpty()) {
        exportViewportTo(path);
    }
}

bool MainWindow::exportViewportTo(const QString& path) {
    Viewport* v = activeViewport();
    // What the reader sees, overlays and measurements included.
    const bool saved = v->volume() && v->grab().save(path, "PNG");
    showIdle(saved ? tr("Saved %1").arg(path) : tr("Could not save %1").arg(path));
    return saved;
}

void MainWindow::exportSeries() {
    if (!activeViewport()->volume()) {
        return;
    }
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export the series"), QStringLiteral("series.nii.gz"),
        tr("NIfTI (*.nii.gz *.nii);;NRRD (*.nrrd);;MetaImage (*.mha)"));
    if (!path.isEmpty()) {
        exportSeriesTo(path);
    }
}

void MainWindow::saveAiResultsTo(const QString& folder, const QString& nodeName) {
    Viewport* viewport = activeViewport();
    const auto volume = viewport->volume();
    const auto result = m_aiPanel != nullptr ? m_aiPanel->classification() : nullptr;
    const auto card = m_ai->card();
    if (!volume || !result || !card || volume->sliceFiles.empty()) {
        Q_EMIT aiResultsWritten({}, tr("no AI reading of a DICOM series is shown"));
        return;
    }
    std::optional<DicomNode> destination;
    if (!nodeName.isEmpty()) {
        destination = nodeNamed(nodeName);
        if (!destination) {
            Q_EMIT aiResultsWritten({}, tr("no node is called %1").arg(nodeName));
            return;
        }
    }
    // Everything the writer needs is copied here, on the GUI thread.
    std::vector<ImageClassification> images;
    for (std::size_t k = 0; k < result->slices.size() && k < volume->sliceFiles.size(); ++k) {
        ImageClassification c;
        c.sourcePath = volume->sliceFiles[k];
        // A frame number only for files that hold several slices (multi-frame).
        const auto& files = volume->sliceFiles;
        const bool multiFrame = (k > 0 && files[k - 1] == files[k]) ||
                                (k + 1 < files.size() && files[k + 1] == files[k]);
        c.frame = multiFrame && k < volume->sliceFrames.size() ? volume->sliceFrames[k] : -1;
        const auto& p = result->slices[k];
        for (std::size_t i = 0; i < p.size() && i < card->classNames.size(); ++i) {
            c.findings.push_back({card->classNames[i], p[i]});
        }
        const auto best = std::max_element(p.begin(), p.end());
        c.predicted =
            best == p.end() ? std::string() : card->classNames[std::size_t(best - p.begin())];
        images.push_back(c);
    }
    const ModelIdentity model{card->id, card->version, card->architecture, card->weightsSha256};
    const RenderedSlice capture = viewport->saliencyCapture();
    const auto overlay = viewport->saliency();
    const int slice = overlay ? overlay->slice : -1;
    const std::string description =
        overlay ? overlay->title.toStdString() : std::string("saliency");
    showBusy(tr("Writing the AI reading as DICOM..."));
    auto* watcher = new QFutureWatcher<std::pair<QStringList, QString>>(this);
    connect(watcher, &QFutureWatcher<std::pair<QStringList, QString>>::finished, this,
            [this, watcher, destination] {
                const auto [files, error] = watcher->result();
                watcher->deleteLater();
                if (!error.isEmpty()) {
                    showIdle(tr("Could not write the AI reading: %1").arg(error));
                } else if (destination) {
                    showBusy(tr("Sending the AI reading to %1...")
                                 .arg(QString::fromStdString(destination->address())));
                    m_pacs->send(*destination, files);
                } else {
                    showIdle(tr("Wrote %1 DICOM object(s) of the AI reading").arg(files.size()));
                }
                Q_EMIT aiResultsWritten(files, error);
            });
    watcher->setFuture(QtConcurrent::run([=]() mutable -> std::pair<QStringList, QString> {
        QStringList files;
        try {
            const QDir dir(folder);
            QDir().mkpath(folder);
            ResultSeries series;
            if (capture.width > 0 && slice >= 0 && std::size_t(slice) < images.size()) {
                ImageClassification& shown = images[std::size_t(slice)];
                const WrittenObject sc = writeSaliencyCapture(
                    shown.sourcePath, shown.frame, capture, description,
                    dir.filePath(QStringLiteral("saliency-capture.dcm")).toStdString());
                shown.saliencyCapturePath = sc.path;
                shown.saliencyMethod = description;
                files << QString::fromStdString(sc.path);
                if (const auto pm = writeSaliencyParametricMap(
                        shown.sourcePath, shown.frame, overlay->width, overlay->height,
                        overlay->values, description,
                        dir.filePath(QStringLiteral("saliency-map.dcm")).toStdString())) {
                    files << QString::fromStdString(pm->path);
                }
            }
            const WrittenObject sr = writeClassificationReport(
                images, model, dir.filePath(QStringLiteral("classification-sr.dcm")).toStdString(),
                series);
            files.prepend(QString::fromStdString(sr.path));
        } catch (const std::exception& e) {
            return {files, QString::fromStdString(e.what())};
        }
        return {files, QString()};
    }));
}

void MainWindow::exportStudyDeidentifiedTo(const QString& folder) {
    const auto& index = m_treeModel->studyIndex();
    const std::string seriesUid = currentSeriesUid().toStdString();
    std::vector<std::string> files;
    if (index) {
        for (const PatientEntry& patient : index->patients) {
            for (const StudyEntry& study : patient.studies) {
                const bool shown =
                    std::any_of(study.series.begin(), study.series.end(),
                                [&](const auto& s) { return s.seriesInstanceUid == seriesUid; });
                for (const SeriesEntry& series : study.series) {
                    if (shown) {
                        const auto paths = series.paths();
                        files.insert(files.end(), paths.begin(), paths.end());
                    }
                }
            }
        }
    }
    if (files.empty()) {
        Q_EMIT studyDeidentified(folder, 0, {tr("no study is shown")});
        return;
    }
    showBusy(tr("Writing de-identified copies of %1 file(s)...").arg(files.size()));
    struct Outcome {
        int written = 0;
        QStringList failures;
        std::vector<Problem> warnings;
    };
    auto* watcher = new QFutureWatcher<Outcome>(this);
    connect(watcher, &QFutureWatcher<Outcome>::finished, this, [this, watcher, folder] {
        const Outcome outcome = watcher->result();
        m_problemModel->addProblems(outcome.warnings);
        showIdle(tr("De-identified %1 file(s) into %2%3")
                     .arg(outcome.written)
                     .arg(folder)
                     .arg(outcome.failures.isEmpty()
                              ? QString()
                              : tr("; %1 failed (see Problems)").arg(outcome.failures.size())));
        watcher->deleteLater();
        Q_EMIT studyDeidentified(folder, outcome.written, outcome.failures);
    });
    watcher->setFuture(QtConcurrent::run([files, folder]() {
        Outcome outcome;
        Deidentifier deidentifier; // one export: one UID map for the whole study
        for (const std::string& file : files) {
            try {
                const DeidentifyResult r = deidentifier.deidentifyFile(file, folder.toStdString());
                ++outcome.written;
                for (const std::string& warning : r.warnings) {
                    outcome.warnings.push_back({file, warning});
                }
            } catch (const std::exception& e) {
                outcome.failures << QString::fromStdString(e.what());
                outcome.warnings.push_back({file, e.what()});
            }
        }
        return outcome;
    }));
}

void MainWindow::exportSeriesTo(const QString& path) {
    const auto volume = activeViewport()->volume();
    if (!volume) {
        Q_EMIT seriesExported(path, tr("no series is shown"));
        return;
    }
    showBusy(tr("Writing %1...").arg(path));
    auto* watcher = new QFutureWatcher<QString>(this);
    connect(watcher, &QFutureWatcher<QString>::finished, this, [this, watcher, path] {
        const QString error = watcher->result();
        showIdle(error.isEmpty() ? tr("Saved %1").arg(path) : tr("Could not save: %1").arg(error));
        watcher->deleteLater();
        Q_EMIT seriesExported(path, error);
    });
    watcher->setFuture(QtConcurrent::run([volume, path]() -> QString {
        try {
            writeVolume(*volume, path.toStdString());
            return {};
        } catch (const std::exception& e) {
            return QString::fromStdString(e.what());
        }
    }));
}

// ---- window events
// --------------------------------------------------------------------------------

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls()) {
        event->acceptProposedAction();
    }
}

void MainWindow::dropEvent(QDropEvent* event) {
    QStringList paths;
    for (const QUrl& url : event->mimeData()->urls()) {
        if (url.isLocalFile()) {
            paths << url.toLocalFile();
        }
    }
    openPaths(paths);
    event->acceptProposedAction();
}

QueryRetrieveWindow* MainWindow::queryRetrieveWindow() {
    if (m_queryRetrieve == nullptr) {
        m_queryRetrieve = new QueryRetrieveWindow(*m_pacs, this);
        m_queryRetrieve->setWindowFlag(Qt::Window);
    }
    return m_queryRetrieve;
}

void MainWindow::sendCurrentSeries(const QString& nodeName) {
    const QString uid = currentSeriesUid();
    const auto& index = m_treeModel->studyIndex();
    const SeriesEntry* series = index ? index->findSeries(uid.toStdString()) : nullptr;
    if (series == nullptr) {
        showIdle(tr("Open a series to send it"));
        return;
    }
    if (const auto node = nodeNamed(nodeName)) {
        QStringList files;
        for (const std::string& path : series->paths()) {
            files << QString::fromStdString(path);
        }
        showBusy(tr("Sending %1 file(s) to %2...")
                     .arg(files.size())
                     .arg(QString::fromStdString(node->address())));
        m_pacs->send(*node, files);
        return;
    }
    showIdle(tr("No node is called %1 (File > Network Settings)").arg(nodeName));
}

void MainWindow::refreshIncoming() {
    const QString folder = m_pacs->incomingFolder();
    if (!QFileInfo(folder).isDir()) {
        return;
    }
    // What the reader was browsing stays in the browser, with the incoming studies beside it;
    // a series being read stays on screen, and with nothing shown the first arrival opens.
    QStringList paths = m_lastPaths;
    if (!paths.contains(folder)) {
        paths << folder;
    }
    m_openFirstSeries = currentSeriesUid().isEmpty();
    m_lastPaths = paths;
    m_indexJob->start(paths);
}

void MainWindow::showProblems(const std::vector<Problem>& indexProblems) {
    std::vector<Problem> all = indexProblems;
    for (const auto& [study, problem] : m_networkProblems) {
        all.push_back(problem);
    }
    m_problemModel->setProblems(all);
}

std::optional<DicomNode> MainWindow::nodeNamed(const QString& name) const {
    for (const DicomNode& node : m_pacs->settings().nodes) {
        if (QString::fromStdString(node.name) == name) {
            return node;
        }
    }
    return std::nullopt;
}

std::optional<DicomNode> MainWindow::chooseNode(const QString& title, const QString& what) {
    QStringList names;
    for (const DicomNode& node : m_pacs->settings().nodes) {
        names << QString::fromStdString(node.name);
    }
    if (names.isEmpty()) {
        showIdle(tr("No node is configured (File > Network Settings)"));
        return std::nullopt;
    }
    bool ok = false;
    const QString name = QInputDialog::getItem(this, title, what, names, 0, false, &ok);
    return ok ? nodeNamed(name) : std::nullopt;
}

void MainWindow::showRetrievalNotes() {
    for (const auto& [uid, r] : m_pacs->retrievals()) {
        QString note;
        if (r.state == Retrieval::State::Retrieving) {
            note = tr("interrupted: %1 of %2 images").arg(r.present).arg(r.expected);
        } else if (r.incomplete()) {
            note = tr("incomplete: %1 of %2 images").arg(r.present).arg(r.expected);
        }
        m_treeModel->setStudyNote(QString::fromStdString(uid), note);
    }
}

void MainWindow::closeEvent(QCloseEvent* event) {
    m_pacs->cancelRetrievals();
    m_indexJob->cancel();
    m_series->cancelAll();
    event->accept();
}

PatientRiskWindow* MainWindow::patientRisk(const QStringList& dataPaths,
                                           const QStringList& outcomeFiles,
                                           const QString& modelDir) {
    if (m_patientRisk == nullptr) {
        m_patientRisk = new PatientRiskWindow(this);
        m_patientRisk->setWindowFlag(Qt::Window);
        m_patientRisk->setStudies(m_treeModel->studyIndex());
        connect(m_patientRisk, &PatientRiskWindow::seriesRequested, this,
                [this](const QString& uid) {
                    openSeries(uid);
                    raise();
                    activateWindow();
                });
        // AI readings of series, shown with the patient's studies.
        connect(
            m_ai, &AiReadingService::classified, m_patientRisk,
            [this](std::shared_ptr<const AiClassification> result) {
                const auto card = m_ai->card();
                if (!card || result->study.empty()) {
                    return;
                }
                const std::size_t top =
                    card->task == "binary" && result->study.size() == 2
                        ? 1
                        : std::size_t(std::max_element(result->study.begin(), result->study.end()) -
                                      result->study.begin());
                const QString name = top < card->classNames.size()
                                         ? QString::fromStdString(card->classNames[top])
                                         : QString::number(top);
                m_patientRisk->setAiResult(
                    result->key.section(QLatin1Char('|'), 0, 0),
                    QStringLiteral("%1 %2%").arg(name).arg(100 * result->study[top], 0, 'f', 0));
            });
    }
    m_patientRisk->show();
    m_patientRisk->raise();
    if (!dataPaths.isEmpty() && !modelDir.isEmpty()) {
        m_patientRisk->open(dataPaths, outcomeFiles, modelDir);
    }
    return m_patientRisk;
}

} // namespace radiolens
