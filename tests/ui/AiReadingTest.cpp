// AI reading in the viewer, driven as a reader uses it: the saliency overlay's colours,
// opacity, threshold and one-key toggle on a real viewport; then with the real ML plugin, a
// series classified off the GUI thread slice by slice with its probability strip and
// study-level score, a map drawn on the shown slice with its faithfulness, and models that
// cannot be used refused with the reason. Real widgets on the offscreen platform.

#include "core/dicom/DemoStudy.h"
#include "core/dicom/StudyIndexer.h"
#include "core/ml/MlRuntime.h"
#include "core/tasks/AiReadingService.h"
#include "ui/AiPanel.h"
#include "ui/MainWindow.h"
#include "ui/ProbabilityStrip.h"
#include "ui/Viewport.h"

#include <QApplication>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QSignalSpy>
#include <QTest>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

/// A 64 x 64 x 3 CT volume: a flat grey 40 HU (window 40/400: mid grey).
std::shared_ptr<Volume> greyVolume() {
    auto v = std::make_shared<Volume>(PixelFormat{ComponentType::Int16, 1},
                                      std::array<std::size_t, 3>{64, 64, 3});
    auto* p = static_cast<std::int16_t*>(v->data());
    std::fill(p, p + 64 * 64 * 3, std::int16_t(40));
    v->spacing = {1.0, 1.0, 1.0};
    v->modality = "CT";
    v->seriesInstanceUid = "1.2.3.555";
    v->windows = {{40, 400, ""}};
    v->statistics = computeStatistics(*v);
    return v;
}

/// A map that is 1 in the top-left quarter, 0.5 in the top-right quarter, 0 elsewhere.
std::shared_ptr<SaliencyOverlay> quarterMap(int slice) {
    auto map = std::make_shared<SaliencyOverlay>();
    map->slice = slice;
    map->width = 64;
    map->height = 64;
    map->values.assign(64 * 64, 0.0f);
    for (int y = 0; y < 32; ++y) {
        for (int x = 0; x < 64; ++x) {
            map->values[std::size_t(y * 64 + x)] = x < 32 ? 1.0f : 0.5f;
        }
    }
    map->title = QStringLiteral("Grad-CAM: test");
    return map;
}

/// How far from grey the viewport shows image point (x, y): max |channel - mean|.
int colourAt(Viewport& view, double x, double y) {
    const QImage shot = view.grab().toImage();
    const QPoint p = view.imageToWidget({x, y}).toPoint();
    const QColor c = shot.pixelColor(p);
    const int mean = (c.red() + c.green() + c.blue()) / 3;
    return std::max(
        {std::abs(c.red() - mean), std::abs(c.green() - mean), std::abs(c.blue() - mean)});
}

bool pluginAvailable() {
    std::error_code ec;
    return fs::exists(MlRuntime::pluginPath(), ec);
}

} // namespace

TEST(SaliencyOverlay, ColoursOpacityThresholdAndTheSKey) {
    Viewport view;
    view.resize(300, 300);
    view.show();
    view.setVolume(greyVolume(), true, QStringLiteral("k"));
    view.setCurrentSlice(1);
    view.setSaliency(quarterMap(1));
    view.setSaliencyStyle(SaliencyColours::Jet, 0.5, 0.2);
    EXPECT_TRUE(view.saliencyShown());
    EXPECT_GT(colourAt(view, 10, 10), 40) << "the strongest evidence is drawn in colour";
    EXPECT_GT(colourAt(view, 50, 10), 20) << "mid values too";
    EXPECT_LT(colourAt(view, 10, 50), 4) << "below the threshold the image stays grey";
    // Jet: high values red, mid values green.
    const QColor high = QColor(Viewport::saliencyColour(SaliencyColours::Jet, 1.0));
    EXPECT_GT(high.red(), 120);
    EXPECT_LT(high.blue(), 30);

    // The threshold hides what is below it; opacity 0 shows the image alone.
    view.setSaliencyStyle(SaliencyColours::Jet, 0.5, 0.7);
    EXPECT_GT(colourAt(view, 10, 10), 40);
    EXPECT_LT(colourAt(view, 50, 10), 4);
    view.setSaliencyStyle(SaliencyColours::Hot, 0.0, 0.2);
    EXPECT_LT(colourAt(view, 10, 10), 4);
    view.setSaliencyStyle(SaliencyColours::Viridis, 0.8, 0.2);
    EXPECT_GT(colourAt(view, 10, 10), 40);

    // One key hides and shows it, and says so.
    QSignalSpy toggled(&view, &Viewport::saliencyVisibilityChanged);
    QTest::keyClick(&view, Qt::Key_S);
    EXPECT_FALSE(view.saliencyVisible());
    EXPECT_LT(colourAt(view, 10, 10), 4);
    QTest::keyClick(&view, Qt::Key_S);
    EXPECT_TRUE(view.saliencyVisible());
    EXPECT_GT(colourAt(view, 10, 10), 40);
    EXPECT_EQ(toggled.count(), 2);

    // A map belongs to its slice: another slice shows the image alone.
    view.setCurrentSlice(2);
    EXPECT_FALSE(view.saliencyShown());
    EXPECT_LT(colourAt(view, 10, 10), 4);
    // A new series drops it.
    view.setCurrentSlice(1);
    auto other = greyVolume();
    other->seriesInstanceUid = "1.2.3.556";
    view.setVolume(other, true, QStringLiteral("k2"));
    EXPECT_EQ(view.saliency(), nullptr);
}

TEST(ProbabilityStripWidget, ClickingABarChoosesItsSlice) {
    ProbabilityStrip strip;
    strip.resize(200, 50);
    strip.show();
    strip.setValues({0.1, 0.2, 0.9, 0.4});
    QSignalSpy chosen(&strip, &ProbabilityStrip::sliceChosen);
    QTest::mouseClick(&strip, Qt::LeftButton, {}, QPoint(110, 25)); // third quarter
    ASSERT_EQ(chosen.count(), 1);
    EXPECT_EQ(chosen.front().front().toInt(), 2);
}

/// With the real ML plugin: an untrained but real model (random weights from a seed) reads the
/// demo CT. What a reader sees must follow from its outputs.
class AiReading : public ::testing::Test {
protected:
    void SetUp() override {
        if (!pluginAvailable()) {
            GTEST_SKIP() << "ML plugin not built (RADIOLENS_BUILD_ML=OFF); issue 5";
        }
        m_root = fs::path(::testing::TempDir()) / "ai-reading";
        fs::remove_all(m_root);
        DemoStudyOptions options;
        options.columns = 64;
        options.rows = 64;
        options.slices = 20;
        options.chests = 0;
        m_demo = writeDemoStudy((m_root / "demo").string(), options);
    }

    /// A model package for `modalities`, written by the engine.
    QString model(const std::string& name, std::vector<std::string> modalities) {
        ModelCard card;
        card.id = name;
        card.version = "1";
        card.architecture = "smallcnn";
        card.width = 16;
        card.classNames = {"normal", "lesion"};
        card.input.size = 32;
        card.input.modalities = std::move(modalities);
        const std::string dir = (m_root / name).string();
        MlRuntime::engine().createModel(card, dir, 3);
        return QString::fromStdString(dir);
    }

    fs::path m_root;
    DemoStudy m_demo;
};

TEST_F(AiReading, ASeriesIsClassifiedPerSliceAndTheShownSliceExplained) {
    MainWindow window;
    window.resize(1400, 900);
    window.show();
    QSignalSpy loaded(&window, &MainWindow::seriesLoaded);
    window.openPaths({QString::fromStdString(m_demo.folder)});
    ASSERT_TRUE(loaded.wait(20000));
    Viewport* view = window.activeViewport();
    ASSERT_EQ(view->sliceCount(), 20);

    AiPanel* panel = window.aiPanel();
    QSignalSpy shown(panel, &AiPanel::resultShown);
    QSignalSpy overlay(panel, &AiPanel::overlayShown);
    window.openModel(model("ct-model", {"CT"}));
    ASSERT_TRUE(shown.wait(30000)) << panel->statusText().toStdString();

    // One probability pair per slice; the study is as suspicious as its worst slice.
    const auto result = panel->classification();
    ASSERT_TRUE(result);
    ASSERT_EQ(result->slices.size(), 20U);
    double worst = 0.0;
    for (const auto& p : result->slices) {
        ASSERT_EQ(p.size(), 2U);
        EXPECT_NEAR(p[0] + p[1], 1.0, 1e-5);
        worst = std::max(worst, p[1]);
    }
    EXPECT_DOUBLE_EQ(result->study[1], worst);
    EXPECT_NEAR(result->study[0], 1.0 - worst, 1e-12);
    EXPECT_NEAR(result->slices[std::size_t(result->mostSuspiciousSlice)][1], worst, 1e-12);
    // The strip shows the explained class (lesion) per slice, the current slice marked.
    ASSERT_EQ(panel->strip()->values().size(), 20U);
    EXPECT_DOUBLE_EQ(panel->strip()->values()[7], result->slices[7][1]);
    EXPECT_EQ(panel->strip()->currentSlice(), view->currentSlice());
    // The table: this slice and the series.
    const QStringList rows = panel->probabilityRows();
    ASSERT_EQ(rows.size(), 2);
    EXPECT_TRUE(rows[1].startsWith(QStringLiteral("lesion|")));
    EXPECT_TRUE(rows[1].endsWith(QString::number(100.0 * worst, 'f', 1) + QStringLiteral(" %")))
        << rows[1].toStdString();

    // The shown slice is explained automatically, in the slice's own geometry.
    ASSERT_TRUE(overlay.count() > 0 || overlay.wait(30000));
    ASSERT_TRUE(view->saliency());
    EXPECT_EQ(view->saliency()->slice, view->currentSlice());
    EXPECT_EQ(view->saliency()->width, 64);
    EXPECT_EQ(view->saliency()->title, QStringLiteral("Grad-CAM: lesion"));

    // Clicking the strip moves the viewer; the new slice gets its own map.
    overlay.clear();
    QTest::mouseClick(panel->strip(), Qt::LeftButton, {},
                      QPoint(int(panel->strip()->width() * 2.5 / 20), 10));
    EXPECT_EQ(view->currentSlice(), 2);
    ASSERT_TRUE(overlay.wait(30000));
    EXPECT_EQ(view->saliency()->slice, 2);

    // Faithfulness on request, shown next to the map.
    overlay.clear();
    panel->explainNow(true);
    ASSERT_TRUE(overlay.wait(60000));
    EXPECT_TRUE(panel->faithfulnessText().startsWith(QStringLiteral("Deletion AUC")))
        << panel->faithfulnessText().toStdString();
    EXPECT_TRUE(view->saliency()->note.startsWith(QStringLiteral("deletion ")));

    // Occlusion, another method, on the same slice.
    overlay.clear();
    panel->setMethod(SaliencyMethod::Occlusion);
    ASSERT_TRUE(overlay.wait(60000));
    EXPECT_EQ(view->saliency()->title, QStringLiteral("Occlusion: lesion"));
}

TEST_F(AiReading, TheReadingIsSavedAsDicomInTheStudyAndPassesDciodvfy) {
    MainWindow window;
    window.resize(1400, 900);
    window.show();
    QSignalSpy loaded(&window, &MainWindow::seriesLoaded);
    window.openPaths({QString::fromStdString(m_demo.folder)});
    ASSERT_TRUE(loaded.wait(20000));
    AiPanel* panel = window.aiPanel();
    QSignalSpy shown(panel, &AiPanel::resultShown);
    QSignalSpy overlay(panel, &AiPanel::overlayShown);
    window.openModel(model("ct-model", {"CT"}));
    ASSERT_TRUE(shown.wait(30000)) << panel->statusText().toStdString();
    ASSERT_TRUE(overlay.count() > 0 || overlay.wait(30000));

    // What the overlay looks like is what the capture holds, at the slice's own size.
    const RenderedSlice capture = window.activeViewport()->saliencyCapture();
    EXPECT_EQ(capture.width, 64);
    EXPECT_EQ(capture.channels, 3);

    const QString folder = QString::fromStdString((m_root / "ai-dicom").string());
    QSignalSpy written(&window, &MainWindow::aiResultsWritten);
    window.saveAiResultsTo(folder);
    ASSERT_TRUE(written.wait(30000));
    ASSERT_TRUE(written.at(0).at(1).toString().isEmpty())
        << written.at(0).at(1).toString().toStdString();
    const QStringList files = written.at(0).at(0).toStringList();
    // The report, the capture of the overlay, and the float map (the CT has its geometry).
    ASSERT_EQ(files.size(), 3) << files.join(", ").toStdString();
    const StudyIndex index = StudyIndexer().index({folder.toStdString()});
    ASSERT_EQ(index.patients.size(), 1U);
    ASSERT_EQ(index.patients[0].studies.size(), 1U);
    const Volume& shownVolume = *window.activeViewport()->volume();
    EXPECT_EQ(index.patients[0].studies[0].studyInstanceUid, shownVolume.studyInstanceUid);
    std::set<std::string> sopClasses;
    for (const auto* series : index.allSeries()) {
        for (const auto& instance : series->instances) {
            sopClasses.insert(instance.sopClassUid);
        }
    }
    EXPECT_EQ(sopClasses,
              (std::set<std::string>{"1.2.840.10008.5.1.4.1.1.30",       // Parametric Map
                                     "1.2.840.10008.5.1.4.1.1.7",        // Secondary Capture
                                     "1.2.840.10008.5.1.4.1.1.88.33"})); // Comprehensive SR
    const QString dciodvfy = QStandardPaths::findExecutable(QStringLiteral("dciodvfy"));
    if (dciodvfy.isEmpty()) {
        GTEST_SKIP() << "dciodvfy is not installed (apt-get install dicom3tools; issue 8)";
    }
    for (const QString& file : files) {
        QProcess check;
        check.start(dciodvfy, {file});
        ASSERT_TRUE(check.waitForFinished(30000));
        const QString report =
            QString::fromUtf8(check.readAllStandardError() + check.readAllStandardOutput());
        EXPECT_FALSE(report.contains(
            QRegularExpression(QStringLiteral("^Error"), QRegularExpression::MultilineOption)))
            << file.toStdString() << "\n"
            << report.toStdString();
    }
}

TEST_F(AiReading, ModelsThatCannotReadTheSeriesSayWhy) {
    MainWindow window;
    window.show();
    QSignalSpy loaded(&window, &MainWindow::seriesLoaded);
    window.openPaths({QString::fromStdString(m_demo.folder)});
    ASSERT_TRUE(loaded.wait(20000));
    AiPanel* panel = window.aiPanel();

    // A model for MR: the CT is not classified, and the panel says why.
    QSignalSpy models(window.aiService(), &AiReadingService::modelLoaded);
    window.openModel(model("mr-model", {"MR"}));
    ASSERT_TRUE(models.wait(30000));
    QTRY_VERIFY_WITH_TIMEOUT(panel->statusText().contains(QStringLiteral("modality CT")), 5000);
    EXPECT_FALSE(panel->classification());

    // Damaged weights: refused with the file named; the window carries on.
    const QString broken = model("broken", {"CT"});
    {
        std::fstream weights((broken + QStringLiteral("/model.pt")).toStdString(),
                             std::ios::in | std::ios::out | std::ios::binary);
        weights.seekp(200);
        weights.write("XXXX", 4);
    }
    QSignalSpy failed(panel, &AiPanel::failed);
    window.openModel(broken);
    ASSERT_TRUE(failed.wait(30000));
    EXPECT_TRUE(failed.front().front().toString().contains(broken));
    EXPECT_TRUE(window.activeViewport()->volume());
}
