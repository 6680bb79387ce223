// Labelling and retraining in the viewer, driven as an annotator uses them (issue 6): the
// worklist opens its images, keys 1-9 label (not window presets), Ctrl+Z / Ctrl+Shift+Z undo and
// redo, J goes on; the active model's suggestion is accepted with Enter; training runs in the
// background with live charts and publishes a version, or is cancelled keeping the registry as
// it was; two versions are compared and the report exported; a folder opened before is shown
// from the store at once. Real widgets on the offscreen platform, the real store, the real ML
// plugin and radiolens-cli.

#include "core/dicom/DemoStudy.h"
#include "core/dicom/StudyIndexer.h"
#include "core/ml/MlRuntime.h"
#include "core/store/IndexCache.h"
#include "core/store/LabelStore.h"
#include "core/store/ModelRegistry.h"
#include "core/store/StudyStore.h"
#include "core/tasks/LabellingSession.h"
#include "core/tasks/StudyTreeModel.h"
#include "ui/LabelPanel.h"
#include "ui/MainWindow.h"
#include "ui/ModelsWindow.h"
#include "ui/TrainingWindow.h"
#include "ui/Viewport.h"

#include <QApplication>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTest>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

bool pluginAvailable() {
    std::error_code ec;
    return fs::exists(MlRuntime::pluginPath(), ec);
}

class Labelling : public ::testing::Test {
protected:
    void SetUp() override {
        m_root = fs::path(::testing::TempDir()) /
                 ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::remove_all(m_root);
        DemoStudyOptions options;
        options.columns = 32;
        options.rows = 32;
        options.slices = 8;
        options.chests = 16;
        options.chestSize = 64;
        m_demo = writeDemoStudy((m_root / "demo").string(), options);
        m_storePath = (m_root / "store.sqlite").string();
        StudyStore store(m_storePath);
        IndexCache(store).save({m_demo.folder}, StudyIndexer().index({m_demo.folder}));
        LabelStore labels(store);
        labels.addClass("normal", "test");
        labels.addClass("nodule", "test");
    }

    /// The true classes of the first `count` chest radiographs, as another reader's labels.
    void labelTruth(std::size_t count) {
        StudyStore store(m_storePath);
        std::vector<Label> truth;
        for (std::size_t i = 0; i < count && i < m_demo.chests.size(); ++i) {
            Label l;
            l.level = LabelLevel::Series;
            l.item = m_demo.chests[i].seriesInstanceUid;
            l.className = m_demo.chests[i].nodule ? "nodule" : "normal";
            l.annotator = "truth";
            truth.push_back(l);
        }
        LabelStore(store).addAll(truth, "test", "truth");
    }

    /// An untrained small CNN for chest radiographs, published and (with `promote`) active.
    RegisteredModel publishModel(const std::string& version, unsigned seed, bool promote) {
        ModelCard card;
        card.id = "chest";
        card.version = version;
        card.architecture = "smallcnn";
        card.width = 8;
        card.classNames = {"normal", "nodule"};
        card.input.size = 64;
        card.input.modalities = {"DX"};
        const std::string dir = (m_root / ("model-" + version)).string();
        MlRuntime::engine().createModel(card, dir, seed);
        StudyStore store(m_storePath);
        ModelRegistry registry(store);
        const RegisteredModel m = registry.publish(dir, "", 0, 0, "test");
        if (promote) {
            registry.promote("chest", version, "test");
        }
        return m;
    }

    std::vector<Label> currentLabels(const std::string& annotator) {
        StudyStore store(m_storePath);
        LabelQuery q;
        q.annotator = annotator;
        return LabelStore(store).current(q);
    }

    fs::path m_root;
    DemoStudy m_demo;
    std::string m_storePath;
};

} // namespace

TEST_F(Labelling, KeysLabelTheImageUndoRedoAndGoOn) {
    MainWindow window(nullptr, QString::fromStdString(m_storePath));
    window.resize(1400, 900);
    window.show();
    window.setLabellingMode(true);
    LabelPanel* panel = window.labelPanel();
    ASSERT_NE(panel, nullptr);
    LabellingSession* session = panel->session();
    session->setAnnotator(QStringLiteral("ann"));
    QSignalSpy ready(session, &LabellingSession::worklistReady);
    panel->refreshWorklist();
    ASSERT_TRUE(ready.wait(20000));
    // No active model: the radiographs by date (16 chest films and the skull film).
    EXPECT_EQ(panel->worklistRows(), 17);
    EXPECT_EQ(panel->classButtonTexts(),
              (QStringList{QStringLiteral("1  normal  (0)"), QStringLiteral("2  nodule  (0)")}));

    QSignalSpy loaded(&window, &MainWindow::seriesLoaded);
    ASSERT_TRUE(panel->goToUnlabelled(1));
    ASSERT_TRUE(loaded.wait(20000));
    Viewport* view = window.activeViewport();
    const std::string first = session->current().instance.sopInstanceUid;
    EXPECT_EQ(window.currentImageFile().toStdString(), session->current().instance.path);
    const auto windowBefore = view->window();

    QTest::keyClick(view, Qt::Key_2);
    std::vector<Label> mine = currentLabels("ann");
    ASSERT_EQ(mine.size(), 1u);
    EXPECT_EQ(mine[0].item, first);
    EXPECT_EQ(mine[0].className, "nodule");
    EXPECT_EQ(mine[0].source, LabelSource::Human);
    EXPECT_EQ(view->window().center, windowBefore.center) << "the digit labelled, not windowed";
    EXPECT_EQ(view->window().width, windowBefore.width);
    EXPECT_EQ(session->currentLabel(), QStringLiteral("nodule"));

    QTest::keyClick(view, Qt::Key_1); // a change of mind
    EXPECT_EQ(currentLabels("ann")[0].className, "normal");
    QTest::keyClick(view, Qt::Key_Z, Qt::ControlModifier);
    EXPECT_EQ(currentLabels("ann")[0].className, "nodule");
    QTest::keyClick(view, Qt::Key_Z, Qt::ControlModifier);
    EXPECT_TRUE(currentLabels("ann").empty()) << "undone to no label";
    QTest::keyClick(view, Qt::Key_Z, Qt::ControlModifier | Qt::ShiftModifier);
    EXPECT_EQ(currentLabels("ann")[0].className, "nodule");
    {
        StudyStore store(m_storePath);
        EXPECT_EQ(LabelStore(store).history(LabelLevel::Image, first).size(), 5u)
            << "every step is kept";
    }

    // J: the next unlabelled image opens, and is labelled with its own key.
    QTest::keyClick(view, Qt::Key_J);
    ASSERT_TRUE(loaded.wait(20000));
    EXPECT_NE(session->current().instance.sopInstanceUid, first);
    QTest::keyClick(window.activeViewport(), Qt::Key_1);
    EXPECT_EQ(currentLabels("ann").size(), 2u);
    EXPECT_TRUE(panel->countsText().contains(QStringLiteral("nodule 1")))
        << panel->countsText().toStdString();
    EXPECT_TRUE(panel->countsText().contains(QStringLiteral("normal 1")));
    QTest::keyClick(window.activeViewport(), Qt::Key_9);
    EXPECT_TRUE(panel->statusText().contains(QStringLiteral("no class 9")));

    // Out of labelling mode the digits are window presets again.
    window.setLabellingMode(false);
    QTest::keyClick(window.activeViewport(), Qt::Key_2);
    EXPECT_EQ(currentLabels("ann").size(), 2u);
}

TEST_F(Labelling, TheActiveModelsSuggestionIsAcceptedWithEnter) {
    if (!pluginAvailable()) {
        GTEST_SKIP() << "ML plugin not built (RADIOLENS_BUILD_ML=OFF); issue 6 trains with it";
    }
    const RegisteredModel model = publishModel("1", 3, true);
    labelTruth(4); // another reader's labels: left out of the first reading's worklist
    MainWindow window(nullptr, QString::fromStdString(m_storePath));
    window.resize(1400, 900);
    window.show();
    window.setLabellingMode(true);
    LabelPanel* panel = window.labelPanel();
    LabellingSession* session = panel->session();
    session->setAnnotator(QStringLiteral("ann"));
    QSignalSpy ready(session, &LabellingSession::worklistReady);
    panel->refreshWorklist();
    ASSERT_TRUE(ready.wait(60000));
    const Worklist& list = session->worklist();
    EXPECT_EQ(list.modelId, "chest");
    EXPECT_EQ(list.items.size(), 13u) << "17 radiographs, 4 labelled by another reader";
    EXPECT_EQ(list.labelled, 4u);
    for (std::size_t i = 1; i < list.items.size(); ++i) {
        EXPECT_GE(list.items[i - 1].uncertainty, list.items[i].uncertainty) << i;
        ASSERT_EQ(list.items[i].probabilities.size(), 2u);
    }

    QSignalSpy loaded(&window, &MainWindow::seriesLoaded);
    ASSERT_TRUE(panel->goToUnlabelled(1));
    ASSERT_TRUE(loaded.wait(20000));
    EXPECT_TRUE(panel->suggestionText().contains(QStringLiteral("suggests")))
        << panel->suggestionText().toStdString();
    const QString suggested = session->suggestedClass();
    QTest::keyClick(window.activeViewport(), Qt::Key_Return);
    const std::vector<Label> mine = currentLabels("ann");
    ASSERT_EQ(mine.size(), 1u);
    EXPECT_EQ(QString::fromStdString(mine[0].className), suggested);
    EXPECT_EQ(mine[0].source, LabelSource::Model);
    EXPECT_TRUE(mine[0].confirmed);
    EXPECT_EQ(mine[0].modelVersion, "1");
    EXPECT_NEAR(mine[0].probability, session->suggestedProbability(), 1e-9);
}

TEST_F(Labelling, TrainingRunsInTheBackgroundWithLiveChartsAndPublishes) {
    if (!pluginAvailable()) {
        GTEST_SKIP() << "ML plugin not built (RADIOLENS_BUILD_ML=OFF); issue 6 trains with it";
    }
    labelTruth(16);
    MainWindow window(nullptr, QString::fromStdString(m_storePath));
    TrainingWindow* training = window.trainingWindow();
    ASSERT_NE(training, nullptr);
    training->show();
    QSignalSpy published(training, &TrainingWindow::published);
    QSignalSpy stopped(training, &TrainingWindow::stopped);
    training->startTraining(
        {QStringLiteral("--scratch"), QStringLiteral("--arch"), QStringLiteral("smallcnn"),
         QStringLiteral("--width"), QStringLiteral("8"), QStringLiteral("--image-size"),
         QStringLiteral("64"), QStringLiteral("--epochs"), QStringLiteral("4")});
    EXPECT_TRUE(training->isTraining());
    ASSERT_TRUE(published.wait(180000)) << training->statusText().toStdString();
    EXPECT_EQ(stopped.count(), 0);
    EXPECT_EQ(training->lossPoints(), 4);
    EXPECT_EQ(training->aucPoints(), 4);
    EXPECT_EQ(training->progressPercent(), 100);
    EXPECT_TRUE(training->statusText().contains(QStringLiteral("not active yet")))
        << training->statusText().toStdString();
    StudyStore store(m_storePath);
    const std::vector<RegisteredModel> versions = ModelRegistry(store).versions();
    ASSERT_EQ(versions.size(), 1u);
    EXPECT_FALSE(versions[0].active) << "a new version waits to be looked at";
    EXPECT_EQ(versions[0].labels, 16u);
}

TEST_F(Labelling, CancelledTrainingKeepsTheRegistryAndItsCheckpoint) {
    if (!pluginAvailable()) {
        GTEST_SKIP() << "ML plugin not built (RADIOLENS_BUILD_ML=OFF); issue 6 trains with it";
    }
    labelTruth(16);
    MainWindow window(nullptr, QString::fromStdString(m_storePath));
    TrainingWindow* training = window.trainingWindow();
    QSignalSpy stopped(training, &TrainingWindow::stopped);
    training->startTraining(
        {QStringLiteral("--scratch"), QStringLiteral("--arch"), QStringLiteral("smallcnn"),
         QStringLiteral("--width"), QStringLiteral("8"), QStringLiteral("--image-size"),
         QStringLiteral("64"), QStringLiteral("--epochs"), QStringLiteral("500"),
         QStringLiteral("--patience"), QStringLiteral("500")});
    QTRY_VERIFY_WITH_TIMEOUT(training->lossPoints() >= 10, 120000);
    EXPECT_FALSE(training->etaText().isEmpty()) << "the time left is shown";
    training->cancelTraining();
    ASSERT_TRUE(stopped.wait(60000));
    EXPECT_TRUE(stopped.front().front().toString().contains(QStringLiteral("cancelled")))
        << stopped.front().front().toString().toStdString();
    StudyStore store(m_storePath);
    ModelRegistry registry(store);
    EXPECT_TRUE(registry.versions().empty());
    const std::vector<TrainingRun> runs = registry.runs();
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].state, "cancelled");
    EXPECT_GE(runs[0].epoch, 2);
    EXPECT_TRUE(fs::exists(runs[0].folder + "/checkpoint/checkpoint.json"));
}

TEST_F(Labelling, TwoVersionsAreComparedPromotedAndReported) {
    if (!pluginAvailable()) {
        GTEST_SKIP() << "ML plugin not built (RADIOLENS_BUILD_ML=OFF); issue 6 trains with it";
    }
    labelTruth(16);
    publishModel("1", 1, true);
    publishModel("2", 2, false);
    StudyStore store(m_storePath);
    ModelsWindow models(store);
    models.show();
    ASSERT_EQ(models.rows(), 2);
    QSignalSpy shown(&models, &ModelsWindow::comparisonShown);
    models.compareRows(0, 1);
    ASSERT_TRUE(shown.wait(60000)) << models.statusText().toStdString();
    const ModelComparison* c = models.comparison();
    ASSERT_NE(c, nullptr);
    ASSERT_EQ(c->models.size(), 2u);
    EXPECT_GT(c->labels.size(), 0u);
    EXPECT_EQ(c->models[0].version, "1");
    EXPECT_EQ(c->models[1].roc.front(), (std::pair<double, double>{0.0, 0.0}));
    EXPECT_EQ(c->models[1].roc.back(), (std::pair<double, double>{1.0, 1.0}));
    const QString report = QString::fromStdString((m_root / "report.html").string());
    ASSERT_TRUE(models.exportReport(report));
    std::ifstream in(report.toStdString());
    const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(html.find("<svg"), std::string::npos);
    EXPECT_NE(html.find("Confusion"), std::string::npos);

    QSignalSpy changed(&models, &ModelsWindow::activeModelChanged);
    models.table()->selectRow(1);
    for (QPushButton* button : models.findChildren<QPushButton*>()) {
        if (button->text() == QStringLiteral("Promote Selected")) {
            button->click();
        }
    }
    EXPECT_EQ(changed.count(), 1);
    EXPECT_EQ(ModelRegistry(store).active("chest")->version, "2");
}

TEST_F(Labelling, AFolderOpenedBeforeIsShownFromTheStoreAtOnce) {
    MainWindow window(nullptr, QString::fromStdString(m_storePath));
    QSignalSpy fromStore(&window, &MainWindow::studiesShownFromStore);
    QSignalSpy indexed(&window, &MainWindow::studiesIndexed);
    window.openPaths({QString::fromStdString(m_demo.folder)});
    ASSERT_TRUE(indexed.wait(20000));
    // SetUp kept this folder's index in the store: it was shown before the folder was read.
    ASSERT_EQ(fromStore.count(), 1);
    EXPECT_EQ(window.studyModel()->studyIndex()->instanceCount(), 8u + 1u + 16u);
}
