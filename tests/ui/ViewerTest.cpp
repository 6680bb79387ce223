// The reading room driven as a radiologist would: measure distances and ROIs on images with
// known spacing and values, MPR crosshair, presets on number keys, cine, layouts and dropping
// a series, search, thumbnails, tags, export, damaged folders, measurements kept across a
// restart. Real widgets on the offscreen platform.

#include "core/dicom/DemoStudy.h"
#include "core/store/StudyStore.h"
#include "core/tasks/MeasurementListModel.h"
#include "core/tasks/StudyTreeModel.h"
#include "ui/MainWindow.h"
#include "ui/StudyBrowserModel.h"
#include "ui/TagBrowser.h"
#include "ui/ViewerArea.h"
#include "ui/Viewport.h"
#include "ui/ViewportFrame.h"

#include <QApplication>
#include <QDropEvent>
#include <QMimeData>
#include <QSignalSpy>
#include <QTest>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

/// A one-slice int16 image of `width` x `height` with pixel spacing (sx, sy) mm, values from
/// `value(x, y)`.
std::shared_ptr<Volume> image(std::size_t width, std::size_t height, double sx, double sy,
                              const std::function<int(int, int)>& value) {
    auto v = std::make_shared<Volume>(PixelFormat{ComponentType::Int16, 1},
                                      std::array<std::size_t, 3>{width, height, 1});
    auto* p = static_cast<std::int16_t*>(v->data());
    for (std::size_t y = 0; y < height; ++y) {
        for (std::size_t x = 0; x < width; ++x) {
            p[y * width + x] = std::int16_t(value(int(x), int(y)));
        }
    }
    v->spacing = {sx, sy, 1.0};
    v->modality = "CT";
    v->units = "HU";
    v->seriesInstanceUid = "1.2.3.999";
    v->windows = {{40, 400, ""}};
    v->statistics = computeStatistics(*v);
    return v;
}

/// nx x ny x nz volume coding each voxel as 1000 k + 10 j + i (small sizes only).
std::shared_ptr<Volume> codedVolume(std::size_t nx, std::size_t ny, std::size_t nz) {
    auto v = std::make_shared<Volume>(PixelFormat{ComponentType::Int16, 1},
                                      std::array<std::size_t, 3>{nx, ny, nz});
    auto* p = static_cast<std::int16_t*>(v->data());
    for (std::size_t k = 0; k < nz; ++k) {
        for (std::size_t j = 0; j < ny; ++j) {
            for (std::size_t i = 0; i < nx; ++i) {
                p[(k * ny + j) * nx + i] = std::int16_t(1000 * k + 10 * j + i);
            }
        }
    }
    v->spacing = {0.8, 0.8, 2.5};
    v->seriesInstanceUid = "1.2.3.777";
    v->statistics = computeStatistics(*v);
    v->geometry.hasPatientGeometry = true;
    return v;
}

void mouse(QWidget* w, QEvent::Type type, const QPointF& at, Qt::MouseButton button,
           Qt::MouseButtons buttons) {
    QMouseEvent event(type, at, w->mapToGlobal(at), button, buttons, Qt::NoModifier);
    QApplication::sendEvent(w, &event);
}

/// Drags with the left button from image point `from` to `to` (exact, sub-pixel positions).
void dragOnImage(Viewport& view, const QPointF& from, const QPointF& to) {
    const QPointF a = view.imageToWidget(from);
    const QPointF b = view.imageToWidget(to);
    mouse(&view, QEvent::MouseButtonPress, a, Qt::LeftButton, Qt::LeftButton);
    mouse(&view, QEvent::MouseMove, (a + b) / 2, Qt::NoButton, Qt::LeftButton);
    mouse(&view, QEvent::MouseMove, b, Qt::NoButton, Qt::LeftButton);
    mouse(&view, QEvent::MouseButtonRelease, b, Qt::LeftButton, Qt::NoButton);
}

fs::path freshFolder(const std::string& name) {
    const fs::path folder = fs::path(::testing::TempDir()) / name;
    fs::remove_all(folder);
    fs::create_directories(folder);
    return folder;
}

DemoStudy demo(const fs::path& folder, int size = 64, int slices = 24) {
    DemoStudyOptions options;
    options.columns = size;
    options.rows = size;
    options.slices = slices;
    options.chests = 0; // the CT and the skull radiograph only
    return writeDemoStudy(folder.string(), options);
}

/// Opens `paths` in `window` and waits until the first series is on screen.
void openAndWait(MainWindow& window, const QStringList& paths) {
    QSignalSpy loaded(&window, &MainWindow::seriesLoaded);
    window.openPaths(paths);
    ASSERT_TRUE(loaded.wait(20000));
}

} // namespace

TEST(Measuring, ADistanceOnAnImageWithKnownSpacingReadsTheRightMillimetres) {
    Viewport view;
    view.resize(500, 400);
    view.show();
    MeasurementListModel model;
    view.setMeasurementModel(&model);
    view.setVolume(image(40, 40, 0.5, 0.8, [](int, int) { return 0; }), true);
    view.setTool(Viewport::Tool::Distance);
    QSignalSpy drawn(&view, &Viewport::measurementDrawn);
    dragOnImage(view, {5, 10}, {25, 10}); // 20 pixels of 0.5 mm across
    dragOnImage(view, {10, 5}, {10, 20}); // 15 pixels of 0.8 mm down
    ASSERT_EQ(drawn.count(), 2);
    ASSERT_EQ(model.rowCount(), 2);
    EXPECT_NEAR(model.value(model.measurements()[0]).lengthMm, 10.0, 1e-9);
    EXPECT_NEAR(model.value(model.measurements()[1]).lengthMm, 12.0, 1e-9);
    EXPECT_EQ(model.data(model.index(0, MeasurementListModel::ValueColumn)).toString(), "10.0 mm");
    EXPECT_EQ(model.data(model.index(1, MeasurementListModel::ValueColumn)).toString(), "12.0 mm");
    // The same on a rotated and zoomed view: millimetres do not depend on the display.
    view.rotate(1);
    view.zoomBy(1.7);
    dragOnImage(view, {0, 0}, {30, 40});
    ASSERT_EQ(model.rowCount(), 3);
    EXPECT_NEAR(model.value(model.measurements()[2]).lengthMm, std::hypot(15.0, 32.0), 1e-9);
}

TEST(Measuring, AnAngleFromThreeClicks) {
    Viewport view;
    view.resize(400, 400);
    view.show();
    MeasurementListModel model;
    view.setMeasurementModel(&model);
    view.setVolume(image(30, 30, 1.0, 1.0, [](int, int) { return 0; }), true);
    view.setTool(Viewport::Tool::Angle);
    for (const QPointF p : {QPointF(25, 5), QPointF(5, 5), QPointF(5, 25)}) {
        const QPointF w = view.imageToWidget(p);
        mouse(&view, QEvent::MouseButtonPress, w, Qt::LeftButton, Qt::LeftButton);
        mouse(&view, QEvent::MouseButtonRelease, w, Qt::LeftButton, Qt::NoButton);
    }
    ASSERT_EQ(model.rowCount(), 1);
    EXPECT_NEAR(model.value(model.measurements()[0]).angleDegrees, 90.0, 1e-9);
}

TEST(Measuring, AnRoiOverARegionOfKnownHuReadsItsMeanAndSd) {
    Viewport view;
    view.resize(500, 500);
    view.show();
    MeasurementListModel model;
    view.setMeasurementModel(&model);
    // A 20 x 20 block alternating 30 / 50 HU (mean 40, SD 10) in -1000 HU air.
    view.setVolume(image(60, 60, 0.6, 0.6,
                         [](int x, int y) {
                             const bool inside = x >= 20 && x < 40 && y >= 20 && y < 40;
                             return inside ? ((x + y) % 2 ? 50 : 30) : -1000;
                         }),
                   true);
    for (Viewport::Tool tool : {Viewport::Tool::Rectangle, Viewport::Tool::Ellipse}) {
        view.setTool(tool);
        dragOnImage(view, {20, 20}, {39, 39});
    }
    ASSERT_EQ(model.rowCount(), 2);
    const MeasurementValue rect = model.value(model.measurements()[0]);
    ASSERT_TRUE(rect.roi.has_value());
    EXPECT_EQ(rect.roi->pixels, 400u);
    EXPECT_DOUBLE_EQ(rect.roi->mean, 40.0);
    EXPECT_NEAR(rect.roi->standardDeviation, std::sqrt(400.0 * 100.0 / 399.0), 1e-9);
    EXPECT_EQ(rect.roi->min, 30.0);
    EXPECT_EQ(rect.roi->max, 50.0);
    EXPECT_NEAR(rect.roi->areaMm2, (19 * 0.6) * (19 * 0.6), 1e-9);
    const MeasurementValue ellipse = model.value(model.measurements()[1]);
    ASSERT_TRUE(ellipse.roi.has_value());
    EXPECT_NEAR(ellipse.roi->mean, 40.0, 0.5);
    EXPECT_NEAR(ellipse.roi->standardDeviation, 10.0, 0.1);
    EXPECT_NEAR(ellipse.roi->areaMm2, M_PI / 4 * (19 * 0.6) * (19 * 0.6), 1e-9);
    EXPECT_TRUE(model.data(model.index(0, MeasurementListModel::ValueColumn))
                    .toString()
                    .startsWith("mean 40.0 HU, SD 10.0"));
}

TEST(Mpr, TheCrosshairInOneViewMovesTheOthersToTheRightSlices) {
    ViewerArea area;
    area.resize(900, 700);
    area.show();
    const auto volume = codedVolume(30, 20, 12);
    area.activeFrame()->viewport()->setVolume(volume, true, "v");
    ASSERT_TRUE(area.setMprMode(true));
    const auto frames = area.frames();
    ASSERT_EQ(frames.size(), 4);
    Viewport* axial = frames[0]->viewport();
    Viewport* coronal = frames[1]->viewport();
    Viewport* sagittal = frames[2]->viewport();
    ASSERT_EQ(axial->plane(), PlaneKind::Axial);
    ASSERT_EQ(coronal->plane(), PlaneKind::Coronal);
    ASSERT_EQ(sagittal->plane(), PlaneKind::Sagittal);
    // Click voxel (i = 7, j = 13) on the axial view.
    const auto target = axial->mapping().fromIndex(
        {7, 13, double(axial->mapping().toIndex(0, 0, axial->currentSlice())[2])});
    const QPointF w = axial->imageToWidget({target[0], target[1]});
    mouse(axial, QEvent::MouseButtonPress, w, Qt::LeftButton, Qt::LeftButton);
    mouse(axial, QEvent::MouseButtonRelease, w, Qt::LeftButton, Qt::NoButton);
    // The coronal view now shows j = 13, the sagittal view i = 7.
    EXPECT_EQ(std::lround(coronal->mapping().toIndex(0, 0, coronal->currentSlice())[1]), 13);
    EXPECT_EQ(std::lround(sagittal->mapping().toIndex(0, 0, sagittal->currentSlice())[0]), 7);
    // And what they show is that voxel's row and column: coronal pixel (i = 7, k) holds voxel
    // (7, 13, k).
    const auto k = std::lround(axial->mapping().toIndex(0, 0, axial->currentSlice())[2]);
    const auto at = coronal->mapping().fromIndex({7, 13, double(k)});
    EXPECT_EQ(coronal->mapping()
                  .image(*volume, std::size_t(coronal->currentSlice()))
                  .value(std::size_t(at[0]), std::size_t(at[1])),
              1000 * k + 10 * 13 + 7);
    // Scrolling the sagittal view moves the crosshair; the coronal slice stays.
    const int coronalSlice = coronal->currentSlice();
    QTest::keyClick(sagittal, Qt::Key_Up);
    EXPECT_EQ(coronal->currentSlice(), coronalSlice);
    ASSERT_TRUE(coronal->crosshair().has_value());
    EXPECT_NEAR(norm(*coronal->crosshair() - *sagittal->crosshair()), 0.0, 1e-9);
    // One window across the three views.
    sagittal->setWindow({123, 456});
    EXPECT_EQ(axial->window().center, 123);
    EXPECT_EQ(coronal->window().width, 456);
    ASSERT_TRUE(area.setMprMode(false));
}

TEST(Viewing, NumberKeysPickCtPresetsAndCineAdvances) {
    ViewportFrame frame;
    frame.resize(400, 400);
    frame.show();
    auto v = codedVolume(20, 20, 30);
    v->modality = "CT";
    v->units = "HU";
    frame.viewport()->setVolume(v, true);
    QTest::keyClick(frame.viewport(), Qt::Key_4);
    EXPECT_EQ(frame.viewport()->window().center, -600); // lung
    EXPECT_EQ(frame.viewport()->window().width, 1500);
    QTest::keyClick(frame.viewport(), Qt::Key_1);
    EXPECT_EQ(frame.viewport()->window().center, 40); // brain
    const int start = frame.viewport()->currentSlice();
    frame.setCineFps(50);
    frame.setCinePlaying(true);
    QTest::qWait(400);
    frame.setCinePlaying(false);
    EXPECT_GE((frame.viewport()->currentSlice() - start + 30) % 30, 5);
}

TEST(Viewing, CtrlWheelZoomsAtTheCursorAndTheReadoutGivesHuAndMillimetres) {
    Viewport view;
    view.resize(400, 400);
    view.show();
    view.setVolume(image(50, 50, 0.5, 0.5, [](int x, int y) { return x * 10 + y; }), true);
    const QPointF cursor(300, 120);
    const QPointF before = view.widgetToImage(cursor);
    QWheelEvent wheel(cursor, view.mapToGlobal(cursor), QPoint(), QPoint(0, 120), Qt::NoButton,
                      Qt::ControlModifier, Qt::NoScrollPhase, false);
    QApplication::sendEvent(&view, &wheel);
    EXPECT_GT(view.transform().zoom, 1.0);
    const QPointF after = view.widgetToImage(cursor);
    EXPECT_NEAR(after.x(), before.x(), 1e-9);
    EXPECT_NEAR(after.y(), before.y(), 1e-9);
    const QPointF pixel = view.imageToWidget({12, 7});
    const QString text = view.readout(pixel);
    EXPECT_TRUE(text.startsWith("127 HU")) << text.toStdString();
    EXPECT_TRUE(text.contains("mm")) << text.toStdString();
}

TEST(ReadingRoom, MeasurementsComeBackWhenTheStudyIsReopened) {
    const fs::path folder = freshFolder("rr-persist");
    demo(folder / "study");
    const QString database = QString::fromStdString((folder / "store.sqlite").string());
    std::vector<Vec3> drawnPoints;
    {
        MainWindow window(nullptr, database);
        window.show();
        openAndWait(window, {QString::fromStdString((folder / "study").string())});
        Viewport* v = window.activeViewport();
        v->setTool(Viewport::Tool::Distance);
        dragOnImage(*v, {10, 10}, {40, 30});
        ASSERT_NE(window.measurementModel(), nullptr);
        ASSERT_EQ(window.measurementModel()->rowCount(), 1);
        drawnPoints = window.measurementModel()->measurements()[0].points;
    } // the window closes: a restart
    MainWindow window(nullptr, database);
    openAndWait(window, {QString::fromStdString((folder / "study").string())});
    ASSERT_NE(window.measurementModel(), nullptr);
    ASSERT_EQ(window.measurementModel()->rowCount(), 1);
    const Measurement& m = window.measurementModel()->measurements()[0];
    EXPECT_EQ(m.points, drawnPoints);
    // Deleting it in the list deletes it from the store too.
    window.measurementModel()->remove(m.id);
    EXPECT_TRUE(StudyStore(database.toStdString())
                    .measurementsForSeries(window.currentSeriesUid().toStdString())
                    .empty());
    // And the study is in Recent Studies.
    const auto recent = StudyStore(database.toStdString()).recentStudies();
    ASSERT_FALSE(recent.empty());
    EXPECT_EQ(recent.front().paths.front(), fs::absolute(folder / "study").string());
}

TEST(ReadingRoom, ADamagedFolderListsItsProblemsAndTheGoodSeriesStillOpens) {
    const fs::path folder = freshFolder("rr-damaged");
    const DemoStudy study = demo(folder, 64, 24);
    fs::resize_file(study.ctFiles[5], 3000); // one slice cut short
    std::ofstream(folder / "notes.txt") << "not an image";
    MainWindow window(nullptr, QString::fromStdString((folder / "store.sqlite").string()));
    openAndWait(window, {QString::fromStdString(folder.string())});
    const auto volume = window.activeViewport()->volume();
    ASSERT_TRUE(volume);
    EXPECT_EQ(volume->size()[2], 23u);
    std::set<std::string> problemFiles;
    for (const Problem& p : window.problemModel()->problems()) {
        problemFiles.insert(fs::path(p.path).filename().string());
    }
    EXPECT_EQ(problemFiles.count(fs::path(study.ctFiles[5]).filename().string()), 1u);
    EXPECT_EQ(problemFiles.count("notes.txt"), 1u);
}

TEST(ReadingRoom, LayoutsAndASeriesDroppedOnAViewportOpensThere) {
    const fs::path folder = freshFolder("rr-layout");
    const DemoStudy study = demo(folder);
    MainWindow window(nullptr, QString::fromStdString((folder / "store.sqlite").string()));
    window.show();
    openAndWait(window, {QString::fromStdString(folder.string())});
    ViewerArea* area = window.viewerArea();
    area->setViewLayout(ViewerArea::Layout::OneByTwo);
    ASSERT_EQ(area->frames().size(), 2);
    ViewportFrame* second = area->frames()[1];
    QMimeData mime;
    mime.setData(ViewportFrame::kSeriesMimeType,
                 (QString::fromStdString(study.radiographSeriesInstanceUid) + "\n").toUtf8());
    QSignalSpy loaded(&window, &MainWindow::seriesLoaded);
    // As a real drag: enter (the frame accepts the series), then drop.
    QDragEnterEvent enter(QPoint(50, 50), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(second, &enter);
    ASSERT_TRUE(enter.isAccepted()) << "the viewport did not accept a series";
    QDropEvent drop(QPointF(50, 50), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(second, &drop);
    ASSERT_TRUE(loaded.wait(20000));
    ASSERT_TRUE(second->viewport()->volume());
    EXPECT_EQ(second->viewport()->volume()->modality, "DX");
    EXPECT_EQ(area->frames()[0]->viewport()->volume()->modality, "CT"); // the first keeps its CT
    EXPECT_EQ(area->activeFrame(), second);
    area->setViewLayout(ViewerArea::Layout::TwoByTwo);
    EXPECT_EQ(area->frames().size(), 4);
}

TEST(ReadingRoom, SearchThumbnailsTagsAndExport) {
    const fs::path folder = freshFolder("rr-browse");
    demo(folder);
    MainWindow window(nullptr, QString::fromStdString((folder / "store.sqlite").string()));
    window.show();
    QSignalSpy thumbnails(&window, &MainWindow::thumbnailShown);
    openAndWait(window, {QString::fromStdString(folder.string())});
    while (thumbnails.count() < 2 && thumbnails.wait(10000)) {
    }
    EXPECT_EQ(thumbnails.count(), 2);
    // Search: "skull" keeps the radiograph (and its study and patient) only.
    StudyBrowserModel* browser = window.browserModel();
    browser->setSearchText("skull");
    const QModelIndex patient = browser->index(0, 0);
    const QModelIndex study = browser->index(0, 0, patient);
    ASSERT_EQ(browser->rowCount(study), 1);
    EXPECT_EQ(browser->index(0, StudyTreeModel::ModalityColumn, study).data().toString(), "DX");
    EXPECT_FALSE(browser->index(0, 0, study).data(Qt::DecorationRole).isNull());
    browser->setSearchText("");
    EXPECT_EQ(browser->rowCount(browser->index(0, 0, browser->index(0, 0))), 2);
    // The tag browser shows the file of the slice on screen.
    QSignalSpy tagsLoaded(window.tagBrowser(), &TagBrowser::loaded);
    for (QAction* action : window.commands()) {
        if (action->text() == "DICOM Tags") {
            action->trigger();
        }
    }
    ASSERT_TRUE(tagsLoaded.count() > 0 || tagsLoaded.wait(10000));
    const auto volume = window.activeViewport()->volume();
    EXPECT_EQ(window.tagBrowser()->currentFile().toStdString(),
              volume->sliceFiles[std::size_t(window.activeViewport()->currentSlice())]);
    // Export: the viewport as PNG (with overlays), the series as NRRD.
    const QString png = QString::fromStdString((folder / "view.png").string());
    ASSERT_TRUE(window.exportViewportTo(png));
    const QImage shot(png);
    EXPECT_EQ(shot.size(), window.activeViewport()->size());
    QSignalSpy exported(&window, &MainWindow::seriesExported);
    window.exportSeriesTo(QString::fromStdString((folder / "ct.nrrd").string()));
    ASSERT_TRUE(exported.wait(20000));
    EXPECT_TRUE(exported.front().at(1).toString().isEmpty())
        << exported.front().at(1).toString().toStdString();
    EXPECT_GT(fs::file_size(folder / "ct.nrrd"), std::uintmax_t(64 * 64 * 24 * 2));
}

TEST(ReadingRoom, EveryShortcutIsUniqueAndInAMenu) {
    MainWindow window(nullptr,
                      QString::fromStdString((freshFolder("rr-keys") / "store.sqlite").string()));
    std::set<QString> seen;
    int withShortcut = 0;
    for (QAction* action : window.commands()) {
        if (action->shortcut().isEmpty()) {
            continue;
        }
        ++withShortcut;
        const QString key = action->shortcut().toString();
        EXPECT_TRUE(seen.insert(key).second) << "shortcut used twice: " << key.toStdString();
        EXPECT_FALSE(action->associatedObjects().isEmpty()) << action->text().toStdString();
    }
    EXPECT_GE(withShortcut, 25);
}
