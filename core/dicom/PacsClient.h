#pragma once

// DICOM networking as a service class user (DCMTK dcmnet, private to the .cpp): C-ECHO, C-FIND,
// C-GET, C-MOVE and C-STORE against one remote node.

#include "core/domain/DicomNode.h"
#include "core/domain/Progress.h"

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace radiolens {

/// A network failure with a message meant for the user: what was asked, of which node, and what
/// went wrong ("ORTHANC@127.0.0.1:4242 stopped answering after 30 s during C-GET").
class NetworkError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class QueryLevel { Patient, Study, Series, Image };
const char* toString(QueryLevel level); ///< "patient", "study", "series", "image"
/// Parses toString's names; throws std::invalid_argument for anything else.
QueryLevel parseQueryLevel(const std::string& text);

/// C-FIND filters. Empty fields do not filter. Names and IDs may use DICOM wildcards (* and ?);
/// dates are YYYYMMDD.
struct QueryFilter {
    std::string patientName;
    std::string patientId;
    std::string dateFrom;
    std::string dateTo;
    std::string modality; ///< "CT"; at study level matched against Modalities in Study
    std::string accessionNumber;
    std::string studyInstanceUid;  ///< needed at series and image level
    std::string seriesInstanceUid; ///< narrows the image level
};

/// One C-FIND match: the fields of its level and the levels above that the remote returned.
struct QueryMatch {
    QueryLevel level = QueryLevel::Study;
    std::string patientId;
    std::string patientName;
    std::string patientBirthDate;
    std::string patientSex;
    std::string studyInstanceUid;
    std::string studyDate;
    std::string studyTime;
    std::string studyDescription;
    std::string accessionNumber;
    std::string modalitiesInStudy; ///< backslash-separated, as DICOM sends it
    int studyInstances = -1;       ///< Number of Study Related Instances; -1: not returned
    int patientStudies = -1;       ///< Number of Patient Related Studies
    std::string seriesInstanceUid;
    std::string seriesNumber;
    std::string seriesDescription;
    std::string modality;
    int seriesInstances = -1; ///< Number of Series Related Instances
    std::string sopInstanceUid;
    std::string sopClassUid;
    std::string instanceNumber;
};

/// Timeouts in seconds. `connect`: TCP connection and association set-up; `response`: the
/// longest wait for the remote's next message (a remote that stops answering fails after it).
struct NetworkTimeouts {
    int connectSeconds = 10;
    int responseSeconds = 30;
};

/// What a retrieval did. A retrieval that fails midway throws RetrieveError; the files that
/// arrived stay where they are, and the next retrieval of the same study fetches only the rest.
struct RetrieveOutcome {
    int expected = 0; ///< instances the remote lists for the study (or series)
    int alreadyPresent = 0;
    int received = 0; ///< instances this retrieval added
    int failed = 0;   ///< sub-operations the remote reported as failed
    bool cancelled = false;
    /// The status of the remote's last final C-GET/C-MOVE response (0xFE00 after a cancel).
    int finalStatus = 0;
    bool complete() const { return alreadyPresent + received >= expected && !cancelled; }
};

/// A retrieval cut off midway: the reason, and what had been done by then.
class RetrieveError : public NetworkError {
public:
    RetrieveError(const std::string& message, const RetrieveOutcome& outcome)
        : NetworkError(message)
        , m_outcome(outcome) {}
    const RetrieveOutcome& outcome() const { return m_outcome; }

private:
    RetrieveOutcome m_outcome;
};

/// Where retrieved instances of a study go: `folder`/`studyUid`/`sopInstanceUid`.dcm.
std::string retrievedInstancePath(const std::string& folder, const std::string& studyUid,
                                  const std::string& sopInstanceUid);

/// Called after each instance is safely on disk (path), from the retrieving thread.
using InstanceStored = std::function<void(const std::string& path)>;

/// A service class user talking to one remote node. Each call opens its own association and
/// releases it before returning, so a client is cheap and holds no connection between calls.
/// Not thread-safe: use one client per thread. Every call throws NetworkError on failure.
class PacsClient {
public:
    PacsClient(DicomNode remote, std::string ownAeTitle, NetworkTimeouts timeouts = {});
    ~PacsClient();

    const DicomNode& remote() const { return m_remote; }

    /// C-ECHO; returns the round trip in seconds.
    double echo();

    /// C-FIND (Study Root; Patient Root at patient level).
    std::vector<QueryMatch> find(QueryLevel level, const QueryFilter& filter);

    /// Retrieves the study `studyUid` (or one of its series) into `folder` with C-GET: lists the
    /// instances with an image-level C-FIND, skips those already in the folder, and asks for the
    /// rest (the whole study when nothing is there yet). `progress` gets the fraction done and
    /// can cancel (a C-CANCEL is sent, files received so far stay).
    RetrieveOutcome get(const std::string& studyUid, const std::string& seriesUid,
                        const std::string& folder, ProgressSink* progress = nullptr,
                        const InstanceStored& stored = {});

    /// The same with C-MOVE to `destinationAeTitle` (a listener the remote knows, normally
    /// Radiolens's own StorageListener writing into `folder`). `arrived` is polled to count what
    /// reached the folder; the remote's final response gives the failures.
    RetrieveOutcome move(const std::string& studyUid, const std::string& seriesUid,
                         const std::string& folder, const std::string& destinationAeTitle,
                         ProgressSink* progress = nullptr);

    /// C-STORE of `files` (DICOM files, sent as stored: compressed files stay compressed when
    /// the remote accepts their transfer syntax). Returns the number stored; the files that
    /// fail are listed in `failures` as "file: reason" and the rest are still sent.
    int store(const std::vector<std::string>& files, std::vector<std::string>* failures = nullptr,
              ProgressSink* progress = nullptr);

private:
    RetrieveOutcome retrieve(bool useMove, const std::string& studyUid,
                             const std::string& seriesUid, const std::string& folder,
                             const std::string& destinationAeTitle, ProgressSink* progress,
                             const InstanceStored& stored);

    DicomNode m_remote;
    std::string m_ownAeTitle;
    NetworkTimeouts m_timeouts;
};

} // namespace radiolens
