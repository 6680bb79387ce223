#include "core/dicom/StudyRetriever.h"

#include "core/dicom/StorageListener.h"

#include <filesystem>
#include <memory>

namespace radiolens {

namespace fs = std::filesystem;

int instancesOnDisk(const std::string& folder, const std::string& studyInstanceUid) {
    const fs::path studyFolder = fs::path(folder) / studyInstanceUid;
    std::error_code error;
    if (!fs::is_directory(studyFolder, error)) {
        return 0;
    }
    int n = 0;
    for (const auto& entry : fs::directory_iterator(studyFolder, error)) {
        n += entry.is_regular_file() && entry.path().extension() == ".dcm" ? 1 : 0;
    }
    return n;
}

Retrieval retrieveStudy(PacsClient& client, const std::string& ownAeTitle,
                        const RetrieveRequest& request, ProgressSink* progress,
                        const std::function<void(const Retrieval&)>& record,
                        const InstanceStored& stored) {
    if (request.studyInstanceUid.empty() || request.folder.empty()) {
        throw std::invalid_argument("a retrieval needs a Study Instance UID and a folder");
    }
    Retrieval r;
    r.studyInstanceUid = request.studyInstanceUid;
    r.node = client.remote().address();
    r.folder = request.folder;
    r.state = Retrieval::State::Retrieving;
    r.present = instancesOnDisk(request.folder, request.studyInstanceUid);
    if (record) {
        record(r);
    }
    RetrieveOutcome outcome;
    int studyInstances = 0; ///< for a series retrieval: the whole study's, to judge the study
    std::unique_ptr<StorageListener> listener;
    try {
        if (!request.seriesInstanceUid.empty()) {
            QueryFilter filter;
            filter.studyInstanceUid = request.studyInstanceUid;
            studyInstances = int(client.find(QueryLevel::Image, filter).size());
        }
        if (request.useMove) {
            if (request.temporaryListenerPort > 0) {
                ListenerOptions options;
                options.aeTitle = ownAeTitle;
                options.port = request.temporaryListenerPort;
                options.folder = request.folder;
                listener = std::make_unique<StorageListener>(options);
                listener->start();
            }
            outcome = client.move(request.studyInstanceUid, request.seriesInstanceUid,
                                  request.folder, ownAeTitle, progress);
        } else {
            outcome = client.get(request.studyInstanceUid, request.seriesInstanceUid,
                                 request.folder, progress, stored);
        }
    } catch (const RetrieveError& e) {
        r.error = e.what();
        outcome = e.outcome();
    } catch (const NetworkError& e) {
        r.error = e.what();
    } catch (const std::filesystem::filesystem_error& e) {
        // A full or read-only incoming folder.
        r.error =
            "cannot write into the incoming folder " + request.folder + ": " + e.code().message();
    }
    if (listener) {
        listener->stop();
    }
    if (outcome.expected > 0) {
        r.expected = outcome.expected;
    }
    r.present = instancesOnDisk(request.folder, request.studyInstanceUid);
    if (!r.error.empty()) {
        r.state = Retrieval::State::Incomplete;
    } else if (outcome.cancelled) {
        r.state = Retrieval::State::Cancelled;
    } else if (outcome.complete()) {
        r.state = Retrieval::State::Complete;
    } else {
        r.state = Retrieval::State::Incomplete;
        r.error = std::to_string(outcome.expected - outcome.alreadyPresent - outcome.received) +
                  " instance(s) did not arrive (" + std::to_string(outcome.failed) +
                  " failed on the node)";
    }
    // The record is the study's: a series that arrived whole completes it only when the rest
    // of the study is here too.
    if (studyInstances > 0) {
        r.expected = studyInstances;
        if (r.state == Retrieval::State::Complete && r.present < studyInstances) {
            r.state = Retrieval::State::Incomplete;
            r.error = "series " + request.seriesInstanceUid + " retrieved; " +
                      std::to_string(studyInstances - r.present) +
                      " instance(s) of the study's other series are not here";
        }
    }
    r.updatedMs = 0;
    if (record) {
        record(r);
    }
    return r;
}

} // namespace radiolens
