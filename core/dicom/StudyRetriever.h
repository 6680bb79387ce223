#pragma once

#include "core/dicom/PacsClient.h"
#include "core/domain/Retrieval.h"

#include <functional>
#include <string>

namespace radiolens {

/// What to retrieve, from where, and how.
struct RetrieveRequest {
    std::string studyInstanceUid;
    std::string seriesInstanceUid; ///< empty: the whole study
    std::string folder;            ///< files go to folder/StudyInstanceUID/SOPInstanceUID.dcm
    bool useMove = false;          ///< C-MOVE to `ownAeTitle` instead of C-GET
    /// C-MOVE only: start a listener on this port for the transfer (0: one is already running
    /// and writes into `folder`, e.g. the application's own).
    int temporaryListenerPort = 0;
};

/// Retrieves a study and keeps its record current: `record` is called with state Retrieving
/// before the first request and with the final state after (Complete, Incomplete with the
/// reason, or Cancelled). The final state is decided by what is on disk, so a retrieval cut off
/// by a dropped connection or a node that stops answering is Incomplete, and the next call
/// fetches only what is missing. Network and disk failures are returned in the record, not
/// thrown; invalid requests throw std::invalid_argument. For a series, `expected` is the whole
/// study's count, and the study is Complete only when all of it is here. `stored` is called for
/// each instance that arrives by C-GET (from this thread).
Retrieval retrieveStudy(PacsClient& client, const std::string& ownAeTitle,
                        const RetrieveRequest& request, ProgressSink* progress,
                        const std::function<void(const Retrieval&)>& record,
                        const InstanceStored& stored = {});

/// Instances (*.dcm files) of a study in `folder` (folder/StudyInstanceUID/).
int instancesOnDisk(const std::string& folder, const std::string& studyInstanceUid);

} // namespace radiolens
