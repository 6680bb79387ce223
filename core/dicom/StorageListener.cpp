#include "core/dicom/StorageListener.h"

#include "core/dicom/DcmtkBridge.h"
#include "core/dicom/DicomHeaderScanner.h"
#include "core/dicom/DicomTags.h"
#include "core/dicom/NetworkSupport.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scp.h>
#include <dcmtk/dcmtls/tlslayer.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

namespace radiolens {

namespace fs = std::filesystem;

namespace {

/// The listener's TLS layer (server role): its certificate and key, the BCP 195
/// non-downgrading profile, and client certificates required and verified against
/// `tlsCaFile` when that is set. Throws NetworkError("listener on port N: TLS: <reason>").
std::unique_ptr<DcmTLSTransportLayer> serverTls(const ListenerOptions& options) {
    const std::string prefix = "listener on port " + std::to_string(options.port) + ": TLS: ";
    auto fail = [&](const std::string& reason) {
        throw NetworkError(prefix + reason);
    };
    const auto requireReadable = [&](const std::string& path, const std::string& what) {
        if (!std::ifstream(path).good()) {
            fail("cannot read " + what + " '" + path + "'");
        }
    };
    if (options.tlsKeyFile.empty()) {
        fail("the listener's certificate needs its private key");
    }
    requireReadable(options.tlsCertificateFile, "the listener's certificate file");
    requireReadable(options.tlsKeyFile, "the listener's private key file");
    if (!options.tlsCaFile.empty()) {
        requireReadable(options.tlsCaFile, "the CA certificate file for senders");
    }
    // OpenSSL's library set-up is not thread-safe in old versions: once per process.
    static std::once_flag openSsl;
    std::call_once(openSsl, [] { DcmTLSTransportLayer::initializeOpenSSL(); });
    auto tls = std::make_unique<DcmTLSTransportLayer>(NET_ACCEPTOR, nullptr, OFFalse);
    if (!*tls) {
        fail("OpenSSL could not create a TLS context");
    }
    // OpenSSL 1.1.1 and newer seed themselves from the operating system; this checks it.
    tls->seedPRNG(nullptr);
    if (!tls->canWriteRandomSeed()) {
        fail("OpenSSL's random number generator is not seeded");
    }
    // An encrypted key fails to load instead of asking for a password on the console.
    tls->setPrivateKeyPasswd("");
    OFCondition cond =
        tls->setCertificateFile(options.tlsCertificateFile.c_str(), DCF_Filetype_PEM);
    if (cond.bad()) {
        fail("cannot load the certificate '" + options.tlsCertificateFile + "' (" + cond.text() +
             ")");
    }
    cond = tls->setPrivateKeyFile(options.tlsKeyFile.c_str(), DCF_Filetype_PEM);
    if (cond.bad() && std::string(cond.text()).find("mismatch") != std::string::npos) {
        fail("'" + options.tlsKeyFile + "' is not the private key of '" +
             options.tlsCertificateFile + "'");
    }
    if (cond.bad()) {
        fail("cannot load the private key '" + options.tlsKeyFile +
             "' (an unencrypted PEM key is needed): " + cond.text());
    }
    if (!tls->checkPrivateKeyMatchesCertificate()) {
        fail("'" + options.tlsKeyFile + "' is not the private key of '" +
             options.tlsCertificateFile + "'");
    }
    if (options.tlsCaFile.empty()) {
        tls->setCertificateVerification(DCV_ignoreCertificate);
    } else {
        cond = tls->addTrustedCertificateFile(options.tlsCaFile.c_str(), DCF_Filetype_PEM);
        if (cond.good()) {
            // Tells senders which CAs we accept, so they pick the right certificate.
            cond = tls->addTrustedClientCertificateFile(options.tlsCaFile.c_str());
        }
        if (cond.bad()) {
            fail("'" + options.tlsCaFile + "' holds no PEM certificate (" + cond.text() + ")");
        }
        tls->setCertificateVerification(DCV_requireCertificate);
    }
    cond = tls->setTLSProfile(TSP_Profile_BCP195_ND);
    if (cond.good()) {
        cond = tls->activateCipherSuites();
    }
    if (cond.bad()) {
        fail(std::string("cannot set the BCP 195 cipher suites: ") + cond.text());
    }
    return tls;
}

/// What the accept thread shares with the StorageListener that started it. The thread keeps it
/// alive, so a listener stopped while a sender holds an association can let the thread finish
/// that association on its own.
struct ListenerState {
    std::atomic<bool> stopping{false};
    std::atomic<bool> running{false};
    std::atomic<int> count{0};
    /// Held while `received` runs; stop() takes it to be sure no call is under way or follows.
    std::mutex callbackMutex;
    StorageListener::Received received;
    std::mutex doneMutex;
    std::condition_variable doneChanged;
    bool done = false;
};

class StoreScp final : public DcmSCP {
public:
    /// `tls`: the transport layer when the listener uses TLS (not owned; outlives this), or null.
    StoreScp(const ListenerOptions& options, ListenerState& state, DcmTransportLayer* tls)
        : m_options(options)
        , m_state(state) {
        if (tls) {
            getConfig().setTransportLayer(tls);
        }
        setAETitle(options.aeTitle.c_str());
        setPort(Uint16(options.port));
        setRespondWithCalledAETitle(OFFalse);
        setConnectionBlockingMode(DUL_NOBLOCK);
        setConnectionTimeout(1); // seconds: how often the accept loop looks at the stop flag
        setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        setDIMSETimeout(Uint32(options.responseTimeoutSeconds));
        setACSETimeout(Uint32(options.responseTimeoutSeconds));
        setHostLookupEnabled(OFFalse);
        setMaxReceivePDULength(ASC_DEFAULTMAXPDU);
        OFList<OFString> syntaxes;
        for (const std::string& s : readableTransferSyntaxes()) {
            syntaxes.push_back(s.c_str());
        }
        addPresentationContext(UID_VerificationSOPClass, syntaxes);
        for (const std::string& sopClass : storageSopClasses()) {
            addPresentationContext(sopClass.c_str(), syntaxes);
        }
    }

protected:
    OFCondition handleIncomingCommand(T_DIMSE_Message* message,
                                      const DcmPresentationContextInfo& info) override {
        if (m_state.stopping) {
            // Stopping: any error here makes DcmSCP abort the association (A-ABORT).
            return DIMSE_ILLEGALASSOCIATION;
        }
        if (message->CommandField != DIMSE_C_STORE_RQ) {
            return DcmSCP::handleIncomingCommand(message, info);
        }
        T_DIMSE_C_StoreRQ& request = message->msg.CStoreRQ;
        const std::string sopInstanceUid = request.AffectedSOPInstanceUID;
        const fs::path staging = fs::path(m_options.folder) / ".receiving";
        std::error_code error;
        fs::create_directories(staging, error);
        // The temporary name carries nothing the sender chose.
        const std::string temporary =
            (staging / ("instance." + std::to_string(++m_sequence))).string();
        T_ASC_PresentationContextID presId = info.presentationContextID;
        OFCondition cond = receiveSTORERequest(request, presId, temporary.c_str());
        Uint16 status = STATUS_Success;
        ReceivedInstance instance;
        if (cond.good()) {
            const DicomScanResult scanned = DicomHeaderScanner::scan(temporary);
            instance.studyInstanceUid = scanned.header.dataSet.text(tags::StudyInstanceUID);
            instance.sopInstanceUid = sopInstanceUid;
            instance.callingAeTitle = getPeerAETitle().c_str();
            // UIDs become folder and file names: only well-formed UIDs, and the data set must
            // be the instance the request announced.
            if (!scanned.ok() || !isValidUid(instance.studyInstanceUid) ||
                !isValidUid(sopInstanceUid) ||
                scanned.header.dataSet.text(tags::SOPInstanceUID) != sopInstanceUid) {
                status = STATUS_STORE_Error_CannotUnderstand;
            } else {
                instance.path = retrievedInstancePath(m_options.folder, instance.studyInstanceUid,
                                                      sopInstanceUid);
                fs::create_directories(fs::path(instance.path).parent_path(), error);
                fs::rename(temporary, instance.path, error);
                if (error) {
                    status = STATUS_STORE_Refused_OutOfResources;
                }
            }
        } else {
            status = STATUS_STORE_Refused_OutOfResources;
        }
        if (status != STATUS_Success) {
            fs::remove(temporary, error);
        }
        if (cond.good()) {
            cond = sendSTOREResponse(presId, request, status);
        }
        if (status == STATUS_Success) {
            ++m_state.count;
            std::lock_guard<std::mutex> lock(m_state.callbackMutex);
            if (m_state.received && !m_state.stopping) {
                m_state.received(instance);
            }
        }
        return cond;
    }

    void notifyAssociationRequest(const T_ASC_Parameters& params,
                                  DcmSCPActionType& action) override {
        DcmSCP::notifyAssociationRequest(params, action);
        if (m_options.checkCalledAeTitle &&
            OFString(params.DULparams.calledAPTitle) != m_options.aeTitle.c_str()) {
            action = DCMSCP_ACTION_REFUSE_ASSOCIATION;
        }
        if (const auto& allowed = m_options.allowedCallingAeTitles) {
            const std::string caller = OFString(params.DULparams.callingAPTitle).c_str();
            if (std::find(allowed->begin(), allowed->end(), caller) == allowed->end()) {
                action = DCMSCP_ACTION_REFUSE_ASSOCIATION;
            }
        }
    }

    OFBool stopAfterConnectionTimeout() override { return m_state.stopping.load(); }
    OFBool stopAfterCurrentAssociation() override { return m_state.stopping.load(); }

private:
    ListenerOptions m_options;
    ListenerState& m_state;
    unsigned long m_sequence = 0;
};

/// Everything one run of the accept loop needs; shared by the listener and its thread.
struct ListenerRun {
    ListenerState state;
    std::unique_ptr<DcmTLSTransportLayer> tls; ///< declared before scp, which refers to it
    std::unique_ptr<StoreScp> scp;
};

} // namespace

ListenerOptions ListenerOptions::fromSettings(const NetworkSettings& settings) {
    ListenerOptions options;
    options.aeTitle = settings.ownAeTitle;
    options.port = settings.listenPort;
    options.folder = settings.incomingFolderOrDefault();
    options.responseTimeoutSeconds = settings.responseTimeoutSeconds;
    options.tlsCertificateFile = settings.listenerTlsCertificateFile;
    options.tlsKeyFile = settings.listenerTlsKeyFile;
    options.tlsCaFile = settings.listenerTlsCaFile;
    if (settings.listenerOnlyKnownNodes) {
        options.allowedCallingAeTitles.emplace();
        for (const DicomNode& node : settings.nodes) {
            options.allowedCallingAeTitles->push_back(node.aeTitle);
        }
    }
    return options;
}

class StorageListener::Impl {
public:
    ListenerOptions options;
    Received received;
    std::shared_ptr<ListenerRun> run; ///< the current or last run
    std::thread thread;
    int countBefore = 0; ///< instances of earlier runs
};

StorageListener::StorageListener(ListenerOptions options, Received received)
    : m_impl(std::make_unique<Impl>()) {
    checkAeTitle(options.aeTitle);
    if (options.folder.empty()) {
        throw std::invalid_argument("the listener needs a folder to store into");
    }
    if (!options.usesTls() && (!options.tlsKeyFile.empty() || !options.tlsCaFile.empty())) {
        throw std::invalid_argument("the listener's TLS needs its own certificate file besides "
                                    "its private key (and the CA file for senders)");
    }
    m_impl->options = std::move(options);
    m_impl->received = std::move(received);
}

StorageListener::~StorageListener() {
    stop();
}

void StorageListener::start() {
    if (running()) {
        return;
    }
    if (m_impl->thread.joinable()) {
        m_impl->thread.join(); // a run that ended on its own
    }
    initialiseDcmtk();
    fs::create_directories(m_impl->options.folder);
    auto run = std::make_shared<ListenerRun>();
    run->state.received = m_impl->received;
    if (m_impl->options.usesTls()) {
        run->tls = serverTls(m_impl->options);
    }
    run->scp = std::make_unique<StoreScp>(m_impl->options, run->state, run->tls.get());
    const OFCondition cond = run->scp->openListenPort();
    if (cond.bad()) {
        throw NetworkError("cannot listen on port " + std::to_string(m_impl->options.port) +
                           " as " + m_impl->options.aeTitle + ": " + cond.text() +
                           " (is another program, or a listener still finishing a transfer, "
                           "using the port?)");
    }
    if (m_impl->run) {
        m_impl->countBefore += m_impl->run->state.count;
    }
    m_impl->run = run;
    run->state.running = true;
    m_impl->thread = std::thread([run] {
        run->scp->acceptAssociations();
        run->state.running = false;
        std::lock_guard<std::mutex> lock(run->state.doneMutex);
        run->state.done = true;
        run->state.doneChanged.notify_all();
    });
}

void StorageListener::stop() {
    if (!m_impl->thread.joinable()) {
        return;
    }
    const std::shared_ptr<ListenerRun> run = m_impl->run;
    {
        // After this no `received` call is under way, and none follows.
        std::lock_guard<std::mutex> lock(run->state.callbackMutex);
        run->state.stopping = true;
    }
    // The accept loop looks at the flag every second; a sender in the middle of an association
    // is aborted at its next command, but one that says nothing holds it until the response
    // timeout. That run is left to end on its own rather than making the caller wait.
    std::unique_lock<std::mutex> lock(run->state.doneMutex);
    if (run->state.doneChanged.wait_for(lock, std::chrono::seconds(3),
                                        [&] { return run->state.done; })) {
        lock.unlock();
        m_impl->thread.join();
    } else {
        lock.unlock();
        m_impl->thread.detach();
    }
}

bool StorageListener::running() const {
    return m_impl->run && m_impl->run->state.running && !m_impl->run->state.stopping;
}

int StorageListener::receivedCount() const {
    return m_impl->countBefore + (m_impl->run ? m_impl->run->state.count.load() : 0);
}

} // namespace radiolens
