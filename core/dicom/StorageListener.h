#pragma once

// Radiolens's C-STORE service class provider: a background listener that files every pushed
// instance into a folder (DCMTK dcmnet, private to the .cpp).

#include "core/dicom/PacsClient.h"

#include <functional>
#include <memory>
#include <string>

namespace radiolens {

struct ListenerOptions {
    std::string aeTitle = "RADIOLENS"; ///< the called AE title it answers to
    int port = 11112;
    std::string folder; ///< instances go to folder/StudyInstanceUID/SOPInstanceUID.dcm
    int responseTimeoutSeconds = 30;
    /// Refuse associations that call another AE title.
    bool checkCalledAeTitle = true;
};

/// One received instance: where it is and whose it is.
struct ReceivedInstance {
    std::string path;
    std::string callingAeTitle; ///< who sent it
    std::string studyInstanceUid;
    std::string sopInstanceUid;
};

/// Accepts C-ECHO and C-STORE of every storage SOP class in every transfer syntax Radiolens
/// reads, and stores what arrives bit for bit (the file meta header is written anew). Files are
/// written beside their place and renamed into it, so a reader never sees half a file.
///
/// start() binds the port (and throws NetworkError naming it when that fails) and serves
/// associations one after another on a thread of its own until stop(). `received` is called on
/// that thread after each instance is on disk; it must be quick and thread-safe.
class StorageListener {
public:
    using Received = std::function<void(const ReceivedInstance&)>;

    StorageListener(ListenerOptions options, Received received = {});
    ~StorageListener(); ///< stops

    void start();
    /// Ends the current association's wait and the thread; returns within about a second.
    void stop();
    bool running() const;
    /// Instances stored since start.
    int receivedCount() const;

private:
    class Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace radiolens
