// radiolens-cli pacs echo|find|get|move|store and listen: DICOM networking from scripts.

#include "app/cli/CliSupport.h"
#include "core/dicom/PacsClient.h"
#include "core/dicom/StorageListener.h"
#include "core/dicom/StudyRetriever.h"
#include "core/dicom/StudyIndexer.h"
#include "core/domain/EventLog.h"
#include "core/domain/JsonWriter.h"
#include "core/store/IndexCache.h"
#include "core/store/RetrievalLog.h"
#include "core/store/StudyStore.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

namespace radiolens::cli {

const char* const kPacsCommandsHelp =
    "  pacs echo|find|get|move|store\n"
    "                         talk to a PACS (DICOM C-ECHO, C-FIND, C-GET, C-MOVE, C-STORE)\n"
    "  listen                 receive studies pushed to Radiolens (C-STORE listener)\n";

namespace {

namespace fs = std::filesystem;

const char* kPacsHelp =
    R"(usage: radiolens-cli pacs SUBCOMMAND --node NODE [--aet OWN_AET] [options]
                            [--tls-ca FILE [--tls-cert FILE --tls-key FILE]]

Talks to a DICOM node (an archive such as Orthanc, dcm4chee, a hospital PACS).
NODE is AET@HOST:PORT, or the name of a node in the network settings (--settings).

Subcommands:
  echo                          C-ECHO: is the node there and does it accept us?
  find --level L [filters]      C-FIND at level patient, study (default), series or image.
       filters: --patient-name N --patient-id ID --date YYYYMMDD[-YYYYMMDD] --modality M
                --accession A --study UID (series, image) --series UID (image)
       --json                   a list of objects (studyInstanceUid, patientId, patientName,
                                studyDate, modalitiesInStudy, ...)
  get --study UID [--series UID] --to DIR
                                C-GET the study into DIR/STUDY_UID/SOP_UID.dcm. Instances
                                already there are skipped, so running it again after a failure
                                fetches only what is missing.
  move --study UID [--series UID] --to DIR --port N
                                C-MOVE: the node sends the study to Radiolens's own listener,
                                started on port N as OWN_AET for the transfer (the node must
                                know OWN_AET at this host and port). That listener speaks plain
                                TCP, even when the request goes over TLS.
  store PATH...                 C-STORE files and folders (recursively) to the node.

Options:
  --aet AET          Radiolens's own AE title (default: the settings', else RADIOLENS)
  --timeout S        seconds to wait for the node's next message (default 30)
  --connect-timeout S  seconds to connect (default 10)
  --settings FILE    network settings (default: the user's data folder's network.json)
  --store DB         the local store that records retrievals and indexes what arrived
                     (get, move; default: the user's store)
  --json             machine-readable output

TLS (DICOM secure transport, PS3.15 Annex B; override the node's settings):
  --tls-ca FILE      talk TLS and trust the node's certificate only when issued by a CA in
                     FILE (PEM); the node's certificate is always verified
  --tls-cert FILE    our certificate (PEM), for nodes that require client certificates
  --tls-key FILE     its private key (PEM, unencrypted); with --tls-cert

A retrieval cut off (dropped connection, a node that stops answering) exits 1 with the reason;
the study is recorded as incomplete in the store and a retry fetches only what is missing.
)";

const char* kListenHelp =
    R"(usage: radiolens-cli listen --aet AET --port N --to DIR [--store DB]
                            [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]

Receives DICOM instances pushed to Radiolens (C-STORE, and C-ECHO) and files each as
DIR/STUDY_UID/SOP_UID.dcm, printing one line per instance. Runs until interrupted (Ctrl+C or
SIGTERM). With --store, every received study is indexed into the store.

Options:
  --timeout S        seconds to wait for a sender's next message (default 30)
  --any-called-aet   accept associations that call another AE title
  --tls-cert FILE    listen with TLS (DICOM secure transport) using this certificate (PEM);
                     senders must then speak TLS
  --tls-key FILE     the certificate's private key (PEM, unencrypted)
  --tls-ca FILE      require senders to present a certificate issued by a CA in FILE (PEM)
)";

std::atomic<bool> g_interrupted{false};

void onSignal(int) {
    g_interrupted = true;
}

NetworkSettings settingsOf(const Arguments& args) {
    return NetworkSettings::load(args.get("--settings", NetworkSettings::defaultPath()));
}

DicomNode nodeOf(const std::string& command, const Arguments& args,
                 const NetworkSettings& settings) {
    const std::string wanted = args.get("--node");
    if (wanted.empty()) {
        usageError(command, "--node AET@HOST:PORT is required");
    }
    for (const DicomNode& node : settings.nodes) {
        if (node.name == wanted) {
            return node;
        }
    }
    try {
        return DicomNode::parse(wanted);
    } catch (const std::invalid_argument& e) {
        usageError(command, std::string(e.what()) + " and no configured node has that name");
    }
}

/// `node` with the TLS files given on the command line (which override the settings').
DicomNode withTlsOptions(const std::string& command, const Arguments& args, DicomNode node) {
    if (args.has("--tls-cert") != args.has("--tls-key")) {
        usageError(command, "--tls-cert and --tls-key go together");
    }
    if (args.has("--tls-ca")) {
        node.tlsCaFile = args.get("--tls-ca");
    }
    if (args.has("--tls-cert")) {
        node.tlsCertificateFile = args.get("--tls-cert");
        node.tlsKeyFile = args.get("--tls-key");
    }
    if (!node.tlsCertificateFile.empty() && node.tlsCaFile.empty()) {
        usageError(command, "--tls-cert needs --tls-ca (the CA that vouches for the node)");
    }
    for (std::string* file : {&node.tlsCaFile, &node.tlsCertificateFile, &node.tlsKeyFile}) {
        if (!file->empty()) {
            *file = fs::absolute(*file).lexically_normal().string();
        }
    }
    return node;
}

NetworkTimeouts timeoutsOf(const std::string& command, const Arguments& args,
                           const NetworkSettings& settings) {
    NetworkTimeouts t;
    t.connectSeconds = settings.connectTimeoutSeconds;
    t.responseSeconds = settings.responseTimeoutSeconds;
    if (args.has("--timeout")) {
        t.responseSeconds = positiveInt(command, args, "--timeout", 1, 3600);
    }
    if (args.has("--connect-timeout")) {
        t.connectSeconds = positiveInt(command, args, "--connect-timeout", 1, 3600);
    }
    return t;
}

std::string ownAeOf(const Arguments& args, const NetworkSettings& settings) {
    return args.get("--aet", settings.ownAeTitle);
}

void writeMatch(JsonWriter& json, const QueryMatch& m) {
    json.beginObject();
    json.field("level", std::string(toString(m.level)));
    json.field("patientId", m.patientId);
    json.field("patientName", m.patientName);
    json.field("patientBirthDate", m.patientBirthDate);
    json.field("patientSex", m.patientSex);
    if (m.level != QueryLevel::Patient) {
        json.field("studyInstanceUid", m.studyInstanceUid);
        json.field("studyDate", m.studyDate);
        json.field("studyTime", m.studyTime);
        json.field("studyDescription", m.studyDescription);
        json.field("accessionNumber", m.accessionNumber);
        json.field("modalitiesInStudy", m.modalitiesInStudy);
        if (m.studyInstances >= 0) {
            json.field("numberOfStudyRelatedInstances", m.studyInstances);
        }
    } else if (m.patientStudies >= 0) {
        json.field("numberOfPatientRelatedStudies", m.patientStudies);
    }
    if (m.level == QueryLevel::Series || m.level == QueryLevel::Image) {
        json.field("seriesInstanceUid", m.seriesInstanceUid);
        json.field("seriesNumber", m.seriesNumber);
        json.field("seriesDescription", m.seriesDescription);
        json.field("modality", m.modality);
        if (m.seriesInstances >= 0) {
            json.field("numberOfSeriesRelatedInstances", m.seriesInstances);
        }
    }
    if (m.level == QueryLevel::Image) {
        json.field("sopInstanceUid", m.sopInstanceUid);
        json.field("sopClassUid", m.sopClassUid);
        json.field("instanceNumber", m.instanceNumber);
    }
    json.endObject();
}

void printMatch(const QueryMatch& m) {
    switch (m.level) {
    case QueryLevel::Patient:
        std::printf("%-20s %-30s %s %s\n", m.patientId.c_str(), m.patientName.c_str(),
                    m.patientBirthDate.c_str(), m.patientSex.c_str());
        break;
    case QueryLevel::Study:
        std::printf("%s  %-8s %-10s %-16s %-24s %s\n", m.studyDate.c_str(),
                    m.modalitiesInStudy.c_str(), m.patientId.c_str(), m.accessionNumber.c_str(),
                    m.studyDescription.c_str(), m.studyInstanceUid.c_str());
        break;
    case QueryLevel::Series:
        std::printf("%4s %-4s %4d images  %-30s %s\n", m.seriesNumber.c_str(), m.modality.c_str(),
                    m.seriesInstances, m.seriesDescription.c_str(), m.seriesInstanceUid.c_str());
        break;
    case QueryLevel::Image:
        std::printf("%5s %s %s\n", m.instanceNumber.c_str(), m.sopInstanceUid.c_str(),
                    m.sopClassUid.c_str());
        break;
    }
}

/// Percent done on a terminal's stderr.
class RetrieveProgress final : public ProgressSink {
public:
    bool report(double fraction) override {
        const int percent = int(fraction * 100.0);
        if (isatty(2) && percent != m_last) {
            std::fprintf(stderr, "\rretrieving %3d%%", percent);
            m_last = percent;
        }
        return !g_interrupted;
    }
    ~RetrieveProgress() override {
        if (m_last >= 0 && isatty(2)) {
            std::fprintf(stderr, "\r%30s\r", "");
        }
    }

private:
    int m_last = -1;
};

/// Indexes a retrieved study's folder into the store so the study browser shows it.
void indexIntoStore(StudyStore& store, const std::string& studyFolder) {
    if (!fs::exists(studyFolder)) {
        return;
    }
    const StudyIndex index = StudyIndexer().index({studyFolder});
    IndexCache(store).save({studyFolder}, index);
}

int runRetrieve(const std::string& command, const Arguments& args, bool useMove) {
    checkArguments(command, args, {"--node", "--study", "--to"});
    if (useMove && !args.has("--port")) {
        usageError(command, "--port N is required: Radiolens listens there for the node's C-STORE");
    }
    const NetworkSettings settings = settingsOf(args);
    const DicomNode node = withTlsOptions(command, args, nodeOf(command, args, settings));
    const std::string ownAe = ownAeOf(args, settings);
    RetrieveRequest request;
    request.studyInstanceUid = args.get("--study");
    request.seriesInstanceUid = args.get("--series");
    request.folder = fs::absolute(args.get("--to")).lexically_normal().string();
    request.useMove = useMove;
    if (useMove) {
        request.temporaryListenerPort = positiveInt(command, args, "--port", 1, 65535);
    }
    PacsClient client(node, ownAe, timeoutsOf(command, args, settings));
    StudyStore store(args.get("--store", StudyStore::defaultPath()));
    RetrievalLog log(store);
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    RetrieveProgress progress;
    const Retrieval r = retrieveStudy(client, ownAe, request, &progress,
                                      [&](const Retrieval& state) { log.record(state); });
    const std::string studyFolder = (fs::path(request.folder) / request.studyInstanceUid).string();
    indexIntoStore(store, studyFolder);
    logEvent("pacs", std::string(useMove ? "C-MOVE" : "C-GET") + " of study " + r.studyInstanceUid +
                         " from " + r.node + ": " + toString(r.state) + ", " +
                         std::to_string(r.present) + " of " + std::to_string(r.expected) +
                         (r.error.empty() ? std::string() : ": " + r.error));

    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginObject();
        json.field("studyInstanceUid", r.studyInstanceUid);
        json.field("node", r.node);
        json.field("method", std::string(useMove ? "C-MOVE" : "C-GET"));
        json.field("folder", studyFolder);
        json.field("state", std::string(toString(r.state)));
        json.field("expected", r.expected);
        json.field("present", r.present);
        if (!r.error.empty()) {
            json.field("error", r.error);
        }
        json.endObject();
        std::cout << "\n";
    } else {
        std::printf("%s: %d of %d instances in %s\n", toString(r.state), r.present, r.expected,
                    studyFolder.c_str());
    }
    switch (r.state) {
    case Retrieval::State::Complete:
        return 0;
    case Retrieval::State::Cancelled:
        throw CliError{command + ": cancelled; " + std::to_string(r.present) + " of " +
                       std::to_string(r.expected) + " instances are here"};
    default:
        throw CliError{command + ": " + r.error +
                       "; the study is marked incomplete, run the same command again to fetch "
                       "the rest"};
    }
}

} // namespace

int runPacs(const std::vector<std::string>& argv) {
    if (argv.empty() || argv.front() == "--help" || argv.front() == "-h") {
        std::cout << kPacsHelp;
        return argv.empty() ? 2 : 0;
    }
    const std::string sub = argv.front();
    const std::string command = "pacs " + sub;
    const Arguments args =
        parse(command, std::vector<std::string>(argv.begin() + 1, argv.end()), {"--help", "--json"},
              {"--node", "--aet", "--timeout", "--connect-timeout", "--settings", "--level",
               "--patient-name", "--patient-id", "--date", "--modality", "--accession", "--study",
               "--series", "--to", "--port", "--store", "--tls-ca", "--tls-cert", "--tls-key"});
    if (args.has("--help")) {
        std::cout << kPacsHelp;
        return 0;
    }
    if (sub == "get" || sub == "move") {
        return runRetrieve(command, args, sub == "move");
    }
    const NetworkSettings settings = settingsOf(args);
    const DicomNode node = withTlsOptions(command, args, nodeOf(command, args, settings));
    PacsClient client(node, ownAeOf(args, settings), timeoutsOf(command, args, settings));
    try {
        if (sub == "echo") {
            checkArguments(command, args, {"--node"});
            const double seconds = client.echo();
            if (args.has("--json")) {
                JsonWriter json(std::cout);
                json.beginObject().field("node", node.address()).field("seconds", seconds);
                json.endObject();
                std::cout << "\n";
            } else {
                std::printf("%s answered C-ECHO in %.1f ms\n", node.address().c_str(),
                            seconds * 1000.0);
            }
            return 0;
        }
        if (sub == "find") {
            checkArguments(command, args, {"--node"});
            QueryLevel level = QueryLevel::Study;
            try {
                level = parseQueryLevel(args.get("--level", "study"));
            } catch (const std::invalid_argument& e) {
                usageError(command, e.what());
            }
            QueryFilter filter;
            filter.patientName = args.get("--patient-name");
            filter.patientId = args.get("--patient-id");
            const std::string date = args.get("--date");
            const std::size_t dash = date.find('-');
            filter.dateFrom = date.substr(0, dash);
            filter.dateTo = dash == std::string::npos ? filter.dateFrom : date.substr(dash + 1);
            filter.modality = args.get("--modality");
            filter.accessionNumber = args.get("--accession");
            filter.studyInstanceUid = args.get("--study");
            filter.seriesInstanceUid = args.get("--series");
            std::vector<QueryMatch> matches;
            try {
                matches = client.find(level, filter);
            } catch (const std::invalid_argument& e) {
                usageError(command, e.what());
            }
            if (args.has("--json")) {
                JsonWriter json(std::cout);
                json.beginArray();
                for (const QueryMatch& m : matches) {
                    writeMatch(json, m);
                }
                json.endArray();
                std::cout << "\n";
            } else {
                for (const QueryMatch& m : matches) {
                    printMatch(m);
                }
                std::fprintf(stderr, "%zu match(es)\n", matches.size());
            }
            return 0;
        }
        if (sub == "store") {
            if (args.positional.empty()) {
                usageError(command, "give at least one file or folder to send");
            }
            std::vector<std::pair<std::string, std::string>> unreadable;
            std::vector<std::string> files;
            for (const std::string& file : filesUnder(args.positional, unreadable)) {
                // A DICOMDIR is the index of a medium, not an instance to archive.
                if (fs::path(file).filename() != "DICOMDIR") {
                    files.push_back(file);
                }
            }
            std::vector<std::string> failures;
            for (const auto& [path, reason] : unreadable) {
                failures.push_back(path + ": " + reason);
            }
            const int stored = client.store(files, &failures);
            for (const std::string& failure : failures) {
                std::fprintf(stderr, "%s: %s: %s\n", kProgram, command.c_str(), failure.c_str());
            }
            if (args.has("--json")) {
                JsonWriter json(std::cout);
                json.beginObject().field("node", node.address()).field("stored", stored);
                json.key("failed").beginArray();
                for (const std::string& failure : failures) {
                    json.value(failure);
                }
                json.endArray().endObject();
                std::cout << "\n";
            } else {
                std::printf("sent %d of %zu files to %s\n", stored, files.size(),
                            node.address().c_str());
            }
            return failures.empty() ? 0 : 1;
        }
    } catch (const NetworkError& e) {
        throw CliError{command + ": " + e.what()};
    }
    usageError("pacs", "unknown subcommand '" + sub + "' (echo, find, get, move or store)");
}

int runListen(const std::vector<std::string>& argv) {
    const std::string command = "listen";
    const Arguments args = parse(
        command, argv, {"--help", "--any-called-aet"},
        {"--aet", "--port", "--to", "--store", "--timeout", "--tls-cert", "--tls-key", "--tls-ca"});
    if (args.has("--help")) {
        std::cout << kListenHelp;
        return 0;
    }
    checkArguments(command, args, {"--aet", "--port", "--to"});
    ListenerOptions options;
    options.aeTitle = args.get("--aet");
    options.port = positiveInt(command, args, "--port", 1, 65535);
    options.folder = fs::absolute(args.get("--to")).lexically_normal().string();
    options.checkCalledAeTitle = !args.has("--any-called-aet");
    if (args.has("--timeout")) {
        options.responseTimeoutSeconds = positiveInt(command, args, "--timeout", 1, 3600);
    }
    if (args.has("--tls-cert") != args.has("--tls-key")) {
        usageError(command, "--tls-cert and --tls-key go together");
    }
    if (args.has("--tls-ca") && !args.has("--tls-cert")) {
        usageError(command, "--tls-ca needs --tls-cert and --tls-key (the listener's own "
                            "certificate)");
    }
    if (args.has("--tls-cert")) {
        options.tlsCertificateFile = fs::absolute(args.get("--tls-cert")).string();
        options.tlsKeyFile = fs::absolute(args.get("--tls-key")).string();
    }
    if (args.has("--tls-ca")) {
        options.tlsCaFile = fs::absolute(args.get("--tls-ca")).string();
    }
    std::mutex mutex;
    std::set<std::string> studies;
    StorageListener listener(options, [&](const ReceivedInstance& instance) {
        std::lock_guard<std::mutex> lock(mutex);
        studies.insert(instance.studyInstanceUid);
        std::printf("received %s from %s\n", instance.path.c_str(),
                    instance.callingAeTitle.c_str());
        std::fflush(stdout);
    });
    try {
        listener.start();
    } catch (const NetworkError& e) {
        throw CliError{command + ": " + e.what()};
    }
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    std::fprintf(stderr, "listening as %s on port %d%s, storing into %s\n", options.aeTitle.c_str(),
                 options.port,
                 options.usesTls()
                     ? (options.tlsCaFile.empty() ? " (TLS)" : " (TLS, client certificates)")
                     : "",
                 options.folder.c_str());
    while (!g_interrupted && listener.running()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    listener.stop();
    if (args.has("--store")) {
        StudyStore store(args.get("--store"));
        for (const std::string& study : studies) {
            indexIntoStore(store, (fs::path(options.folder) / study).string());
        }
    }
    std::fprintf(stderr, "received %d instance(s) of %zu study(ies)\n", listener.receivedCount(),
                 studies.size());
    return 0;
}

} // namespace radiolens::cli
