// Real widgets on the offscreen platform, driven as a user would: wheel, keys, right-drag,
// opening a folder, picking a series.

#include "core/dicom/DemoStudy.h"
#include "core/ml/MlRuntime.h"
#include "core/tasks/BackgroundJobs.h"
#include "core/domain/StudyIndex.h"
#include "core/tasks/StudyTreeModel.h"
#include "ui/MainWindow.h"
#include "ui/Viewport.h"
#include "ui/ViewerArea.h"
#include "ui/ViewportFrame.h"

#include <QApplication>
#include <QSignalSpy>
#include <QTest>
#include <QWheelEvent>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

/// A volume whose slice k is filled with value 100 * k, except pixel (0, 0) = -1000.
std::shared_ptr<Volume> stack(std::size_t slices,
                              Photometric photometric = Photometric::Monochrome2) {
    auto v = std::make_shared<Volume>(PixelFormat{ComponentType::Int16, 1},
                                      std::array<std::size_t, 3>{16, 16, slices});
    auto* p = static_cast<std::int16_t*>(v->data());
    for (std::size_t k = 0; k < slices; ++k) {
        for (std::size_t i = 0; i < 256; ++i) {
            p[k * 256 + i] = std::int16_t(100 * int(k));
        }
        p[k * 256] = -1000;
    }
    v->windows.push_back({200.0, 400.0, "test"});
    v->photometric = photometric;
    v->statistics = computeStatistics(*v);
    return v;
}

void wheel(QWidget* widget, int notches) {
    const QPointF centre(widget->width() / 2.0, widget->height() / 2.0);
    QWheelEvent event(centre, widget->mapToGlobal(centre), QPoint(), QPoint(0, 120 * notches),
                      Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
    QApplication::sendEvent(widget, &event);
}

/// A small demo study (columns x rows x slices CT and the radiograph) in a fresh folder.
DemoStudy smallDemo(const fs::path& folder, int columns, int rows, int slices) {
    fs::remove_all(folder);
    DemoStudyOptions options;
    options.columns = columns;
    options.rows = rows;
    options.slices = slices;
    options.chests = 0; // the CT and the skull radiograph only
    return writeDemoStudy(folder.string(), options);
}

/// Widget position of the centre of the viewport's image.
QPoint imageCentre(const Viewport& view) {
    return view
        .imageToWidget(
            {(double(view.mapping().width) - 1) / 2.0, (double(view.mapping().height) - 1) / 2.0})
        .toPoint();
}

QImage grab(QWidget* widget) {
    return widget->grab().toImage().convertToFormat(QImage::Format_Grayscale8);
}

} // namespace

TEST(Viewport, WheelAndKeysMoveThroughSlices) {
    Viewport view;
    view.resize(400, 400);
    view.show();
    view.setVolume(stack(10), true);
    EXPECT_EQ(view.currentSlice(), 5);
    QSignalSpy changed(&view, &Viewport::sliceChanged);
    wheel(&view, -2); // scrolling towards the user goes forward
    EXPECT_EQ(view.currentSlice(), 7);
    wheel(&view, 1);
    EXPECT_EQ(view.currentSlice(), 6);
    QTest::keyClick(&view, Qt::Key_Up);
    EXPECT_EQ(view.currentSlice(), 7);
    QTest::keyClick(&view, Qt::Key_End);
    EXPECT_EQ(view.currentSlice(), 9);
    wheel(&view, -5); // stops at the last slice
    EXPECT_EQ(view.currentSlice(), 9);
    QTest::keyClick(&view, Qt::Key_Home);
    EXPECT_EQ(view.currentSlice(), 0);
    EXPECT_EQ(changed.count(), 5);
}

TEST(Viewport, RightDragChangesWindowByTheStatedAmounts) {
    Viewport view;
    view.resize(400, 400);
    view.show();
    view.setVolume(stack(4), true);
    ASSERT_EQ(view.window().center, 200.0);
    ASSERT_EQ(view.window().width, 400.0);
    QTest::mousePress(&view, Qt::RightButton, Qt::NoModifier, QPoint(100, 100));
    QMouseEvent move(QEvent::MouseMove, QPointF(130, 80), view.mapToGlobal(QPointF(130, 80)),
                     Qt::NoButton, Qt::RightButton, Qt::NoModifier);
    QApplication::sendEvent(&view, &move);
    QTest::mouseRelease(&view, Qt::RightButton, Qt::NoModifier, QPoint(130, 80));
    EXPECT_DOUBLE_EQ(view.window().width, 400.0 + 30 * Viewport::kWindowPerPixel);
    EXPECT_DOUBLE_EQ(view.window().center, 200.0 - 20 * Viewport::kWindowPerPixel);
}

TEST(Viewport, ShowsTheSliceThroughTheWindowAndInvertsMonochrome1) {
    for (Photometric photometric : {Photometric::Monochrome2, Photometric::Monochrome1}) {
        Viewport view;
        view.resize(300, 300);
        view.show();
        view.setVolume(stack(4, photometric), true);
        view.setCurrentSlice(3); // value 300 in a window 0..400: 3/4 of the way to white
        const QImage image = grab(&view);
        view.setOverlaysVisible(false);
        const QPoint centre = imageCentre(view);
        const int grey = qGray(image.pixel(centre));
        const int expected = photometric == Photometric::Monochrome2 ? 191 : 255 - 191;
        EXPECT_NEAR(grey, expected, 2)
            << (photometric == Photometric::Monochrome1 ? "MONOCHROME1" : "MONOCHROME2");
    }
}

TEST(Viewport, AnisotropicPixelsKeepTheirProportions) {
    Viewport view;
    view.resize(600, 600);
    view.show();
    auto v = stack(2);
    v->spacing = {1.0, 2.0, 1.0}; // rows twice as far apart as columns
    view.setVolume(v, true);
    const QPointF topLeft = view.imageToWidget({-0.5, -0.5});
    const QPointF bottomRight = view.imageToWidget({15.5, 15.5});
    EXPECT_NEAR((bottomRight.y() - topLeft.y()) / (bottomRight.x() - topLeft.x()), 2.0, 1e-9);
}

TEST(Viewport, SlicesNotYetDecodedAreNotShownAsImages) {
    Viewport view;
    view.resize(300, 300);
    view.show();
    auto v = stack(5);
    view.setVolume(v, false);
    EXPECT_FALSE(view.isSliceReady(2));
    view.setOverlaysVisible(false);
    const QPoint probe = imageCentre(view) + QPoint(0, 60); // below the "Loading" text
    const QImage waiting = grab(&view);
    EXPECT_LT(qGray(waiting.pixel(probe)), 30); // black, no image
    view.markSliceReady(2);
    const QImage shown = grab(&view);
    // Slice 2 holds 200: the middle of the window 0..400, mid grey.
    EXPECT_NEAR(qGray(shown.pixel(probe)), 128, 2);
}

TEST(MainWindow, OpensTheDemoStudyShowsTheTreeAndTheMiddleSlice) {
    const fs::path folder = fs::path(::testing::TempDir()) / "ui-demo";
    smallDemo(folder, 64, 64, 20);
    std::ofstream(folder / "notes.txt") << "not DICOM";

    MainWindow window;
    window.show();
    EXPECT_FALSE(window.windowIcon().isNull()) << "the icon resource is missing";
    QSignalSpy indexed(&window, &MainWindow::studiesIndexed);
    QSignalSpy loaded(&window, &MainWindow::seriesLoaded);
    window.openPaths({QString::fromStdString(folder.string())});
    ASSERT_TRUE(indexed.wait(20000));
    ASSERT_TRUE(loaded.count() > 0 || loaded.wait(20000));

    StudyTreeModel* tree = window.studyModel();
    ASSERT_EQ(tree->rowCount(), 1);
    const QModelIndex patient = tree->index(0, 0);
    EXPECT_TRUE(tree->data(patient).toString().startsWith(QStringLiteral("Demo, Phantom")));
    const QModelIndex study = tree->index(0, 0, patient);
    ASSERT_EQ(tree->rowCount(study), 2);
    EXPECT_EQ(tree->data(tree->index(0, StudyTreeModel::ModalityColumn, study)).toString(), "CT");
    EXPECT_EQ(tree->data(tree->index(0, StudyTreeModel::InstancesColumn, study)).toInt(), 20);
    // The problem list names the stray file.
    ASSERT_EQ(window.problemModel()->rowCount(), 1);
    EXPECT_TRUE(window.problemModel()
                    ->data(window.problemModel()->index(0, 0))
                    .toString()
                    .endsWith("notes.txt"));
    // The CT (largest series) opened at its middle slice, brain window from the file.
    Viewport* view = window.activeViewport();
    ASSERT_TRUE(view->volume());
    EXPECT_EQ(view->sliceCount(), 20);
    EXPECT_EQ(view->currentSlice(), 10);
    EXPECT_EQ(view->window().center, 40.0);
    EXPECT_EQ(view->window().width, 80.0);

    // Picking the radiograph shows it, inverted as MONOCHROME1.
    const QString dxUid =
        tree->data(tree->index(1, 0, study), StudyTreeModel::SeriesUidRole).toString();
    window.openSeries(dxUid);
    ASSERT_TRUE(loaded.wait(20000));
    EXPECT_EQ(window.currentSeriesUid(), dxUid);
    EXPECT_EQ(view->sliceCount(), 1);
    EXPECT_EQ(view->volume()->photometric, Photometric::Monochrome1);
    fs::remove_all(folder);
}

TEST(MainWindow, ABrokenSeriesIsReportedNotFatal) {
    const fs::path folder = fs::path(::testing::TempDir()) / "ui-broken";
    fs::remove_all(folder);
    fs::create_directories(folder);
    std::ofstream(folder / "empty.dcm");
    MainWindow window;
    QSignalSpy indexed(&window, &MainWindow::studiesIndexed);
    window.openPaths({QString::fromStdString(folder.string())});
    ASSERT_TRUE(indexed.wait(20000));
    EXPECT_EQ(window.studyModel()->rowCount(), 0);
    ASSERT_EQ(window.problemModel()->rowCount(), 1);
    EXPECT_TRUE(window.problemModel()
                    ->data(window.problemModel()->index(0, 1))
                    .toString()
                    .contains("empty"));
    EXPECT_FALSE(window.activeViewport()->volume());
    fs::remove_all(folder);
}

TEST(StudyTreeModel, RadiographSeriesListTheirImagesVolumeSeriesDoNot) {
    auto index = std::make_shared<StudyIndex>();
    PatientEntry patient;
    patient.patientId = "P1";
    patient.name = "Doe^Jane";
    StudyEntry study;
    study.studyInstanceUid = "1.2";
    SeriesEntry dx;
    dx.seriesInstanceUid = "1.2.1";
    dx.modality = "DX";
    dx.instances = {{"1.2.1.1", "", "/data/pa.dcm", 1}, {"1.2.1.2", "", "/data/lat.dcm", 2}};
    SeriesEntry ct;
    ct.seriesInstanceUid = "1.2.2";
    ct.modality = "CT";
    ct.instances = {{"1.2.2.1", "", "/data/ct1.dcm", 1}, {"1.2.2.2", "", "/data/ct2.dcm", 2}};
    study.series = {dx, ct};
    patient.studies = {study};
    index->patients = {patient};
    StudyTreeModel model;
    model.setIndex(index);
    const QModelIndex studyRow = model.index(0, 0, model.index(0, 0));
    const QModelIndex dxRow = model.index(0, 0, studyRow);
    const QModelIndex ctRow = model.index(1, 0, studyRow);
    ASSERT_EQ(model.rowCount(dxRow), 2);
    EXPECT_EQ(model.rowCount(ctRow), 0);
    const QModelIndex lateral = model.index(1, 0, dxRow);
    EXPECT_EQ(lateral.data(StudyTreeModel::InstancePathRole).toString(), "/data/lat.dcm");
    EXPECT_EQ(lateral.data(StudyTreeModel::SeriesUidRole).toString(), "1.2.1");
    EXPECT_EQ(lateral.data(StudyTreeModel::LevelRole).toInt(), StudyTreeModel::InstanceLevel);
    EXPECT_EQ(model.parent(lateral), dxRow);
    EXPECT_EQ(model.indexOfSeries("1.2.2"), ctRow);
}

TEST(ProblemListModel, AProblemReportedAgainIsListedOnce) {
    ProblemListModel model;
    model.setProblems({{"/a/1.dcm", "truncated"}, {"/a/2.dcm", "not DICOM"}});
    EXPECT_EQ(model.rowCount(), 2);
    // The same series opened again reports the same file with the same reason.
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    model.addProblems({{"/a/1.dcm", "truncated"}, {"/a/2.dcm", "not DICOM"}});
    EXPECT_EQ(model.rowCount(), 2);
    EXPECT_EQ(inserted.count(), 0);
    // A new reason for a known file, and a new file, are both listed; duplicates within one
    // report are listed once.
    model.addProblems({{"/a/1.dcm", "slice 3 could not be decoded"},
                       {"/a/3.dcm", "empty"},
                       {"/a/3.dcm", "empty"}});
    EXPECT_EQ(model.rowCount(), 4);
    EXPECT_EQ(inserted.count(), 1);
    EXPECT_EQ(model.index(3, 0).data().toString(), "/a/3.dcm");
}

TEST(SeriesLoadJob, ClosingAfterARestartWaitsForEveryRun) {
    // Start a long load, replace it at once, destroy the job: the replaced run must not post to
    // the destroyed job (this crashed before).
    const fs::path folder = fs::path(::testing::TempDir()) / "job-restart";
    const DemoStudy demo = smallDemo(folder, 128, 128, 96);
    for (int round = 0; round < 5; ++round) {
        auto job = std::make_unique<SeriesLoadJob>();
        job->start(demo.ctFiles, QStringLiteral("ct"));
        job->start({demo.radiographFile}, QStringLiteral("dx"));
        job.reset();
        QApplication::processEvents(); // deliver anything that was (wrongly) posted
    }
    SUCCEED();
    fs::remove_all(folder);
}

TEST(MainWindow, AFailedSeriesLeavesNothingOnScreen) {
    const fs::path folder = fs::path(::testing::TempDir()) / "ui-fails";
    const DemoStudy demo = smallDemo(folder, 32, 32, 16);
    MainWindow window;
    QSignalSpy loaded(&window, &MainWindow::seriesLoaded);
    QSignalSpy failed(&window, &MainWindow::seriesFailed);
    window.openPaths({QString::fromStdString(folder.string())});
    ASSERT_TRUE(loaded.wait(20000));
    ASSERT_TRUE(window.activeViewport()->volume());
    // The radiograph's file turns to junk after indexing; opening it fails.
    std::ofstream(demo.radiographFile, std::ios::trunc) << "not any more";
    window.openSeries(QString::fromStdString(demo.radiographSeriesInstanceUid));
    ASSERT_TRUE(failed.wait(20000));
    EXPECT_FALSE(window.activeViewport()->volume()) << "the previous series stayed on screen";
    EXPECT_TRUE(window.currentSeriesUid().isEmpty());
    fs::remove_all(folder);
}

TEST(MainWindow, LoadsTheAiEngineOnlyWhenAskedAndInTheBackground) {
    MainWindow window;
    window.show();
    QApplication::processEvents();
    // Opening the window (and a study, above) does not load LibTorch.
    EXPECT_FALSE(MlRuntime::isLoaded());
    QSignalSpy loaded(&window, &MainWindow::mlEngineLoaded);
    window.loadMlEngine(); // returns at once; the plugin opens on a pool thread
    EXPECT_EQ(loaded.count(), 0);
    ASSERT_TRUE(loaded.wait(60000));
    const bool ok = loaded.front().at(0).toBool();
    const QString description = loaded.front().at(1).toString();
    // Only a build configured with RADIOLENS_BUILD_ML=OFF has no plugin; the README's build
    // (and CI) has it, so this runs there (issue 3: the ML layer is a plugin).
    if (!ok && description.contains(QStringLiteral("cannot load the ML plugin"))) {
        GTEST_SKIP() << "ML plugin not built (RADIOLENS_BUILD_ML=OFF; issue 3): "
                     << description.toStdString();
    }
    ASSERT_TRUE(ok) << description.toStdString();
    EXPECT_TRUE(description.contains(QStringLiteral("LibTorch")));
    EXPECT_TRUE(MlRuntime::isLoaded());
}

int main(int argc, char** argv) {
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
