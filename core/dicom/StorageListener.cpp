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

#include <atomic>
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

class StoreScp final : public DcmSCP {
public:
    /// `tls`: the transport layer when the listener uses TLS (not owned; outlives this), or null.
    StoreScp(const ListenerOptions& options, StorageListener::Received received,
             std::atomic<bool>& stopping, std::atomic<int>& count, DcmTransportLayer* tls)
        : m_options(options)
        , m_received(std::move(received))
        , m_stopping(stopping)
        , m_count(count) {
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
        if (message->CommandField != DIMSE_C_STORE_RQ) {
            return DcmSCP::handleIncomingCommand(message, info);
        }
        T_DIMSE_C_StoreRQ& request = message->msg.CStoreRQ;
        const std::string sopInstanceUid = request.AffectedSOPInstanceUID;
        const fs::path staging = fs::path(m_options.folder) / ".receiving";
        std::error_code error;
        fs::create_directories(staging, error);
        const std::string temporary =
            (staging / (sopInstanceUid + "." + std::to_string(++m_sequence))).string();
        T_ASC_PresentationContextID presId = info.presentationContextID;
        OFCondition cond = receiveSTORERequest(request, presId, temporary.c_str());
        Uint16 status = STATUS_Success;
        ReceivedInstance instance;
        if (cond.good()) {
            const DicomScanResult scanned = DicomHeaderScanner::scan(temporary);
            instance.studyInstanceUid = scanned.header.dataSet.text(tags::StudyInstanceUID);
            instance.sopInstanceUid = sopInstanceUid;
            instance.callingAeTitle = getPeerAETitle().c_str();
            if (!scanned.ok() || instance.studyInstanceUid.empty()) {
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
            ++m_count;
            if (m_received) {
                m_received(instance);
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
    }

    OFBool stopAfterConnectionTimeout() override { return m_stopping.load(); }
    OFBool stopAfterCurrentAssociation() override { return m_stopping.load(); }

private:
    ListenerOptions m_options;
    StorageListener::Received m_received;
    std::atomic<bool>& m_stopping;
    std::atomic<int>& m_count;
    unsigned long m_sequence = 0;
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
    return options;
}

class StorageListener::Impl {
public:
    ListenerOptions options;
    Received received;
    std::atomic<bool> stopping{false};
    std::atomic<bool> running{false};
    std::atomic<int> count{0};
    std::unique_ptr<DcmTLSTransportLayer> tls; ///< declared before scp, which refers to it
    std::unique_ptr<StoreScp> scp;
    std::thread thread;
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
    if (m_impl->running) {
        return;
    }
    initialiseDcmtk();
    fs::create_directories(m_impl->options.folder);
    m_impl->stopping = false;
    m_impl->tls.reset();
    if (m_impl->options.usesTls()) {
        m_impl->tls = serverTls(m_impl->options);
    }
    m_impl->scp = std::make_unique<StoreScp>(m_impl->options, m_impl->received, m_impl->stopping,
                                             m_impl->count, m_impl->tls.get());
    const OFCondition cond = m_impl->scp->openListenPort();
    if (cond.bad()) {
        m_impl->scp.reset();
        m_impl->tls.reset();
        throw NetworkError("cannot listen on port " + std::to_string(m_impl->options.port) +
                           " as " + m_impl->options.aeTitle + ": " + cond.text() +
                           " (is another program using the port?)");
    }
    m_impl->running = true;
    m_impl->thread = std::thread([impl = m_impl.get()] {
        impl->scp->acceptAssociations();
        impl->running = false;
    });
}

void StorageListener::stop() {
    if (!m_impl->thread.joinable()) {
        return;
    }
    m_impl->stopping = true;
    m_impl->thread.join();
    m_impl->scp.reset();
    m_impl->tls.reset();
    m_impl->running = false;
}

bool StorageListener::running() const {
    return m_impl->running;
}

int StorageListener::receivedCount() const {
    return m_impl->count;
}

} // namespace radiolens
