#include "core/dicom/StorageListener.h"

#include "core/dicom/DcmtkBridge.h"
#include "core/dicom/DicomHeaderScanner.h"
#include "core/dicom/DicomTags.h"
#include "core/dicom/NetworkSupport.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scp.h>

#include <atomic>
#include <filesystem>
#include <thread>

namespace radiolens {

namespace fs = std::filesystem;

namespace {

class StoreScp final : public DcmSCP {
public:
    StoreScp(const ListenerOptions& options, StorageListener::Received received,
             std::atomic<bool>& stopping, std::atomic<int>& count)
        : m_options(options)
        , m_received(std::move(received))
        , m_stopping(stopping)
        , m_count(count) {
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

class StorageListener::Impl {
public:
    ListenerOptions options;
    Received received;
    std::atomic<bool> stopping{false};
    std::atomic<bool> running{false};
    std::atomic<int> count{0};
    std::unique_ptr<StoreScp> scp;
    std::thread thread;
};

StorageListener::StorageListener(ListenerOptions options, Received received)
    : m_impl(std::make_unique<Impl>()) {
    checkAeTitle(options.aeTitle);
    if (options.folder.empty()) {
        throw std::invalid_argument("the listener needs a folder to store into");
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
    m_impl->scp = std::make_unique<StoreScp>(m_impl->options, m_impl->received, m_impl->stopping,
                                             m_impl->count);
    const OFCondition cond = m_impl->scp->openListenPort();
    if (cond.bad()) {
        m_impl->scp.reset();
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
    m_impl->running = false;
}

bool StorageListener::running() const {
    return m_impl->running;
}

int StorageListener::receivedCount() const {
    return m_impl->count;
}

} // namespace radiolens
