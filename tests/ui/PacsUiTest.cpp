// Query / Retrieve in the viewer, as a radiologist uses it (issue 8), against a real Orthanc on
// loopback: the node from the settings file, a search by the filters, a study retrieved into the
// store and shown in the study browser as it arrives; a server that stops answering leaves the
// study marked incomplete in the browser with the reason, and Retrieve again completes it; the
// settings dialog refuses a wrong AE title, naming the field; the study shown is exported
// de-identified.

#include "core/dicom/PacsClient.h"
#include "core/dicom/StudyIndexer.h"
#include "core/tasks/PacsService.h"
#include "core/tasks/StudyTreeModel.h"
#include "tests/common/OrthancServer.h"
#include "ui/MainWindow.h"
#include "ui/NetworkSettingsDialog.h"
#include "ui/QueryRetrieveWindow.h"

#include <QComboBox>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTest>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace radiolens;
using radiolens::test::OrthancServer;

namespace {

/// The shared GE CT (RADIOLENS_DATA_DIR is set by CTest).
const std::string kCtFolder =
    std::string(std::getenv("RADIOLENS_DATA_DIR") ? std::getenv("RADIOLENS_DATA_DIR")
                                                  : "../shared/data") +
    "/dicom/ct-head-ge-tilted";

class PacsUi : public ::testing::Test {
protected:
    void SetUp() override {
        if (OrthancServer::executable().empty()) {
            GTEST_SKIP() << "Orthanc is not installed (apt-get install orthanc; issue 8)";
        }
        if (!fs::is_directory(kCtFolder)) {
            GTEST_SKIP() << "shared data not found at " << kCtFolder << " (issue 8)";
        }
        m_root = fs::path(::testing::TempDir()) /
                 ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::remove_all(m_root);
        fs::create_directories(m_root);
        // This process's data folder: store, network settings and incoming studies.
        setenv("XDG_DATA_HOME", (m_root / "data").c_str(), 1);
        m_orthanc = std::make_unique<OrthancServer>((m_root / "orthanc").string(), "RADIOLENS",
                                                    OrthancServer::freePort());
        std::vector<std::string> files;
        for (const auto& entry : fs::directory_iterator(kCtFolder)) {
            files.push_back(entry.path().string());
        }
        PacsClient(DicomNode::parse(m_orthanc->address()), "RADIOLENS").store(files);
        NetworkSettings settings;
        DicomNode node = DicomNode::parse(m_orthanc->address());
        node.name = "Test archive";
        settings.nodes.push_back(node);
        settings.connectTimeoutSeconds = 2;
        settings.responseTimeoutSeconds = 2;
        settings.save(NetworkSettings::defaultPath());
    }

    fs::path m_root;
    std::unique_ptr<OrthancServer> m_orthanc;
};

} // namespace

TEST_F(PacsUi, ASearchedStudyIsRetrievedAndShownMarkedIncompleteWhenCutOffAndCompletedOnRetry) {
    MainWindow window;
    window.resize(1200, 800);
    window.show();
    QueryRetrieveWindow* qr = window.queryRetrieveWindow();
    qr->show();
    PacsService* pacs = window.pacsService();

    // A filter that matches nothing, then the study by modality.
    QSignalSpy searched(pacs, &PacsService::searched);
    qr->modalityField()->setCurrentText("MR");
    qr->search();
    ASSERT_TRUE(searched.wait(10000));
    EXPECT_EQ(qr->table()->rowCount(), 0);
    qr->modalityField()->setCurrentText("CT");
    qr->search();
    ASSERT_TRUE(searched.wait(10000));
    ASSERT_EQ(qr->table()->rowCount(), 1) << qr->statusText().toStdString();
    EXPECT_EQ(qr->table()->item(0, 3)->text(), "CT");
    EXPECT_EQ(qr->table()->item(0, 6)->text(), "28");
    const QString study = qr->table()->item(0, 0)->data(Qt::UserRole).toString();

    // Cut off: the server stops answering once part of the study is here.
    QSignalSpy finished(pacs, &PacsService::retrievalFinished);
    QSignalSpy progressed(pacs, &PacsService::retrievalProgressed);
    QObject::connect(pacs, &PacsService::retrievalProgressed, qr,
                     [this](const QString&, double fraction) {
                         if (fraction > 0.2 && fraction < 1.0) {
                             m_orthanc->pause();
                         }
                     });
    qr->table()->selectRow(0);
    qr->retrieveSelected();
    ASSERT_TRUE(finished.wait(30000));
    m_orthanc->resume();
    Retrieval cut = finished.takeFirst().at(0).value<Retrieval>();
    EXPECT_EQ(cut.state, Retrieval::State::Incomplete) << cut.error;
    EXPECT_NE(qr->statusText().indexOf("stopped answering"), -1) << qr->statusText().toStdString();
    EXPECT_NE(qr->table()->item(0, 7)->text().indexOf("incomplete"), -1);
    // The browser shows what arrived, marked incomplete.
    StudyTreeModel* tree = window.studyModel();
    QTRY_VERIFY_WITH_TIMEOUT(tree->studyIndex() && tree->studyIndex()->instanceCount() > 0, 10000);
    EXPECT_EQ(tree->studyNote(study), QString("incomplete: %1 of 28 images").arg(cut.present));

    // Retrieve again: only the rest is fetched, and the note goes.
    QObject::disconnect(pacs, &PacsService::retrievalProgressed, qr, nullptr);
    qr->retrieveSelected();
    ASSERT_TRUE(finished.wait(30000));
    const Retrieval done = finished.takeFirst().at(0).value<Retrieval>();
    EXPECT_EQ(done.state, Retrieval::State::Complete) << done.error;
    EXPECT_EQ(done.present, 28);
    EXPECT_NE(qr->statusText().indexOf("Retrieved 28 images"), -1);
    EXPECT_EQ(tree->studyNote(study), QString());
    QTRY_VERIFY_WITH_TIMEOUT(tree->studyIndex() && tree->studyIndex()->instanceCount() == 28,
                             10000);
    QTRY_VERIFY_WITH_TIMEOUT(!window.currentSeriesUid().isEmpty(), 10000);

    // A Cancel with nothing running does not cancel the next retrieval.
    pacs->cancelRetrievals();
    int removed = 0;
    for (const auto& entry : fs::directory_iterator(fs::path(pacs->incomingFolder().toStdString()) /
                                                    study.toStdString())) {
        if (removed < 2 && entry.path().extension() == ".dcm") {
            fs::remove(entry.path());
            ++removed;
        }
    }
    qr->retrieveSelected();
    ASSERT_TRUE(finished.wait(30000));
    const Retrieval again = finished.takeFirst().at(0).value<Retrieval>();
    EXPECT_EQ(again.state, Retrieval::State::Complete) << again.error;
    EXPECT_EQ(again.present, 28);

    if (const char* dir = std::getenv("RADIOLENS_SCREENSHOT_DIR")) {
        qr->grab().save(QString(dir) + "/screenshot-pacs.png");
    }
}

TEST_F(PacsUi, TheSettingsDialogNamesAWrongFieldAndSavesGoodOnes) {
    PacsService service({}, {});
    NetworkSettingsDialog dialog(service);
    ASSERT_EQ(dialog.nodeTable()->rowCount(), 1);
    DicomNode bad;
    bad.name = "Broken";
    bad.aeTitle = "A_TITLE_FAR_TOO_LONG";
    bad.host = "pacs.example";
    bad.port = 104;
    dialog.addNode(bad);
    dialog.accept();
    EXPECT_NE(dialog.statusText().indexOf("Node 2 (Broken): AE title"), -1)
        << dialog.statusText().toStdString();
    EXPECT_EQ(NetworkSettings::load(NetworkSettings::defaultPath()).nodes.size(), 1u);
    dialog.nodeTable()->item(1, 1)->setText("GOOD");
    dialog.accept();
    const NetworkSettings saved = NetworkSettings::load(NetworkSettings::defaultPath());
    ASSERT_EQ(saved.nodes.size(), 2u);
    EXPECT_EQ(saved.nodes[1].address(), "GOOD@pacs.example:104");
}

TEST(Deidentify, TheStudyShownIsExportedDeidentifiedWithItsReferencesKept) {
    if (!fs::is_directory(kCtFolder)) {
        GTEST_SKIP() << "shared data not found at " << kCtFolder << " (issue 8)";
    }
    const fs::path out = fs::path(::testing::TempDir()) / "deidentified-export";
    fs::remove_all(out);
    MainWindow window;
    QSignalSpy loaded(&window, &MainWindow::seriesLoaded);
    window.openPaths({QString::fromStdString(kCtFolder)});
    ASSERT_TRUE(loaded.wait(30000));
    QSignalSpy done(&window, &MainWindow::studyDeidentified);
    window.exportStudyDeidentifiedTo(QString::fromStdString(out.string()));
    ASSERT_TRUE(done.wait(30000));
    EXPECT_EQ(done.at(0).at(1).toInt(), 28);
    EXPECT_TRUE(done.at(0).at(2).toStringList().isEmpty());
    // One new study and series holding the 28 copies, and no original UID or ID in any byte.
    const StudyIndex copies = StudyIndexer().index({out.string()});
    ASSERT_EQ(copies.seriesCount(), 1u);
    EXPECT_EQ(copies.instanceCount(), 28u);
    const auto& original = window.studyModel()->studyIndex()->patients.at(0);
    const std::string studyUid = original.studies.at(0).studyInstanceUid;
    EXPECT_NE(copies.patients.at(0).studies.at(0).studyInstanceUid, studyUid);
    for (const auto& entry : fs::recursive_directory_iterator(out)) {
        if (entry.is_regular_file()) {
            std::ifstream in(entry.path(), std::ios::binary);
            const std::string bytes((std::istreambuf_iterator<char>(in)), {});
            EXPECT_EQ(bytes.find(studyUid), std::string::npos) << entry.path();
            EXPECT_EQ(bytes.find(original.patientId), std::string::npos) << entry.path();
        }
    }
}
