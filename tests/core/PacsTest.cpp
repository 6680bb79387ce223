// DICOM networking against a real Orthanc on loopback (started and stopped by the test): echo,
// store, find at every level, C-GET and C-MOVE with pixel data checked byte for byte, the
// listener, and what a reader sees when the server dies or stops answering mid-retrieve. DICOM
// TLS with a throwaway PKI made by the openssl command line: Orthanc requiring client
// certificates, a client that does not trust the server, plain TCP to a TLS port, and
// Radiolens's own TLS listener.

#include "core/dicom/PacsClient.h"
#include "core/dicom/StorageListener.h"
#include "core/dicom/StudyRetriever.h"
#include "core/store/RetrievalLog.h"
#include "core/store/StudyStore.h"
#include "tests/common/OrthancServer.h"
#include "tests/common/Scratch.h"
#include "SyntheticDicom.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmnet/scu.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

namespace fs = std::filesystem;
using namespace radiolens;
using radiolens::test::OrthancServer;
using radiolens::test::OrthancTls;

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
    // No half-written file is left: the staging folder is empty and every file that is where
    // the study's files go is a whole instance with the source's pixels.
    const fs::path staging = fs::path(request.folder) / studyUid() / ".receiving";
    EXPECT_TRUE(!fs::exists(staging) || fs::is_empty(staging));
    for (const auto& entry : fs::directory_iterator(fs::path(request.folder) / studyUid())) {
        if (entry.is_regular_file()) {
            const FileFacts got = factsOf(entry.path().string());
            EXPECT_TRUE(got.pixels == sourceFacts().at(got.sopUid).pixels) << entry.path();
        }
    }

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
    const std::string folder = (m_dir / "incoming").string();
    struct CancelAt final : ProgressSink {
        bool report(double fraction) override { return fraction < 0.25; }
    } cancel;
    const RetrieveOutcome outcome = client().get(studyUid(), {}, folder, &cancel);
    EXPECT_TRUE(outcome.cancelled);
    EXPECT_FALSE(outcome.complete());
    // The server acknowledged the C-CANCEL: its final response says the sub-operations were
    // terminated (0xFE00), so the association ended cleanly.
    EXPECT_EQ(outcome.finalStatus, 0xFE00);
    const int kept = instancesOnDisk(folder, studyUid());
    EXPECT_GE(kept, 7);
    EXPECT_LT(kept, 28);
    EXPECT_EQ(outcome.received, kept);

    // Retrieving again fetches the rest.
    const RetrieveOutcome rest = client().get(studyUid(), {}, folder);
    EXPECT_EQ(rest.alreadyPresent, kept);
    EXPECT_EQ(rest.received, 28 - kept);
    EXPECT_TRUE(rest.complete());
}

TEST_F(Pacs, AMoveRetryFetchesOnlyTheMissingInstances) {
    storeCt();
    const std::string folder = (m_dir / "move").string();
    ListenerOptions options;
    options.aeTitle = kOwnAe;
    options.port = m_listenPort;
    options.folder = folder;
    StorageListener listener(options);
    listener.start();
    ASSERT_TRUE(client().move(studyUid(), {}, folder, kOwnAe).complete());
    // Three instances go missing; the retry asks for those three only.
    int removed = 0;
    for (const auto& entry : fs::directory_iterator(fs::path(folder) / studyUid())) {
        if (removed < 3 && entry.path().extension() == ".dcm") {
            fs::remove(entry.path());
            ++removed;
        }
    }
    const int before = listener.receivedCount();
    const RetrieveOutcome retry = client().move(studyUid(), {}, folder, kOwnAe);
    listener.stop();
    EXPECT_TRUE(retry.complete());
    EXPECT_EQ(retry.alreadyPresent, 25);
    EXPECT_EQ(retry.received, 3);
    EXPECT_EQ(listener.receivedCount() - before, 3);
    expectIdenticalToSource(folder, studyUid());
}

TEST_F(Pacs, ASeriesRetrievalLeavesTheStudyIncompleteWhileItsOtherSeriesAreMissing) {
    storeCt();
    // A second series in the same study: one more image.
    const std::string extra = (m_dir / "extra.dcm").string();
    test::SyntheticImage image;
    image.studyUid = studyUid();
    image.patientId = "QMNx85rKkkg";
    image.seriesNumber = 99;
    image.pixels.assign(8 * 8 * 2, 0);
    test::writeSynthetic(image, extra);
    ASSERT_EQ(client().store({extra}), 1);
    QueryFilter filter;
    filter.studyInstanceUid = studyUid();
    const auto series = client().find(QueryLevel::Series, filter);
    ASSERT_EQ(series.size(), 2u);
    const std::string ctSeries =
        series[0].seriesInstances == 28 ? series[0].seriesInstanceUid : series[1].seriesInstanceUid;
    RetrieveRequest request;
    request.studyInstanceUid = studyUid();
    request.seriesInstanceUid = ctSeries;
    request.folder = (m_dir / "incoming").string();
    PacsClient pacs = client();
    const Retrieval r = retrieveStudy(pacs, kOwnAe, request, nullptr, {});
    EXPECT_EQ(r.state, Retrieval::State::Incomplete);
    EXPECT_EQ(r.expected, 29);
    EXPECT_EQ(r.present, 28);
    EXPECT_NE(r.error.find("1 instance(s) of the study's other series are not here"),
              std::string::npos)
        << r.error;
    // The whole study completes it.
    request.seriesInstanceUid.clear();
    PacsClient again = client();
    EXPECT_EQ(retrieveStudy(again, kOwnAe, request, nullptr, {}).state, Retrieval::State::Complete);
}

TEST_F(Pacs, NamesInOtherCharacterSetsAreFoundAndShownInUtf8) {
    // ISO 8859-1 bytes for "Müller^Jürgen".
    const std::string latin1 = "M\xFCller^J\xFCrgen";
    const std::string file = (m_dir / "latin1.dcm").string();
    test::SyntheticImage image;
    image.patientId = "LATIN-1";
    image.patientName = latin1;
    image.pixels.assign(8 * 8 * 2, 0);
    image.customize = [](DcmDataset& data) {
        data.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100");
    };
    test::writeSynthetic(image, file);
    ASSERT_EQ(client().store({file}), 1);
    QueryFilter filter;
    filter.patientName = "M\xC3\xBCller*"; // "Müller*" in UTF-8
    const auto found = client().find(QueryLevel::Study, filter);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].patientId, "LATIN-1");
    EXPECT_EQ(found[0].patientName, "M\xC3\xBCller^J\xC3\xBCrgen");
}

TEST_F(Pacs, KillingTheServerMidSendSaysHowFarItGotAndNamesTheNode) {
    std::vector<std::string> files = ctFiles();
    TriggerAt killer(0.3, [&] { m_orthanc->kill(); });
    std::vector<std::string> failures;
    try {
        client().store(files, &failures, &killer);
        FAIL() << "the send went on after the server died";
    } catch (const NetworkError& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find(m_orthanc->address() + ": C-STORE stopped after "),
                  std::string::npos)
            << message;
        EXPECT_NE(message.find("send the rest again"), std::string::npos) << message;
    }
    EXPECT_TRUE(failures.empty()) << "one failure, not one per remaining file";
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

    // UIDs become folder and file names: ones that are not UIDs are refused, and nothing lands
    // outside the folder.
    std::vector<std::string> hostile;
    for (const auto& [study, sop] : std::vector<std::pair<std::string, std::string>>{
             {"../../escaped", "1.2.3.4"}, {"1.2.3", "../../../escapedsop"}}) {
        test::SyntheticImage image;
        image.studyUid = study;
        image.sopInstanceUid = sop;
        image.pixels.assign(8 * 8 * 2, 0);
        hostile.push_back((dir / ("hostile" + std::to_string(hostile.size()) + ".dcm")).string());
        test::writeSynthetic(image, hostile.back());
    }
    std::vector<std::string> refused;
    EXPECT_EQ(sender.store(hostile, &refused), 0);
    ASSERT_EQ(refused.size(), 2u);
    EXPECT_NE(refused[0].find("0xc000"), std::string::npos) << refused[0];
    EXPECT_FALSE(fs::exists(dir / "escaped"));
    EXPECT_FALSE(fs::exists(dir / "escapedsop.dcm"));
    EXPECT_FALSE(fs::exists(dir.parent_path() / "escapedsop.dcm"));

    listener.stop();
    EXPECT_EQ(listener.receivedCount(), 28);
    ASSERT_EQ(callers.size(), 28u);
    EXPECT_EQ(callers[0], "SENDER");
    expectIdenticalToSource(options.folder, sourceFacts().begin()->second.studyUid);
}

// ---- DICOM TLS -------------------------------------------------------------------------------

namespace {

/// A throwaway PKI made with the openssl command line in the test's private temporary folder
/// (gone with the test process): a CA, a server certificate for localhost / 127.0.0.1 and a
/// client certificate it issued, and a second CA that issued neither. RSA 2048, two days.
struct TestPki {
    std::string caFile;
    std::string serverCertificate;
    std::string serverKey;
    std::string clientCertificate;
    std::string clientKey;
    std::string otherCaFile;
    std::string error; ///< why it could not be made; empty when it was
};

bool haveOpenssl() {
    return std::system("openssl version >/dev/null 2>&1") == 0;
}

const TestPki& testPki() {
    static const TestPki pki = [] {
        TestPki p;
        const fs::path dir = radiolens::test::scratch("pacs-tls-pki");
        const std::string log = (dir / "openssl.log").string();
        const auto path = [&](const char* name) {
            return (dir / name).string();
        };
        const auto run = [&](const std::string& command) {
            if (p.error.empty() && std::system((command + " >>'" + log + "' 2>&1").c_str()) != 0) {
                p.error = "openssl failed (" + command + "); see " + log;
            }
        };
        const auto makeCa = [&](const std::string& name, const std::string& subject) {
            run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=" + subject +
                "' -keyout '" + path("x.key") + "' -out '" + path("x.pem") + "'");
            fs::rename(path("x.key"), dir / (name + ".key"));
            fs::rename(path("x.pem"), dir / (name + ".pem"));
        };
        std::ofstream(path("leaf.ext")) << "basicConstraints=CA:FALSE\n"
                                        << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
        const auto issue = [&](const std::string& name, const std::string& subject) {
            run("openssl req -newkey rsa:2048 -nodes -subj '/CN=" + subject + "' -keyout '" +
                path("x.key") + "' -out '" + path("x.csr") + "'");
            run("openssl x509 -req -in '" + path("x.csr") + "' -CA '" + path("ca.pem") +
                "' -CAkey '" + path("ca.key") + "' -CAcreateserial -days 2 -extfile '" +
                path("leaf.ext") + "' -out '" + path("x.pem") + "'");
            if (p.error.empty()) {
                fs::rename(path("x.key"), dir / (name + ".key"));
                fs::rename(path("x.pem"), dir / (name + ".pem"));
            }
        };
        makeCa("ca", "Radiolens test CA");
        makeCa("other-ca", "Some other CA");
        issue("server", "localhost");
        issue("client", "RADIOLENS");
        p.caFile = path("ca.pem");
        p.otherCaFile = path("other-ca.pem");
        p.serverCertificate = path("server.pem");
        p.serverKey = path("server.key");
        p.clientCertificate = path("client.pem");
        p.clientKey = path("client.key");
        return p;
    }();
    return pki;
}

#define REQUIRE_TEST_PKI()                                                                         \
    if (!haveOpenssl()) {                                                                          \
        GTEST_SKIP() << "the openssl command line is not installed (apt-get install openssl); "    \
                        "the TLS tests make their certificates with it; issue 8";                  \
    }                                                                                              \
    ASSERT_EQ(testPki().error, "");

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

/// The message of the NetworkError that `call` throws ("" when it throws none).
std::string networkErrorOf(const std::function<void()>& call) {
    try {
        call();
    } catch (const NetworkError& e) {
        return e.what();
    }
    return {};
}

/// Orthanc with DICOM TLS only on its DICOM port, trusting the test CA and requiring callers to
/// present a certificate it issued; its C-MOVE to Radiolens's listener goes over TLS too.
class PacsTls : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ORTHANC_AND_DATA();
        REQUIRE_TEST_PKI();
        m_dir = radiolens::test::scratch(
            std::string("pacs-tls-") +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        m_listenPort = OrthancServer::freePort();
        OrthancTls tls;
        tls.certificateFile = testPki().serverCertificate;
        tls.keyFile = testPki().serverKey;
        tls.trustedCertificatesFile = testPki().caFile;
        tls.remoteCertificateRequired = true;
        tls.modalityUsesTls = true;
        m_orthanc = std::make_unique<OrthancServer>((m_dir / "orthanc").string(), kOwnAe,
                                                    m_listenPort, tls);
        m_node = DicomNode::parse(m_orthanc->address());
        m_node.tlsCaFile = testPki().caFile;
        m_node.tlsCertificateFile = testPki().clientCertificate;
        m_node.tlsKeyFile = testPki().clientKey;
    }

    static NetworkTimeouts quick() {
        NetworkTimeouts t;
        t.connectSeconds = 3;
        t.responseSeconds = 3;
        return t;
    }

    fs::path m_dir;
    int m_listenPort = 0;
    std::unique_ptr<OrthancServer> m_orthanc;
    DicomNode m_node; ///< Orthanc over TLS, with our client certificate
};

} // namespace

TEST(PacsTlsSettings, TlsFilesRoundTripOldFilesLoadAndErrorsNameTheField) {
    NetworkSettings settings;
    settings.listenerTlsCertificateFile = "/etc/radiolens/listener.pem";
    settings.listenerTlsKeyFile = "/etc/radiolens/listener.key";
    settings.listenerTlsCaFile = "/etc/radiolens/senders-ca.pem";
    DicomNode secure = DicomNode::parse("PACS@pacs.example:2762");
    secure.tlsCaFile = "/etc/radiolens/hospital-ca.pem";
    secure.tlsCertificateFile = "/etc/radiolens/radiolens.pem";
    secure.tlsKeyFile = "/etc/radiolens/radiolens.key";
    settings.nodes = {secure, DicomNode::parse("PLAIN@127.0.0.1:4242")};
    const std::string json = settings.toJson();
    EXPECT_TRUE(contains(json, "\"listenerTlsCertificateFile\"")) << json;
    EXPECT_TRUE(contains(json, "\"tlsCertificateFile\"")) << json;
    const NetworkSettings back = NetworkSettings::fromJson(json);
    EXPECT_EQ(back.listenerTlsCertificateFile, settings.listenerTlsCertificateFile);
    EXPECT_EQ(back.listenerTlsKeyFile, settings.listenerTlsKeyFile);
    EXPECT_EQ(back.listenerTlsCaFile, settings.listenerTlsCaFile);
    ASSERT_EQ(back.nodes.size(), 2u);
    EXPECT_TRUE(back.nodes[0].usesTls());
    EXPECT_EQ(back.nodes[0].tlsCaFile, secure.tlsCaFile);
    EXPECT_EQ(back.nodes[0].tlsCertificateFile, secure.tlsCertificateFile);
    EXPECT_EQ(back.nodes[0].tlsKeyFile, secure.tlsKeyFile);
    EXPECT_FALSE(back.nodes[1].usesTls()) << "no CA file: plain TCP";
    EXPECT_EQ(back.toJson(), json);

    // A file written before TLS existed loads, every node plain TCP.
    const NetworkSettings old = NetworkSettings::fromJson(
        R"({"ownAeTitle": "RL", "listenPort": 11112,
            "nodes": [{"aeTitle": "ORTHANC", "host": "127.0.0.1", "port": 4242}]})");
    ASSERT_EQ(old.nodes.size(), 1u);
    EXPECT_FALSE(old.nodes[0].usesTls());
    EXPECT_TRUE(old.listenerTlsCertificateFile.empty());

    const auto errorOf = [](const std::string& text) {
        try {
            NetworkSettings::fromJson(text);
        } catch (const std::runtime_error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    const std::string node = R"({"nodes": [{"aeTitle": "A", "host": "h", "port": 104, )";
    EXPECT_TRUE(
        contains(errorOf(node + R"("tlsCaFile": "ca.pem", "tlsCertificateFile": "c.pem"}]})"),
                 "'nodes[0].tlsKeyFile' is needed"));
    EXPECT_TRUE(
        contains(errorOf(node + R"("tlsCertificateFile": "c.pem", "tlsKeyFile": "c.key"}]})"),
                 "'nodes[0].tlsCaFile' is needed"));
    EXPECT_TRUE(contains(errorOf(node + R"("tlsCaFile": 7}]})"), "'nodes[0].tlsCaFile'"));
    EXPECT_TRUE(
        contains(errorOf(R"({"listenerTlsKeyFile": "l.key"})"), "'listenerTlsCertificateFile'"));
    EXPECT_TRUE(contains(errorOf(R"({"listenerTlsCaFile": "ca.pem"})"), "'listenerTlsCaFile'"));
}

TEST(PacsTlsFiles, AnUnreadableOrMismatchedFileIsNamedBeforeConnecting) {
    REQUIRE_TEST_PKI();
    // Nothing listens there: every failure below happens before a connection is tried.
    DicomNode node =
        DicomNode::parse("NOBODY@127.0.0.1:" + std::to_string(OrthancServer::freePort()));
    node.tlsCaFile = "/no/such/ca.pem";
    std::string message = networkErrorOf([&] { PacsClient(node, kOwnAe).echo(); });
    EXPECT_TRUE(contains(message, node.address() + ": TLS: cannot read the CA certificate file "
                                                   "'/no/such/ca.pem'"))
        << message;

    node.tlsCaFile = testPki().caFile;
    node.tlsCertificateFile = testPki().clientCertificate;
    node.tlsKeyFile = testPki().serverKey;
    message = networkErrorOf([&] { PacsClient(node, kOwnAe).echo(); });
    EXPECT_TRUE(contains(message, node.address() + ": TLS: '" + testPki().serverKey +
                                      "' is not the private key of '" +
                                      testPki().clientCertificate + "'"))
        << message;

    ListenerOptions options;
    options.port = OrthancServer::freePort();
    options.folder = radiolens::test::scratch("pacs-tls-files").string();
    options.tlsCertificateFile = testPki().serverCertificate;
    options.tlsKeyFile = "/no/such/listener.key";
    StorageListener listener(options);
    message = networkErrorOf([&] { listener.start(); });
    EXPECT_TRUE(contains(message, "listener on port " + std::to_string(options.port) +
                                      ": TLS: cannot read the listener's private key file "
                                      "'/no/such/listener.key'"))
        << message;
    EXPECT_FALSE(listener.running());
}

TEST_F(PacsTls, EchoStoreFindGetAndMoveOverTlsGiveIdenticalPixels) {
    PacsClient pacs(m_node, kOwnAe);
    EXPECT_LT(pacs.echo(), 5.0);
    std::vector<std::string> failures;
    ASSERT_EQ(pacs.store(ctFiles(), &failures), 28);
    EXPECT_TRUE(failures.empty());

    const auto studies = pacs.find(QueryLevel::Study, {});
    ASSERT_EQ(studies.size(), 1u);
    const std::string study = studies[0].studyInstanceUid;
    EXPECT_EQ(study, sourceFacts().begin()->second.studyUid);
    EXPECT_EQ(studies[0].studyInstances, 28);

    const std::string getFolder = (m_dir / "get").string();
    const RetrieveOutcome got = pacs.get(study, {}, getFolder);
    EXPECT_EQ(got.received, 28);
    EXPECT_TRUE(got.complete());
    expectIdenticalToSource(getFolder, study);

    // C-MOVE: Orthanc connects back over TLS to Radiolens's TLS listener, which requires a
    // certificate from the test CA (Orthanc presents its own).
    ListenerOptions options;
    options.aeTitle = kOwnAe;
    options.port = m_listenPort;
    options.folder = (m_dir / "move").string();
    options.tlsCertificateFile = testPki().clientCertificate;
    options.tlsKeyFile = testPki().clientKey;
    options.tlsCaFile = testPki().caFile;
    StorageListener listener(options);
    listener.start();
    const RetrieveOutcome moved = pacs.move(study, {}, options.folder, kOwnAe);
    listener.stop();
    EXPECT_TRUE(moved.complete());
    EXPECT_EQ(listener.receivedCount(), 28);
    expectIdenticalToSource(options.folder, study);
}

TEST_F(PacsTls, AClientThatDoesNotTrustTheServersCaGetsAClearError) {
    DicomNode distrustful = m_node;
    distrustful.tlsCaFile = testPki().otherCaFile;
    const std::string message =
        networkErrorOf([&] { PacsClient(distrustful, kOwnAe, quick()).echo(); });
    EXPECT_TRUE(contains(message, m_orthanc->address() +
                                      ": C-ECHO: TLS: the server's "
                                      "certificate is not trusted by " +
                                      testPki().otherCaFile))
        << message;
}

TEST_F(PacsTls, AServerThatRequiresAClientCertificateRefusesUsWithoutOne) {
    DicomNode anonymous = m_node;
    anonymous.tlsCertificateFile.clear();
    anonymous.tlsKeyFile.clear();
    const std::string message =
        networkErrorOf([&] { PacsClient(anonymous, kOwnAe, quick()).echo(); });
    EXPECT_TRUE(contains(message, m_orthanc->address() + ": C-ECHO: TLS: ")) << message;
    EXPECT_TRUE(contains(message, "client certificate")) << message;
    // With it, the same node answers.
    EXPECT_LT(PacsClient(m_node, kOwnAe, quick()).echo(), 5.0);
}

TEST_F(PacsTls, PlainTcpToTheTlsPortFailsWithAClearError) {
    const DicomNode plain = DicomNode::parse(m_orthanc->address());
    const auto start = std::chrono::steady_clock::now();
    const std::string message = networkErrorOf([&] { PacsClient(plain, kOwnAe, quick()).echo(); });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_TRUE(contains(message, m_orthanc->address() + ": C-ECHO: cannot connect")) << message;
    EXPECT_TRUE(contains(message, "if the node uses TLS, give its CA certificate file")) << message;
    EXPECT_LT(seconds, 8.0);
}

TEST(PacsTlsListener, OurTlsListenerReceivesAStoreFromOurTlsClientAndRefusesOthers) {
    if (!fs::is_directory(kCtFolder)) {
        GTEST_SKIP() << "shared data not found at " << kCtFolder << " (issue 8)";
    }
    REQUIRE_TEST_PKI();
    const fs::path dir = radiolens::test::scratch("pacs-tls-listener");
    ListenerOptions options;
    options.aeTitle = "RLTLS";
    options.port = OrthancServer::freePort();
    options.folder = (dir / "in").string();
    options.tlsCertificateFile = testPki().serverCertificate;
    options.tlsKeyFile = testPki().serverKey;
    options.tlsCaFile = testPki().caFile; // senders need a certificate from the test CA
    std::vector<std::string> callers;
    StorageListener listener(
        options, [&](const ReceivedInstance& r) { callers.push_back(r.callingAeTitle); });
    listener.start();

    DicomNode node = DicomNode::parse("RLTLS@127.0.0.1:" + std::to_string(options.port));
    NetworkTimeouts quick;
    quick.connectSeconds = 3;
    quick.responseSeconds = 3;
    // Plain TCP and a TLS sender without a certificate are turned away.
    std::string message = networkErrorOf([&] { PacsClient(node, "SENDER", quick).echo(); });
    EXPECT_TRUE(contains(message, node.address() + ": C-ECHO: cannot connect")) << message;
    node.tlsCaFile = testPki().caFile;
    message = networkErrorOf([&] { PacsClient(node, "SENDER", quick).echo(); });
    EXPECT_TRUE(contains(message, node.address() + ": C-ECHO: TLS: ")) << message;
    EXPECT_TRUE(listener.running()) << "a failed handshake does not stop the listener";

    node.tlsCertificateFile = testPki().clientCertificate;
    node.tlsKeyFile = testPki().clientKey;
    PacsClient sender(node, "SENDER", quick);
    EXPECT_LT(sender.echo(), 5.0);
    std::vector<std::string> failures;
    EXPECT_EQ(sender.store(ctFiles(), &failures), 28);
    EXPECT_TRUE(failures.empty());

    // UIDs become folder and file names: ones that are not UIDs are refused, and nothing lands
    // outside the folder.
    std::vector<std::string> hostile;
    for (const auto& [study, sop] : std::vector<std::pair<std::string, std::string>>{
             {"../../escaped", "1.2.3.4"}, {"1.2.3", "../../../escapedsop"}}) {
        test::SyntheticImage image;
        image.studyUid = study;
        image.sopInstanceUid = sop;
        image.pixels.assign(8 * 8 * 2, 0);
        hostile.push_back((dir / ("hostile" + std::to_string(hostile.size()) + ".dcm")).string());
        test::writeSynthetic(image, hostile.back());
    }
    std::vector<std::string> refused;
    EXPECT_EQ(sender.store(hostile, &refused), 0);
    ASSERT_EQ(refused.size(), 2u);
    EXPECT_NE(refused[0].find("0xc000"), std::string::npos) << refused[0];
    EXPECT_FALSE(fs::exists(dir / "escaped"));
    EXPECT_FALSE(fs::exists(dir / "escapedsop.dcm"));
    EXPECT_FALSE(fs::exists(dir.parent_path() / "escapedsop.dcm"));

    listener.stop();
    EXPECT_EQ(listener.receivedCount(), 28);
    ASSERT_EQ(callers.size(), 28u);
    EXPECT_EQ(callers[0], "SENDER");
    expectIdenticalToSource(options.folder, sourceFacts().begin()->second.studyUid);
}

TEST(PacsErrors, StoppingTheListenerDoesNotWaitForASenderThatSaysNothing) {
    const fs::path dir = radiolens::test::scratch("pacs-idle-sender");
    ListenerOptions options;
    options.aeTitle = "RLIDLE";
    options.port = OrthancServer::freePort();
    options.folder = (dir / "in").string();
    options.responseTimeoutSeconds = 60;
    StorageListener listener(options);
    listener.start();
    // A sender opens an association and then holds it without a word.
    DcmSCU idle;
    idle.setAETitle("IDLE");
    idle.setPeerAETitle("RLIDLE");
    idle.setPeerHostName("127.0.0.1");
    idle.setPeerPort(Uint16(options.port));
    OFList<OFString> syntaxes;
    syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
    idle.addPresentationContext(UID_VerificationSOPClass, syntaxes);
    ASSERT_TRUE(idle.initNetwork().good());
    ASSERT_TRUE(idle.negotiateAssociation().good());
    const auto start = std::chrono::steady_clock::now();
    listener.stop();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 5.0) << "stop() waited for the idle sender";
    EXPECT_FALSE(listener.running());
    idle.abortAssociation();
}
