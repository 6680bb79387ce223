#include "ui/MainWindow.h"

#include "core/dicom/DemoStudy.h"
#include "core/domain/Paths.h"
#include "core/ml/MlRuntime.h"
#include "core/tasks/BackgroundJobs.h"
#include "core/tasks/StudyTreeModel.h"
#include "ui/SliceView.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QHeaderView>
#include <QIcon>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QStatusBar>
#include <QTableView>
#include <QTreeView>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

namespace radiolens {

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent) {
    setWindowTitle(tr("Radiolens"));
    setWindowIcon(QIcon(QStringLiteral(":/radiolens/icons/radiolens.png")));
    setAcceptDrops(true);
    resize(1280, 860);

    m_view = new SliceView(this);
    setCentralWidget(m_view);

    m_treeModel = new StudyTreeModel(this);
    m_tree = new QTreeView;
    m_tree->setModel(m_treeModel);
    m_tree->setUniformRowHeights(true);
    m_tree->setAlternatingRowColors(true);
    m_tree->header()->setStretchLastSection(false);
    m_tree->header()->setSectionResizeMode(StudyTreeModel::NameColumn, QHeaderView::Stretch);
    for (int column : {StudyTreeModel::ModalityColumn, StudyTreeModel::DateColumn,
                       StudyTreeModel::InstancesColumn}) {
        m_tree->header()->setSectionResizeMode(column, QHeaderView::ResizeToContents);
    }
    auto* studies = new QDockWidget(tr("Studies"), this);
    studies->setObjectName(QStringLiteral("studies"));
    studies->setWidget(m_tree);
    addDockWidget(Qt::LeftDockWidgetArea, studies);

    m_problemModel = new ProblemListModel(this);
    m_problems = new QTableView;
    m_problems->setModel(m_problemModel);
    m_problems->horizontalHeader()->setStretchLastSection(true);
    m_problems->verticalHeader()->hide();
    m_problems->setSelectionBehavior(QAbstractItemView::SelectRows);
    auto* problems = new QDockWidget(tr("Problems"), this);
    problems->setObjectName(QStringLiteral("problems"));
    problems->setWidget(m_problems);
    addDockWidget(Qt::BottomDockWidgetArea, problems);
    resizeDocks({studies}, {420}, Qt::Horizontal);
    resizeDocks({problems}, {120}, Qt::Vertical);

    m_status = new QLabel;
    m_progress = new QProgressBar;
    m_progress->setRange(0, 100);
    m_progress->setMaximumWidth(220);
    m_progress->hide();
    m_cancel = new QPushButton(tr("Cancel"));
    m_cancel->hide();
    m_sliceStatus = new QLabel;
    m_engineStatus = new QLabel;
    statusBar()->addWidget(m_status, 1);
    statusBar()->addWidget(m_progress);
    statusBar()->addWidget(m_cancel);
    statusBar()->addPermanentWidget(m_sliceStatus);
    statusBar()->addPermanentWidget(m_engineStatus);
    m_engineStatus->setText(tr("AI engine: loads on first use"));

    m_indexJob = new IndexJob(this);
    m_loadJob = new SeriesLoadJob(this);
    connect(m_indexJob, &IndexJob::progressed, this,
            [this](double f) { m_progress->setValue(int(f * 100)); });
    connect(m_indexJob, &IndexJob::indexed, this, &MainWindow::onIndexed);
    connect(m_loadJob, &SeriesLoadJob::progressed, this,
            [this](double f) { m_progress->setValue(int(f * 100)); });
    connect(m_loadJob, &SeriesLoadJob::volumeStarted, this,
            [this](std::shared_ptr<const Volume> volume, const QString& uid) {
                m_currentSeries = uid;
                m_view->setVolume(std::move(volume), false);
            });
    connect(m_loadJob, &SeriesLoadJob::sliceDecoded, m_view, &SliceView::markSliceReady);
    connect(m_loadJob, &SeriesLoadJob::sliceFailed, m_view, &SliceView::markSliceFailed);
    connect(m_loadJob, &SeriesLoadJob::loaded, this,
            [this](std::shared_ptr<const Volume> volume, const QString& uid,
                   const std::vector<Problem>& problems) {
                if (m_view->volume() != volume) {
                    m_view->setVolume(volume, true);
                } else {
                    m_view->markAllSlicesReady();
                }
                m_currentSeries = uid;
                m_problemModel->addProblems(problems);
                // Every warning about the series (tilt, gaps, left-out files) goes into the
                // Problems panel under the series' name; the status bar shows the first.
                const std::string series =
                    (volume->description.empty() ? volume->modality : volume->description) + " (" +
                    volume->seriesInstanceUid + ")";
                std::vector<Problem> warnings;
                for (const std::string& warning : volume->warnings) {
                    warnings.push_back({series, warning});
                }
                m_problemModel->addProblems(warnings);
                QString message = tr("%1: %2 x %3 x %4")
                                      .arg(QString::fromStdString(volume->description))
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
                updateSliceStatus();
                Q_EMIT seriesLoaded(uid);
            });
    connect(m_loadJob, &SeriesLoadJob::failed, this,
            [this](const QString& uid, const QString& reason) {
                // Nothing of the failed series stays on screen under its name.
                m_view->setVolume(nullptr, true);
                m_currentSeries.clear();
                updateSliceStatus();
                showIdle(tr("Could not open the series: %1").arg(reason));
                m_problemModel->addProblems({{uid.toStdString(), reason.toStdString()}});
                Q_EMIT seriesFailed(uid, reason);
            });
    connect(m_cancel, &QPushButton::clicked, this, [this] {
        m_indexJob->cancel();
        m_loadJob->cancel();
        if (m_demoWatcher != nullptr) {
            m_demoWatcher->cancel();
        }
        showIdle(tr("Cancelled"));
    });
    connect(m_tree, &QTreeView::activated, this, [this](const QModelIndex& index) {
        const QModelIndex row = index.siblingAtColumn(0);
        const QString uid = row.data(StudyTreeModel::SeriesUidRole).toString();
        const QString image = row.data(StudyTreeModel::InstancePathRole).toString();
        if (!image.isEmpty()) {
            // One view of a series of radiographs.
            showBusy(tr("Loading %1...").arg(row.data().toString()));
            m_loadJob->start({image.toStdString()}, uid);
        } else if (!uid.isEmpty()) {
            openSeries(uid);
        }
    });
    connect(m_view, &SliceView::sliceChanged, this, &MainWindow::updateSliceStatus);
    connect(m_view, &SliceView::windowChanged, this, &MainWindow::updateSliceStatus);

    createMenus();
    showIdle(tr("Ready"));
}

MainWindow::~MainWindow() = default;

void MainWindow::createMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* openFolder = file->addAction(tr("Open &Folder..."), this, [this] {
        const QString folder =
            QFileDialog::getExistingDirectory(this, tr("Open a folder of DICOM files"));
        if (!folder.isEmpty()) {
            openPaths({folder});
        }
    });
    openFolder->setShortcut(QKeySequence::Open);
    file->addAction(tr("Open F&iles..."), this, [this] {
        const QStringList files = QFileDialog::getOpenFileNames(this, tr("Open DICOM files"));
        if (!files.isEmpty()) {
            openPaths(files);
        }
    });
    file->addAction(tr("Open DICOM&DIR..."), this, [this] {
        const QString dicomdir =
            QFileDialog::getOpenFileName(this, tr("Open a DICOMDIR"), QString(),
                                         tr("DICOMDIR (DICOMDIR dicomdir);;All files (*)"));
        if (!dicomdir.isEmpty()) {
            openPaths({dicomdir});
        }
    });
    QAction* demo = file->addAction(tr("Open &Demo Study"), this, &MainWindow::openDemoStudy);
    demo->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_D));
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget* dock : findChildren<QDockWidget*>()) {
        view->addAction(dock->toggleViewAction());
    }

    QMenu* tools = menuBar()->addMenu(tr("&Tools"));
    tools->addAction(tr("Load the &AI Engine"), this, &MainWindow::loadMlEngine);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&Keyboard and Mouse"), this, [this] {
        QMessageBox::information(this, tr("Keyboard and mouse"),
                                 tr("Wheel, Up/Down arrows: previous / next slice\n"
                                    "Page Up / Page Down: 10% of the slices\n"
                                    "Home / End: first / last slice\n"
                                    "Right-drag: window (left/right: width, up/down: level)\n"
                                    "Ctrl+O: open a folder    Ctrl+D: open the demo study\n"
                                    "Drop files or folders on the window to open them"));
    });
    help->addAction(tr("&About Radiolens"), this, [this] {
        QMessageBox::about(this, tr("About Radiolens"),
                           tr("Radiolens 0.1 - a diagnostic imaging workstation.\n"
                              "DICOM through DCMTK and GDCM, images through ITK, models through "
                              "LibTorch. Patient data never leave this machine."));
    });
}

void MainWindow::showBusy(const QString& what) {
    m_status->setText(what);
    m_progress->setValue(0);
    m_progress->show();
    m_cancel->show();
}

void MainWindow::showIdle(const QString& message) {
    m_status->setText(message);
    m_progress->hide();
    m_cancel->hide();
}

void MainWindow::openPaths(const QStringList& paths) {
    if (paths.isEmpty()) {
        return;
    }
    m_openFirstSeries = true;
    showBusy(tr("Reading headers of %1...")
                 .arg(paths.size() == 1 ? paths.front() : tr("%1 items").arg(paths.size())));
    m_indexJob->start(paths);
}

void MainWindow::onIndexed(std::shared_ptr<const StudyIndex> index) {
    m_treeModel->setIndex(index);
    m_tree->expandAll();
    m_problemModel->setProblems(index->problems);
    const std::size_t series = index->seriesCount();
    showIdle(index->cancelled ? tr("Indexing cancelled")
                              : tr("%1 series in %2 studies; %3 problem(s)")
                                    .arg(series)
                                    .arg([&] {
                                        std::size_t n = 0;
                                        for (const auto& p : index->patients) {
                                            n += p.studies.size();
                                        }
                                        return n;
                                    }())
                                    .arg(index->problems.size()));
    Q_EMIT studiesIndexed();
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

void MainWindow::openSeries(const QString& seriesInstanceUid) {
    const auto& index = m_treeModel->studyIndex();
    const SeriesEntry* series =
        index ? index->findSeries(seriesInstanceUid.toStdString()) : nullptr;
    if (series == nullptr) {
        return;
    }
    m_openFirstSeries = false;
    const QModelIndex row = m_treeModel->indexOfSeries(seriesInstanceUid);
    if (row.isValid()) {
        m_tree->setCurrentIndex(row);
    }
    showBusy(tr("Loading %1...").arg(QString::fromStdString(series->description)));
    m_loadJob->start(series->paths(), seriesInstanceUid);
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
        openPaths({result});
    });
    m_demoWatcher->setFuture(QtConcurrent::run([]() -> QString {
        try {
            return QString::fromStdString(ensureDemoStudy(demoStudyFolder()).folder);
        } catch (const std::exception& e) {
            return QLatin1Char('!') + QString::fromStdString(e.what());
        }
    }));
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

void MainWindow::updateSliceStatus() {
    if (!m_view->volume()) {
        m_sliceStatus->clear();
        return;
    }
    const DisplayWindow w = m_view->window();
    m_sliceStatus->setText(tr("Slice %1/%2   W %3 L %4")
                               .arg(m_view->currentSlice() + 1)
                               .arg(m_view->sliceCount())
                               .arg(w.width, 0, 'f', 0)
                               .arg(w.center, 0, 'f', 0));
}

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

void MainWindow::closeEvent(QCloseEvent* event) {
    // Stop background work before the window goes; the jobs wait for their threads.
    m_indexJob->cancel();
    m_loadJob->cancel();
    event->accept();
}

} // namespace radiolens
