#include "core/dicom/PacsClient.h"

#include "core/dicom/DcmtkBridge.h"
#include "core/dicom/NetworkSupport.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scu.h>
#include <dcmtk/dcmtls/tlslayer.h>
#include <openssl/err.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace radiolens {

namespace fs = std::filesystem;

const char* toString(QueryLevel level) {
    switch (level) {
    case QueryLevel::Patient:
        return "patient";
    case QueryLevel::Study:
        return "study";
    case QueryLevel::Series:
        return "series";
    case QueryLevel::Image:
        return "image";
    }
    return "study";
}

QueryLevel parseQueryLevel(const std::string& text) {
    for (QueryLevel level :
         {QueryLevel::Patient, QueryLevel::Study, QueryLevel::Series, QueryLevel::Image}) {
        if (text == toString(level)) {
            return level;
        }
    }
    throw std::invalid_argument("unknown query level '" + text +
                                "' (patient, study, series or image)");
}

std::string retrievedInstancePath(const std::string& folder, const std::string& studyUid,
                                  const std::string& sopInstanceUid) {
    return (fs::path(folder) / studyUid / (sopInstanceUid + ".dcm")).string();
}

namespace {

const char* kLevelKeyword[] = {"PATIENT", "STUDY", "SERIES", "IMAGE"};

std::string text(DcmItem& item, const DcmTagKey& key) {
    OFString value;
    item.findAndGetOFStringArray(key, value);
    return value.c_str();
}

int number(DcmItem& item, const DcmTagKey& key) {
    OFString value;
    if (item.findAndGetOFString(key, value).bad() || value.empty()) {
        return -1;
    }
    return std::atoi(value.c_str());
}

bool contains(const std::string& text, const char* part) {
    return text.find(part) != std::string::npos;
}

/// The TLS alerts OpenSSL queued on this thread, oldest first, and empties the queue. A
/// server that refuses our certificate after a TLS 1.3 handshake says why only here: DCMTK
/// reports the closed connection.
std::string openSslAlerts() {
    std::string alerts;
    for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
        const char* reason = ERR_reason_error_string(e);
        if (reason != nullptr && contains(reason, "alert")) {
            alerts += (alerts.empty() ? "" : "; ") + std::string(reason);
        }
    }
    return alerts;
}

/// The TLS layer of an association with `remote` (client role): trusts the node's CA file,
/// presents our certificate when one is set, requires and verifies the server's certificate
/// and offers the DICOM non-downgrading BCP 195 profile (TLS 1.2 or newer, AES-GCM with forward
/// secrecy). Throws NetworkError("<node>: TLS: <reason>").
std::unique_ptr<DcmTLSTransportLayer> clientTls(const DicomNode& remote) {
    const std::string prefix = remote.address() + ": TLS: ";
    auto fail = [&](const std::string& reason) {
        throw NetworkError(prefix + reason);
    };
    const auto requireReadable = [&](const std::string& path, const std::string& what) {
        if (!std::ifstream(path).good()) {
            fail("cannot read " + what + " '" + path + "'");
        }
    };
    requireReadable(remote.tlsCaFile, "the CA certificate file");
    if (remote.tlsCertificateFile.empty() != remote.tlsKeyFile.empty()) {
        fail("our certificate and our private key go together; set both or neither");
    }
    if (!remote.tlsCertificateFile.empty()) {
        requireReadable(remote.tlsCertificateFile, "our certificate file");
        requireReadable(remote.tlsKeyFile, "our private key file");
    }
    // OpenSSL's library set-up is not thread-safe in old versions: once per process.
    static std::once_flag openSsl;
    std::call_once(openSsl, [] { DcmTLSTransportLayer::initializeOpenSSL(); });
    auto tls = std::make_unique<DcmTLSTransportLayer>(NET_REQUESTOR, nullptr, OFFalse);
    if (!*tls) {
        fail("OpenSSL could not create a TLS context");
    }
    // OpenSSL 1.1.1 and newer seed themselves from the operating system; this checks it.
    tls->seedPRNG(nullptr);
    if (!tls->canWriteRandomSeed()) {
        fail("OpenSSL's random number generator is not seeded");
    }
    OFCondition cond = tls->addTrustedCertificateFile(remote.tlsCaFile.c_str(), DCF_Filetype_PEM);
    if (cond.bad()) {
        fail("'" + remote.tlsCaFile + "' holds no PEM certificate (" + cond.text() + ")");
    }
    if (!remote.tlsCertificateFile.empty()) {
        // An encrypted key fails to load instead of asking for a password on the console.
        tls->setPrivateKeyPasswd("");
        cond = tls->setCertificateFile(remote.tlsCertificateFile.c_str(), DCF_Filetype_PEM);
        if (cond.bad()) {
            fail("cannot load our certificate '" + remote.tlsCertificateFile + "' (" + cond.text() +
                 ")");
        }
        cond = tls->setPrivateKeyFile(remote.tlsKeyFile.c_str(), DCF_Filetype_PEM);
        if (cond.bad() && contains(cond.text(), "mismatch")) {
            fail("'" + remote.tlsKeyFile + "' is not the private key of '" +
                 remote.tlsCertificateFile + "'");
        }
        if (cond.bad()) {
            fail("cannot load our private key '" + remote.tlsKeyFile +
                 "' (an unencrypted PEM key is needed): " + cond.text());
        }
        if (!tls->checkPrivateKeyMatchesCertificate()) {
            fail("'" + remote.tlsKeyFile + "' is not the private key of '" +
                 remote.tlsCertificateFile + "'");
        }
    }
    tls->setCertificateVerification(DCV_requireCertificate);
    cond = tls->setTLSProfile(TSP_Profile_BCP195_ND);
    if (cond.good()) {
        cond = tls->activateCipherSuites();
    }
    if (cond.bad()) {
        fail(std::string("cannot set the BCP 195 cipher suites: ") + cond.text());
    }
    return tls;
}

/// A DcmSCU configured for one remote, with the failures it meets turned into NetworkErrors.
class Scu : public DcmSCU {
public:
    Scu(const DicomNode& remote, const std::string& ownAeTitle, const NetworkTimeouts& timeouts)
        : m_remote(remote) {
        initialiseDcmtk();
        if (remote.usesTls()) {
            m_tls = clientTls(remote);
        }
        setAETitle(ownAeTitle.c_str());
        setPeerAETitle(remote.aeTitle.c_str());
        setPeerHostName(remote.host.c_str());
        setPeerPort(Uint16(remote.port));
        setMaxReceivePDULength(ASC_DEFAULTMAXPDU);
        setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        setDIMSETimeout(Uint32(timeouts.responseSeconds));
        setACSETimeout(Uint32(timeouts.connectSeconds));
        setConnectionTimeout(Sint32(timeouts.connectSeconds));
        m_responseSeconds = timeouts.responseSeconds;
    }
    ~Scu() override {
        if (isConnected()) {
            abortAssociation();
        }
        // The network refers to the TLS layer, which goes before DcmSCU's destructor runs.
        freeNetwork();
    }

    std::string who() const { return m_remote.address(); }

    /// Opens the association; throws a NetworkError that says what the remote refused.
    void connect(const std::string& what) {
        if (m_tls) {
            ERR_clear_error(); // what is queued afterwards is this connection's
        }
        OFCondition cond = initNetwork();
        if (cond.good() && m_tls) {
            cond = useSecureConnection(m_tls.get());
        }
        if (cond.good()) {
            cond = negotiateAssociation();
        }
        if (cond.bad()) {
            throw NetworkError(who() + ": " + what + ": " + describeConnectFailure(cond));
        }
    }

    /// The accepted presentation context for `abstractSyntax`, or a NetworkError.
    T_ASC_PresentationContextID context(const char* abstractSyntax, const std::string& what) {
        const T_ASC_PresentationContextID id = findAnyPresentationContextID(abstractSyntax, "");
        if (id == 0) {
            throw NetworkError(who() + ": the remote does not accept " + what + " (" +
                               dcmFindNameOfUID(abstractSyntax, abstractSyntax) + ")");
        }
        return id;
    }

    /// Why a message exchange failed, in words: the remote vanished, or stopped answering.
    std::string describe(const OFCondition& cond) const {
        if (cond == DIMSE_NODATAAVAILABLE) {
            return "the remote stopped answering (no message in " +
                   std::to_string(m_responseSeconds) + " s)";
        }
        if (cond == DUL_PEERABORTEDASSOCIATION || cond == DUL_PEERREQUESTEDRELEASE ||
            cond == DUL_NETWORKCLOSED || cond == DUL_READTIMEOUT) {
            return "the connection was lost (" + std::string(cond.text()) + ")";
        }
        return cond.text();
    }

    void release() {
        if (isConnected()) {
            releaseAssociation();
        }
    }

private:
    std::string describeConnectFailure(const OFCondition& cond) const {
        std::string reason = cond.text();
        if (cond == DUL_ASSOCIATIONREJECTED || reason.find("Rejected") != std::string::npos) {
            return "the remote refused the association (is our AE title known to it, and its "
                   "AE title '" +
                   m_remote.aeTitle + "' right?): " + reason;
        }
        if (m_tls) {
            const std::string alerts = openSslAlerts();
            return describeTlsFailure(alerts.empty() ? reason : alerts + "; " + reason);
        }
        if (contains(reason, "Unrecognized PDU type: 21") ||
            contains(reason, "Unrecognized PDU type: 22")) {
            // 21 and 22 begin TLS alert and handshake records.
            return "cannot connect: " + reason +
                   " (the node answered in TLS: give its CA certificate file)";
        }
        if (cond == DUL_READTIMEOUT || cond == DUL_NETWORKCLOSED ||
            cond == DUL_PEERABORTEDASSOCIATION || contains(reason, "reset by peer")) {
            // A TLS server drops (or ignores) a plain association request.
            return "cannot connect: " + reason +
                   " (the connection was accepted and then closed or left unanswered; if the "
                   "node uses TLS, give its CA certificate file)";
        }
        return "cannot connect: " + reason;
    }

    /// DCMTK reports handshake failures as OpenSSL's reason text; say which side refused what.
    std::string describeTlsFailure(const std::string& reason) const {
        if (contains(reason, "certificate verify failed") || contains(reason, "local issuer") ||
            contains(reason, "self-signed") || contains(reason, "self signed") ||
            contains(reason, "certificate has expired") || contains(reason, "not yet valid")) {
            return "TLS: the server's certificate is not trusted by " + m_remote.tlsCaFile + " (" +
                   reason + ")";
        }
        if (contains(reason, "certificate required")) {
            return "TLS: the node requires a client certificate; set our certificate and key (" +
                   reason + ")";
        }
        if (contains(reason, "handshake failure") || contains(reason, "unknown ca") ||
            contains(reason, "bad certificate") || contains(reason, "certificate unknown") ||
            contains(reason, "access denied") || contains(reason, "decrypt error")) {
            return std::string("TLS: the node refused ") +
                   (m_remote.tlsCertificateFile.empty()
                        ? "us: it may require a client certificate (set our certificate and key)"
                        : "our certificate " + m_remote.tlsCertificateFile) +
                   " (" + reason + ")";
        }
        if (contains(reason, "wrong version number") || contains(reason, "packet length") ||
            contains(reason, "unexpected eof") || contains(reason, "record layer") ||
            contains(reason, "http request")) {
            return "TLS: the handshake failed; does the node speak TLS on this port? (" + reason +
                   ")";
        }
        if (contains(reason, "Peer aborted") || contains(reason, "reset by peer") ||
            contains(reason, "Broken pipe") || contains(reason, "closed")) {
            // The handshake went through; a TLS 1.3 server checks our certificate after it and
            // hangs up, and its alert is lost when the hang-up comes first.
            return "TLS: the node closed the connection after the TLS handshake; " +
                   (m_remote.tlsCertificateFile.empty()
                        ? std::string("it may require a client certificate (set our certificate "
                                      "and key)")
                        : "it may not accept our certificate " + m_remote.tlsCertificateFile) +
                   " (" + reason + ")";
        }
        return "TLS: cannot connect: " + reason;
    }

    DicomNode m_remote;
    int m_responseSeconds = 30;
    std::unique_ptr<DcmTLSTransportLayer> m_tls; ///< owned; the network refers to it
};

/// The retrieving SCU: files arrive straight on disk (bit-preserving), are moved to their
/// place, counted and reported; a cancel request sends C-CANCEL.
class RetrieveScu final : public Scu {
public:
    RetrieveScu(const DicomNode& remote, const std::string& ownAeTitle,
                const NetworkTimeouts& timeouts)
        : Scu(remote, ownAeTitle, timeouts) {}

    std::string studyFolder;
    std::string stagingFolder;
    int expected = 0;
    int done = 0; ///< already present plus received
    int received = 0;
    bool cancelled = false;
    ProgressSink* progress = nullptr;
    InstanceStored stored;
    T_ASC_PresentationContextID requestContext = 0;
    int lastCompleted = 0;
    int failedSubOperations = 0;
    Uint16 finalStatus = 0;

    bool keepGoing() {
        if (progress && !cancelled && expected > 0 &&
            !progress->report(std::min(1.0, double(done) / double(expected)))) {
            cancelled = true;
            sendCANCELRequest(requestContext);
        }
        return !cancelled;
    }

    /// A SOP Instance UID the remote sent that is not a well-formed UID; the session stopped.
    std::string refusedUid;

protected:
    OFCondition handleSTORERequestFile(T_ASC_PresentationContextID* presId,
                                       const OFString& filename,
                                       T_DIMSE_C_StoreRQ* request) override {
        // DcmSCU names the file after the announced SOP Instance UID: refuse anything that is
        // not a UID before it can become a path outside the staging folder.
        if (!isValidUid(request->AffectedSOPInstanceUID)) {
            refusedUid = request->AffectedSOPInstanceUID;
            ignoreSTORERequest(*presId, *request);
            return DIMSE_BADDATA;
        }
        return DcmSCU::handleSTORERequestFile(presId, filename, request);
    }

    void notifyInstanceStored(const OFString& filename, const OFString&,
                              const OFString& sopInstanceUid) const override {
        // DcmSCU declares this const; the counting state is the retrieval's own.
        auto* self = const_cast<RetrieveScu*>(this);
        const std::string target =
            (fs::path(studyFolder) / (std::string(sopInstanceUid.c_str()) + ".dcm")).string();
        std::error_code error;
        fs::rename(filename.c_str(), target, error);
        if (error) {
            return; // left in the staging folder; the next retrieval asks for it again
        }
        ++self->received;
        ++self->done;
        if (self->stored) {
            self->stored(target);
        }
        self->keepGoing();
    }

    OFCondition handleCGETResponse(const T_ASC_PresentationContextID presId,
                                   RetrieveResponse* response, OFBool& continueSession) override {
        noteResponse(response);
        return DcmSCU::handleCGETResponse(presId, response, continueSession);
    }

    OFCondition handleMOVEResponse(const T_ASC_PresentationContextID presId,
                                   RetrieveResponse* response, OFBool& waitForNext) override {
        noteResponse(response);
        // Files of a C-MOVE reach the listener, not this association: count them on disk.
        if (response->m_status == STATUS_Pending) {
            done = std::max(done, countPresent());
            keepGoing();
        }
        return DcmSCU::handleMOVEResponse(presId, response, waitForNext);
    }

public:
    std::set<std::string> wanted;

    int countPresent() const {
        int n = 0;
        for (const std::string& uid : wanted) {
            n += fs::exists(fs::path(studyFolder) / (uid + ".dcm")) ? 1 : 0;
        }
        return n;
    }

private:
    void noteResponse(const RetrieveResponse* response) {
        if (response->m_status != STATUS_Pending) {
            finalStatus = response->m_status;
            failedSubOperations = response->m_numberOfFailedSubops;
        }
        lastCompleted = response->m_numberOfCompletedSubops;
    }
};

void addContexts(DcmSCU& scu, const std::vector<ContextProposal>& proposals,
                 T_ASC_SC_ROLE role = ASC_SC_ROLE_DEFAULT) {
    for (const ContextProposal& p : proposals) {
        OFList<OFString> syntaxes;
        for (const std::string& s : p.transferSyntaxes) {
            syntaxes.push_back(s.c_str());
        }
        scu.addPresentationContext(p.abstractSyntax.c_str(), syntaxes, role);
    }
}

void addQueryContexts(DcmSCU& scu, const char* abstractSyntax) {
    OFList<OFString> syntaxes;
    syntaxes.push_back(UID_LittleEndianExplicitTransferSyntax);
    syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
    scu.addPresentationContext(abstractSyntax, syntaxes);
}

void setKey(DcmDataset& keys, const DcmTagKey& key, const std::string& value = {}) {
    keys.putAndInsertString(key, value.c_str());
}

DcmDataset queryKeys(QueryLevel level, const QueryFilter& filter) {
    DcmDataset keys;
    setKey(keys, DCM_QueryRetrieveLevel, kLevelKeyword[int(level)]);
    // Names with accents: ask in UTF-8; answers are converted to UTF-8 whatever they use.
    setKey(keys, DCM_SpecificCharacterSet, "ISO_IR 192");
    setKey(keys, DCM_PatientName, filter.patientName);
    setKey(keys, DCM_PatientID, filter.patientId);
    if (level == QueryLevel::Patient) {
        setKey(keys, DCM_PatientBirthDate);
        setKey(keys, DCM_PatientSex);
        setKey(keys, DCM_NumberOfPatientRelatedStudies);
        return keys;
    }
    setKey(keys, DCM_PatientBirthDate);
    setKey(keys, DCM_PatientSex);
    setKey(keys, DCM_StudyInstanceUID, filter.studyInstanceUid);
    std::string range;
    if (!filter.dateFrom.empty() || !filter.dateTo.empty()) {
        range = filter.dateFrom == filter.dateTo ? filter.dateFrom
                                                 : filter.dateFrom + "-" + filter.dateTo;
    }
    setKey(keys, DCM_StudyDate, range);
    setKey(keys, DCM_StudyTime);
    setKey(keys, DCM_StudyDescription);
    setKey(keys, DCM_AccessionNumber, filter.accessionNumber);
    if (level == QueryLevel::Study) {
        setKey(keys, DCM_ModalitiesInStudy, filter.modality);
        setKey(keys, DCM_NumberOfStudyRelatedInstances);
        return keys;
    }
    setKey(keys, DCM_SeriesInstanceUID, filter.seriesInstanceUid);
    if (level == QueryLevel::Series) {
        setKey(keys, DCM_Modality, filter.modality);
        setKey(keys, DCM_SeriesNumber);
        setKey(keys, DCM_SeriesDescription);
        setKey(keys, DCM_NumberOfSeriesRelatedInstances);
        return keys;
    }
    setKey(keys, DCM_SOPInstanceUID);
    setKey(keys, DCM_SOPClassUID);
    setKey(keys, DCM_InstanceNumber);
    return keys;
}

QueryMatch matchOf(QueryLevel level, DcmDataset& found) {
    QueryMatch m;
    m.level = level;
    m.patientId = text(found, DCM_PatientID);
    m.patientName = text(found, DCM_PatientName);
    m.patientBirthDate = text(found, DCM_PatientBirthDate);
    m.patientSex = text(found, DCM_PatientSex);
    m.patientStudies = number(found, DCM_NumberOfPatientRelatedStudies);
    m.studyInstanceUid = text(found, DCM_StudyInstanceUID);
    m.studyDate = text(found, DCM_StudyDate);
    m.studyTime = text(found, DCM_StudyTime);
    m.studyDescription = text(found, DCM_StudyDescription);
    m.accessionNumber = text(found, DCM_AccessionNumber);
    m.modalitiesInStudy = text(found, DCM_ModalitiesInStudy);
    m.studyInstances = number(found, DCM_NumberOfStudyRelatedInstances);
    m.seriesInstanceUid = text(found, DCM_SeriesInstanceUID);
    m.seriesNumber = text(found, DCM_SeriesNumber);
    m.seriesDescription = text(found, DCM_SeriesDescription);
    m.modality = text(found, DCM_Modality);
    m.seriesInstances = number(found, DCM_NumberOfSeriesRelatedInstances);
    m.sopInstanceUid = text(found, DCM_SOPInstanceUID);
    m.sopClassUid = text(found, DCM_SOPClassUID);
    m.instanceNumber = text(found, DCM_InstanceNumber);
    return m;
}

std::string statusText(Uint16 status) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%04x", unsigned(status));
    return hex;
}

} // namespace

PacsClient::PacsClient(DicomNode remote, std::string ownAeTitle, NetworkTimeouts timeouts)
    : m_remote(std::move(remote))
    , m_ownAeTitle(std::move(ownAeTitle))
    , m_timeouts(timeouts) {
    checkAeTitle(m_ownAeTitle);
    checkAeTitle(m_remote.aeTitle);
}

PacsClient::~PacsClient() = default;

double PacsClient::echo() {
    Scu scu(m_remote, m_ownAeTitle, m_timeouts);
    addQueryContexts(scu, UID_VerificationSOPClass);
    const auto start = std::chrono::steady_clock::now();
    scu.connect("C-ECHO");
    const OFCondition cond = scu.sendECHORequest(scu.context(UID_VerificationSOPClass, "C-ECHO"));
    if (cond.bad()) {
        throw NetworkError(scu.who() + ": C-ECHO failed: " + scu.describe(cond));
    }
    scu.release();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<QueryMatch> PacsClient::find(QueryLevel level, const QueryFilter& filter) {
    if ((level == QueryLevel::Series || level == QueryLevel::Image) &&
        filter.studyInstanceUid.empty()) {
        throw std::invalid_argument(std::string("a ") + toString(level) +
                                    "-level query needs the Study Instance UID");
    }
    const char* model = level == QueryLevel::Patient
                            ? UID_FINDPatientRootQueryRetrieveInformationModel
                            : UID_FINDStudyRootQueryRetrieveInformationModel;
    Scu scu(m_remote, m_ownAeTitle, m_timeouts);
    addQueryContexts(scu, model);
    scu.connect("C-FIND");
    DcmDataset keys = queryKeys(level, filter);
    OFList<QRResponse*> responses;
    const OFCondition cond = scu.sendFINDRequest(scu.context(model, "C-FIND"), &keys, &responses);
    std::vector<QueryMatch> matches;
    Uint16 finalStatus = 0;
    for (QRResponse* response : responses) {
        if (response->m_dataset &&
            (response->m_status == STATUS_Pending ||
             response->m_status == STATUS_FIND_Pending_WarningUnsupportedOptionalKeys)) {
            // A character set DCMTK cannot convert leaves the text as sent.
            response->m_dataset->convertToUTF8();
            matches.push_back(matchOf(level, *response->m_dataset));
        } else if (response->m_status != STATUS_Pending) {
            finalStatus = response->m_status;
        }
        delete response;
    }
    if (cond.bad()) {
        throw NetworkError(scu.who() + ": C-FIND failed: " + scu.describe(cond));
    }
    if (finalStatus != STATUS_Success) {
        throw NetworkError(scu.who() + ": C-FIND failed with status " + statusText(finalStatus) +
                           " (" + DU_cfindStatusString(finalStatus) + ")");
    }
    scu.release();
    return matches;
}

RetrieveOutcome PacsClient::get(const std::string& studyUid, const std::string& seriesUid,
                                const std::string& folder, ProgressSink* progress,
                                const InstanceStored& stored) {
    return retrieve(false, studyUid, seriesUid, folder, {}, progress, stored);
}

RetrieveOutcome PacsClient::move(const std::string& studyUid, const std::string& seriesUid,
                                 const std::string& folder, const std::string& destinationAeTitle,
                                 ProgressSink* progress) {
    checkAeTitle(destinationAeTitle);
    return retrieve(true, studyUid, seriesUid, folder, destinationAeTitle, progress, {});
}

RetrieveOutcome PacsClient::retrieve(bool useMove, const std::string& studyUid,
                                     const std::string& seriesUid, const std::string& folder,
                                     const std::string& destinationAeTitle, ProgressSink* progress,
                                     const InstanceStored& stored) {
    if (!isValidUid(studyUid) || (!seriesUid.empty() && !isValidUid(seriesUid))) {
        throw std::invalid_argument("'" + (isValidUid(studyUid) ? seriesUid : studyUid) +
                                    "' is not a DICOM UID (digits and dots, at most 64)");
    }
    const char* method = useMove ? "C-MOVE" : "C-GET";
    // What the remote has: every instance of the study (or series), with its SOP class.
    QueryFilter filter;
    filter.studyInstanceUid = studyUid;
    filter.seriesInstanceUid = seriesUid;
    const std::vector<QueryMatch> instances = find(QueryLevel::Image, filter);
    if (instances.empty()) {
        throw NetworkError(m_remote.address() + ": the remote has no instances of study " +
                           studyUid + (seriesUid.empty() ? "" : " series " + seriesUid));
    }
    const std::string studyFolder = (fs::path(folder) / studyUid).string();
    const std::string staging = (fs::path(studyFolder) / ".receiving").string();
    fs::create_directories(staging);
    // A retrieval killed earlier may have left partial files here; they are fetched again.
    for (const auto& entry : fs::directory_iterator(staging)) {
        std::error_code ignored;
        fs::remove(entry.path(), ignored);
    }

    RetrieveScu scu(m_remote, m_ownAeTitle, m_timeouts);
    scu.studyFolder = studyFolder;
    scu.stagingFolder = staging;
    scu.progress = progress;
    scu.stored = stored;
    std::map<std::string, std::vector<std::string>> missingBySeries;
    std::set<std::string> sopClasses;
    bool classesUnknown = false;
    for (const QueryMatch& m : instances) {
        if (!isValidUid(m.sopInstanceUid)) {
            throw NetworkError(m_remote.address() + ": the remote listed an instance of study " +
                               studyUid + " whose SOP Instance UID '" + m.sopInstanceUid +
                               "' is not a DICOM UID");
        }
        scu.wanted.insert(m.sopInstanceUid);
        if (!fs::exists(retrievedInstancePath(folder, studyUid, m.sopInstanceUid))) {
            missingBySeries[m.seriesInstanceUid].push_back(m.sopInstanceUid);
            if (m.sopClassUid.empty()) {
                classesUnknown = true;
            } else {
                sopClasses.insert(m.sopClassUid);
            }
        }
    }
    if (classesUnknown) {
        // SOP Class UID is optional in image-level answers: offer the common storage classes.
        const std::vector<std::string> common = commonStorageSopClasses();
        sopClasses.insert(common.begin(), common.end());
    }
    RetrieveOutcome outcome;
    outcome.expected = int(scu.wanted.size());
    outcome.alreadyPresent = scu.countPresent();
    scu.expected = outcome.expected;
    scu.done = outcome.alreadyPresent;
    if (missingBySeries.empty()) {
        if (progress) {
            progress->report(1.0);
        }
        return outcome;
    }

    const char* model = useMove ? UID_MOVEStudyRootQueryRetrieveInformationModel
                                : UID_GETStudyRootQueryRetrieveInformationModel;
    addQueryContexts(scu, model);
    if (!useMove) {
        // 128 contexts at most in an association; one is the retrieve model's.
        const auto contexts = receivingContexts(sopClasses, 127);
        std::set<std::string> offered;
        for (const ContextProposal& c : contexts) {
            offered.insert(c.abstractSyntax);
        }
        if (offered.size() < sopClasses.size() && !classesUnknown) {
            throw NetworkError(m_remote.address() + ": study " + studyUid + " holds " +
                               std::to_string(sopClasses.size()) +
                               " kinds of object, more than one C-GET association can receive "
                               "(127); retrieve it series by series or with C-MOVE");
        }
        addContexts(scu, contexts, ASC_SC_ROLE_SCP);
        scu.setStorageMode(DCMSCU_STORAGE_BIT_PRESERVING);
        scu.setStorageDir(staging.c_str());
    }
    scu.connect(method);
    scu.requestContext = scu.context(model, method);

    // One request for the whole study (or series) when nothing is here yet; otherwise one per
    // series listing the missing instances.
    std::vector<DcmDataset> requests;
    const bool nothingHere = outcome.alreadyPresent == 0;
    if (nothingHere) {
        DcmDataset keys;
        setKey(keys, DCM_QueryRetrieveLevel, seriesUid.empty() ? "STUDY" : "SERIES");
        setKey(keys, DCM_StudyInstanceUID, studyUid);
        if (!seriesUid.empty()) {
            setKey(keys, DCM_SeriesInstanceUID, seriesUid);
        }
        requests.push_back(keys);
    } else {
        for (const auto& [series, uids] : missingBySeries) {
            // UID lists are split so that one request stays well under the 64 KiB an element
            // of a request may reasonably hold.
            for (std::size_t start = 0; start < uids.size(); start += 500) {
                std::string list;
                for (std::size_t i = start; i < std::min(uids.size(), start + 500); ++i) {
                    list += (list.empty() ? "" : "\\") + uids[i];
                }
                DcmDataset keys;
                setKey(keys, DCM_QueryRetrieveLevel, "IMAGE");
                setKey(keys, DCM_StudyInstanceUID, studyUid);
                setKey(keys, DCM_SeriesInstanceUID, series);
                setKey(keys, DCM_SOPInstanceUID, list);
                requests.push_back(keys);
            }
        }
    }
    for (DcmDataset& keys : requests) {
        OFList<RetrieveResponse*> responses;
        const OFCondition cond =
            useMove ? scu.sendMOVERequest(scu.requestContext, destinationAeTitle.c_str(), &keys,
                                          &responses)
                    : scu.sendCGETRequest(scu.requestContext, &keys, &responses);
        for (RetrieveResponse* response : responses) {
            delete response;
        }
        outcome.received = useMove ? scu.countPresent() - outcome.alreadyPresent : scu.received;
        outcome.failed += scu.failedSubOperations;
        outcome.finalStatus = scu.finalStatus;
        if (!scu.refusedUid.empty()) {
            throw RetrieveError(scu.who() + ": " + method + " of study " + studyUid +
                                    " stopped: the remote sent an object whose SOP Instance UID '" +
                                    scu.refusedUid + "' is not a DICOM UID; it was refused",
                                outcome);
        }
        if (cond.bad()) {
            throw RetrieveError(
                scu.who() + ": " + method + " of study " + studyUid + " stopped after " +
                    std::to_string(outcome.alreadyPresent + outcome.received) + " of " +
                    std::to_string(outcome.expected) + " instances: " + scu.describe(cond),
                outcome);
        }
        if (scu.cancelled) {
            outcome.cancelled = true;
            break;
        }
        if (scu.finalStatus != STATUS_Success &&
            scu.finalStatus != STATUS_GET_Warning_SubOperationsCompleteOneOrMoreFailures) {
            throw RetrieveError(scu.who() + ": " + method + " of study " + studyUid +
                                    " failed with status " + statusText(scu.finalStatus) +
                                    " after " +
                                    std::to_string(outcome.alreadyPresent + outcome.received) +
                                    " of " + std::to_string(outcome.expected) + " instances" +
                                    (useMove ? " (does the remote know the move destination '" +
                                                   destinationAeTitle + "'?)"
                                             : ""),
                                outcome);
        }
    }
    scu.release();
    std::error_code ignored;
    fs::remove(staging, ignored);
    if (progress && !outcome.cancelled) {
        progress->report(1.0);
    }
    return outcome;
}

int PacsClient::store(const std::vector<std::string>& files, std::vector<std::string>* failures,
                      ProgressSink* progress) {
    initialiseDcmtk();
    // The SOP class and transfer syntax of each file decide the presentation contexts.
    struct Item {
        std::string path;
        std::string sopClass;
        std::string syntax;
    };
    std::vector<Item> items;
    std::map<std::string, std::set<std::string>> syntaxesByClass;
    auto fail = [&](const std::string& file, const std::string& reason) {
        if (failures) {
            failures->push_back(file + ": " + reason);
        }
    };
    for (const std::string& file : files) {
        DcmFileFormat format;
        const OFCondition cond = format.loadFile(file.c_str(), EXS_Unknown, EGL_noChange,
                                                 DCM_MaxReadLength, ERM_metaOnly);
        std::string sopClass = text(*format.getMetaInfo(), DCM_MediaStorageSOPClassUID);
        std::string syntax = text(*format.getMetaInfo(), DCM_TransferSyntaxUID);
        if (cond.bad() || sopClass.empty() || syntax.empty()) {
            fail(file, cond.bad() ? std::string("not a DICOM file (") + cond.text() + ")"
                                  : "no SOP class or transfer syntax in its file meta header");
            continue;
        }
        syntaxesByClass[sopClass].insert(syntax);
        items.push_back({file, sopClass, syntax});
    }
    if (items.empty()) {
        return 0;
    }
    Scu scu(m_remote, m_ownAeTitle, m_timeouts);
    const std::vector<ContextProposal> contexts = sendingContexts(syntaxesByClass);
    if (contexts.size() > 128) {
        throw NetworkError(m_remote.address() + ": C-STORE: the files use " +
                           std::to_string(contexts.size()) +
                           " kinds of object and encoding, more than one association can "
                           "carry (128); send them in smaller groups");
    }
    addContexts(scu, contexts);
    scu.setDatasetConversionMode(OFTrue);
    scu.connect("C-STORE");
    int stored = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const Item& item = items[i];
        Uint16 status = 0;
        const OFCondition cond = scu.sendSTORERequest(0, item.path.c_str(), nullptr, status);
        if (cond.bad()) {
            // A file that cannot be read, or has no context in this association, is skipped;
            // a network failure (a broken pipe, a timeout, an abort) leaves the association
            // unusable.
            if (cond.module() == OFM_dcmnet && cond != DIMSE_NOVALIDPRESENTATIONCONTEXTID) {
                throw NetworkError(scu.who() + ": C-STORE stopped after " + std::to_string(stored) +
                                   " of " + std::to_string(items.size()) + " files, at " +
                                   item.path + ": " + scu.describe(cond) + "; send the rest again");
            }
            fail(item.path, cond == DIMSE_NOVALIDPRESENTATIONCONTEXTID
                                ? "not sent: the remote accepts no " +
                                      std::string(dcmFindNameOfUID(item.sopClass.c_str(),
                                                                   item.sopClass.c_str())) +
                                      " in this encoding"
                                : std::string("not sent: ") + cond.text());
        } else if (status == STATUS_Success || (status & 0xf000) == 0xb000) {
            ++stored;
        } else {
            fail(item.path, "the remote refused it with status " + statusText(status) + " (" +
                                DU_cstoreStatusString(status) + ")");
        }
        if (progress && !progress->report(double(i + 1) / double(items.size()))) {
            break;
        }
    }
    scu.release();
    return stored;
}

} // namespace radiolens
