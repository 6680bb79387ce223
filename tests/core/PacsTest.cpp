// DICOM networking against a real Orthanc on loopback (started and stopped by the test): echo,
// store, find at every level, C-GET and C-MOVE with pixel data checked byte for byte, the
// listener, and what a reader sees when the server dies or stops answering mid-retrieve.

#include "core/dicom/PacsClient.h"
#include "core/dicom/StorageListener.h"
#include "core/dicom/StudyRetriever.h"
#include "core/store/RetrievalLog.h"
#include "core/store/StudyStore.h"
#include "tests/common/OrthancServer.h"
#include "tests/common/Scratch.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>

namespace fs = std::filesystem;
using namespace radiolens;
using radiolens::test::OrthancServer;

namespace {

const std::string kCtFolder = std::string(RADIOLENS_DATA_DIR) + "/dicom/ct-head-ge-tilted";
const char* kOwnAe = "RADIOLENS";

#define REQUIRE_ORTHANC_AND_DATA()                                                                 \
    if (OrthancServer::executable().empty()) {                                                     \
        GTEST_SKIP() << "Orthanc is not installed (apt-get install orthanc; the README's test "    \
                        "command installs it; issue 8)";                                           \
    }                                                                                              \
    if (!fs::is_directory(kCtFolder)) {                                                            \
        GTEST_SKIP() << "shared data not found at " << kCtFolder                                   \
                     << " (set RADIOLENS_DATA_DIR to the ../shared/data folder; issue 8)";         \
    }

std::vector<std::string> ctFiles() {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(kCtFolder)) {
        files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

struct FileFacts {
    std::string studyUid;
    std::string sopUid;
    std::vector<unsigned char> pixels; ///< the Pixel Data value, as stored
};

FileFacts factsOf(const std::string& path) {
    DcmFileFormat file;
    EXPECT_TRUE(file.loadFile(path.c_str()).good()) << path;
    DcmDataset& data = *file.getDataset();
    FileFacts facts;
    OFString text;
    data.findAndGetOFString(DCM_StudyInstanceUID, text);
    facts.studyUid = text.c_str();
    data.findAndGetOFString(DCM_SOPInstanceUID, text);
    facts.sopUid = text.c_str();
    DcmElement* pixels = nullptr;
    if (data.findAndGetElement(DCM_PixelData, pixels).good()) {
        Uint8* bytes = nullptr;
        if (pixels->getUint8Array(bytes).bad() || bytes == nullptr) {
            Uint16* words = nullptr;
            pixels->getUint16Array(words);
            bytes = reinterpret_cast<Uint8*>(words);
        }
        if (bytes) {
            facts.pixels.assign(bytes, bytes + pixels->getLength());
        }
    }
    return facts;
}

/// Pixel data of the shared CT by SOP Instance UID.
const std::map<std::string, FileFacts>& sourceFacts() {
    static const std::map<std::string, FileFacts> facts = [] {
        std::map<std::string, FileFacts> out;
        for (const std::string& file : ctFiles()) {
            FileFacts f = factsOf(file);
            out[f.sopUid] = f;
        }
        return out;
    }();
    return facts;
}

/// Every retrieved file of `study` has the pixel data of the source instance, byte for byte.
void expectIdenticalToSource(const std::string& folder, const std::string& study) {
    int checked = 0;
    for (const auto& entry : fs::directory_iterator(fs::path(folder) / study)) {
        if (entry.path().extension() != ".dcm") {
            continue;
        }
        const FileFacts got = factsOf(entry.path().string());
        const auto source = sourceFacts().find(got.sopUid);
        ASSERT_NE(source, sourceFacts().end()) << entry.path();
        EXPECT_EQ(entry.path().filename().string(), got.sopUid + ".dcm");
        EXPECT_FALSE(got.pixels.empty());
        EXPECT_TRUE(got.pixels == source->second.pixels) << entry.path() << " differs";
        ++checked;
    }
    EXPECT_EQ(checked, int(sourceFacts().size()));
}

/// Calls `action` once, when the retrieval's progress first reaches `fraction`.
class TriggerAt final : public ProgressSink {
public:
    TriggerAt(double fraction, std::function<void()> action)
        : m_fraction(fraction)
        , m_action(std::move(action)) {}
    bool report(double fraction) override {
        if (!m_fired && fraction >= m_fraction && fraction < 1.0) {
            m_fired = true;
            m_action();
        }
        return true;
    }
    bool fired() const { return m_fired; }

private:
    double m_fraction;
    std::function<void()> m_action;
    bool m_fired = false;
};

class Pacs : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ORTHANC_AND_DATA();
        m_dir = radiolens::test::scratch(
            std::string("pacs-") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
        m_listenPort = OrthancServer::freePort();
        m_orthanc =
            std::make_unique<OrthancServer>((m_dir / "orthanc").string(), kOwnAe, m_listenPort);
        m_node = DicomNode::parse(m_orthanc->address());
    }

    PacsClient client(NetworkTimeouts timeouts = {}) {
        return PacsClient(m_node, kOwnAe, timeouts);
    }

    std::string studyUid() const { return sourceFacts().begin()->second.studyUid; }

    void storeCt() {
        std::vector<std::string> failures;
        ASSERT_EQ(client().store(ctFiles(), &failures), 28);
        EXPECT_TRUE(failures.empty());
    }

    fs::path m_dir;
    int m_listenPort = 0;
    std::unique_ptr<OrthancServer> m_orthanc;
    DicomNode m_node;
};

} // namespace

TEST_F(Pacs, EchoStoreFindAtEveryLevelGetAndMoveBackIdenticalPixels) {
    EXPECT_LT(client().echo(), 5.0);
    storeCt();

    QueryFilter filter;
    const auto patients = client().find(QueryLevel::Patient, filter);
    ASSERT_EQ(patients.size(), 1u);
    const auto studies = client().find(QueryLevel::Study, filter);
    ASSERT_EQ(studies.size(), 1u);
    EXPECT_EQ(studies[0].studyInstanceUid, studyUid());
    EXPECT_EQ(studies[0].modalitiesInStudy, "CT");
    EXPECT_EQ(studies[0].studyInstances, 28);
    EXPECT_EQ(studies[0].patientId, patients[0].patientId);
    filter.modality = "MR";
    EXPECT_TRUE(client().find(QueryLevel::Study, filter).empty()) << "the modality filter";
    filter.modality.clear();
    filter.studyInstanceUid = studyUid();
    const auto series = client().find(QueryLevel::Series, filter);
    ASSERT_EQ(series.size(), 1u);
    EXPECT_EQ(series[0].modality, "CT");
    EXPECT_EQ(series[0].seriesInstances, 28);
    const auto images = client().find(QueryLevel::Image, filter);
    EXPECT_EQ(images.size(), 28u);

    // C-GET.
    const std::string getFolder = (m_dir / "get").string();
    int storedCalls = 0;
    const RetrieveOutcome got = client().get(studyUid(), {}, getFolder, nullptr,
                                             [&](const std::string&) { ++storedCalls; });
    EXPECT_EQ(got.expected, 28);
    EXPECT_EQ(got.received, 28);
    EXPECT_TRUE(got.complete());
    EXPECT_EQ(storedCalls, 28);
    expectIdenticalToSource(getFolder, studyUid());

    // C-MOVE to Radiolens's own listener, which Orthanc knows as the move destination.
    const std::string moveFolder = (m_dir / "move").string();
    ListenerOptions options;
    options.aeTitle = kOwnAe;
    options.port = m_listenPort;
    options.folder = moveFolder;
    StorageListener listener(options);
    listener.start();
    const RetrieveOutcome moved = client().move(studyUid(), {}, moveFolder, kOwnAe);
    listener.stop();
    EXPECT_TRUE(moved.complete());
    EXPECT_EQ(listener.receivedCount(), 28);
    expectIdenticalToSource(moveFolder, studyUid());
}

TEST_F(Pacs, KillingTheServerMidRetrieveMarksTheStudyIncompleteAndARetryFetchesTheRest) {
    storeCt();
    StudyStore store((m_dir / "store.sqlite").string());
    RetrievalLog log(store);
    const auto record = [&](const Retrieval& r) {
        log.record(r);
    };
    RetrieveRequest request;
    request.studyInstanceUid = studyUid();
    request.folder = (m_dir / "incoming").string();

    PacsClient pacs = client();
    TriggerAt killer(0.3, [&] { m_orthanc->kill(); });
    const Retrieval cut = retrieveStudy(pacs, kOwnAe, request, &killer, record);
    ASSERT_TRUE(killer.fired());
    EXPECT_EQ(cut.state, Retrieval::State::Incomplete);
    EXPECT_NE(cut.error.find("C-GET of study " + studyUid() + " stopped after"), std::string::npos)
        << cut.error;
    EXPECT_NE(cut.error.find(m_orthanc->address()), std::string::npos) << cut.error;
    EXPECT_EQ(cut.expected, 28);
    EXPECT_GE(cut.present, 8);
    EXPECT_LT(cut.present, 28);
    const auto kept = log.find(studyUid());
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->state, Retrieval::State::Incomplete);
    EXPECT_EQ(kept->present, cut.present);
    EXPECT_EQ(kept->error, cut.error);
    // No half-written file is left where the study's files are.
    EXPECT_EQ(instancesOnDisk(request.folder, studyUid()), cut.present);

    m_orthanc->start();
    int fetched = 0;
    PacsClient again = client();
    const Retrieval retried = retrieveStudy(again, kOwnAe, request, nullptr, record,
                                            [&](const std::string&) { ++fetched; });
    EXPECT_EQ(retried.state, Retrieval::State::Complete) << retried.error;
    EXPECT_EQ(fetched, 28 - cut.present) << "only the missing instances are fetched";
    EXPECT_EQ(retried.present, 28);
    EXPECT_EQ(log.find(studyUid())->state, Retrieval::State::Complete);
    expectIdenticalToSource(request.folder, studyUid());
}

TEST_F(Pacs, AServerThatStopsAnsweringTimesOutWithAClearErrorAndTheRetryCompletes) {
    storeCt();
    RetrieveRequest request;
    request.studyInstanceUid = studyUid();
    request.folder = (m_dir / "incoming").string();
    NetworkTimeouts quick;
    quick.connectSeconds = 2;
    quick.responseSeconds = 2;
    PacsClient pacs = client(quick);
    TriggerAt staller(0.2, [&] { m_orthanc->pause(); });
    const auto start = std::chrono::steady_clock::now();
    const Retrieval cut = retrieveStudy(pacs, kOwnAe, request, &staller, {});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m_orthanc->resume();
    ASSERT_TRUE(staller.fired());
    EXPECT_EQ(cut.state, Retrieval::State::Incomplete);
    EXPECT_NE(cut.error.find("stopped answering (no message in 2 s)"), std::string::npos)
        << cut.error;
    EXPECT_LT(seconds, 10.0);
    EXPECT_LT(cut.present, 28);

    PacsClient again = client();
    const Retrieval retried = retrieveStudy(again, kOwnAe, request, nullptr, {});
    EXPECT_EQ(retried.state, Retrieval::State::Complete) << retried.error;
    expectIdenticalToSource(request.folder, studyUid());
}

TEST_F(Pacs, CancellingARetrievalKeepsWhatArrivedAndSaysCancelled) {
    storeCt();
    RetrieveRequest request;
    request.studyInstanceUid = studyUid();
    request.folder = (m_dir / "incoming").string();
    struct CancelAt final : ProgressSink {
        bool report(double fraction) override { return fraction < 0.25; }
    } cancel;
    PacsClient pacs = client();
    const Retrieval r = retrieveStudy(pacs, kOwnAe, request, &cancel, {});
    EXPECT_EQ(r.state, Retrieval::State::Cancelled) << r.error;
    EXPECT_GE(r.present, 7);
    EXPECT_LT(r.present, 28);
    // The association ended cleanly: the server still answers.
    EXPECT_LT(client().echo(), 5.0);
}

TEST(PacsErrors, ANodeThatIsNotThereGivesAClearError) {
    const int port = OrthancServer::freePort();
    NetworkTimeouts quick;
    quick.connectSeconds = 2;
    PacsClient pacs(DicomNode::parse("NOBODY@127.0.0.1:" + std::to_string(port)), kOwnAe, quick);
    try {
        pacs.echo();
        FAIL() << "echo to a closed port succeeded";
    } catch (const NetworkError& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("NOBODY@127.0.0.1:" + std::to_string(port) +
                               ": C-ECHO: cannot "
                               "connect"),
                  std::string::npos)
            << message;
    }
}

TEST(PacsErrors, TheListenerStoresPushedFilesAndRefusesAnotherCalledAeTitle) {
    if (!fs::is_directory(kCtFolder)) {
        GTEST_SKIP() << "shared data not found at " << kCtFolder << " (issue 8)";
    }
    const fs::path dir = radiolens::test::scratch("pacs-listener");
    ListenerOptions options;
    options.aeTitle = "RLTEST";
    options.port = OrthancServer::freePort();
    options.folder = (dir / "in").string();
    std::vector<std::string> callers;
    StorageListener listener(
        options, [&](const ReceivedInstance& r) { callers.push_back(r.callingAeTitle); });
    listener.start();

    // A second listener on the same port says which port is taken.
    StorageListener clash(options);
    try {
        clash.start();
        FAIL() << "two listeners on one port";
    } catch (const NetworkError& e) {
        EXPECT_NE(std::string(e.what()).find("port " + std::to_string(options.port)),
                  std::string::npos)
            << e.what();
    }

    const std::string local = "RLTEST@127.0.0.1:" + std::to_string(options.port);
    const std::string wrong = "OTHER@127.0.0.1:" + std::to_string(options.port);
    try {
        PacsClient(DicomNode::parse(wrong), "SENDER").echo();
        FAIL() << "the listener accepted a wrong called AE title";
    } catch (const NetworkError& e) {
        EXPECT_NE(std::string(e.what()).find("refused"), std::string::npos) << e.what();
    }
    PacsClient sender(DicomNode::parse(local), "SENDER");
    std::vector<std::string> files = ctFiles();
    files.push_back(kCtFolder + "/no-such-file.dcm");
    std::vector<std::string> failures;
    EXPECT_EQ(sender.store(files, &failures), 28);
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_NE(failures[0].find("no-such-file.dcm"), std::string::npos);
    listener.stop();
    EXPECT_EQ(listener.receivedCount(), 28);
    ASSERT_EQ(callers.size(), 28u);
    EXPECT_EQ(callers[0], "SENDER");
    expectIdenticalToSource(options.folder, sourceFacts().begin()->second.studyUid);
}
