#pragma once

// Radiolens's C-STORE service class provider: a background listener that files every pushed
// instance into a folder (DCMTK dcmnet, private to the .cpp).

#include "core/dicom/PacsClient.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace radiolens {

struct ListenerOptions {
    std::string aeTitle = "RADIOLENS"; ///< the called AE title it answers to
    int port = 11112;
    std::string folder; ///< instances go to folder/StudyInstanceUID/SOPInstanceUID.dcm
    int responseTimeoutSeconds = 30;
    /// Refuse associations that call another AE title.
    bool checkCalledAeTitle = true;
    /// When set, only senders calling with one of these AE titles are accepted (the configured
    /// nodes, say); everyone else is refused. Unset: any sender.
    std::optional<std::vector<std::string>> allowedCallingAeTitles;
    /// TLS (DICOM PS3.15 Annex B): the listener's certificate and private key (PEM files,
    /// the key unencrypted). Both empty: plain TCP; then every sender must speak TLS.
    std::string tlsCertificateFile;
    std::string tlsKeyFile;
    /// With TLS: when set, senders must present a certificate issued by a CA in this PEM file;
    /// when empty, senders are not asked for a certificate.
    std::string tlsCaFile;

    bool usesTls() const { return !tlsCertificateFile.empty(); }
    /// The listener of `settings`: own AE title, port, incoming folder, timeout and TLS files.
    static ListenerOptions fromSettings(const NetworkSettings& settings);
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
/// written beside their place and renamed into it, so a reader never sees half a file. An
/// instance whose Study or SOP Instance UID is not a well-formed UID (they become folder and
/// file names), or whose data set is not the instance its request announced, is refused
/// (status 0xC000) and nothing of it is kept.
///
/// start() binds the port (and throws NetworkError naming it when that fails, or naming the
/// TLS file that cannot be used) and serves associations one after another on a thread of its
/// own until stop(). `received` is called on that thread after each instance is on disk; it
/// must be quick and thread-safe. A sender whose TLS handshake fails is dropped and the
/// listener goes on.
class StorageListener {
public:
    using Received = std::function<void(const ReceivedInstance&)>;

    StorageListener(ListenerOptions options, Received received = {});
    ~StorageListener(); ///< stops

    void start();
    /// Stops accepting, aborts the current association at its sender's next command, and
    /// returns within about 3 s; after it, `received` is not called again. A sender that holds
    /// an association without a word keeps the port until the response timeout (start()
    /// refuses until then).
    void stop();
    bool running() const;
    /// Instances stored since start.
    int receivedCount() const;

private:
    class Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace radiolens
