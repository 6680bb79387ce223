#pragma once

#include <string>
#include <vector>

namespace radiolens {

/// A remote DICOM application (an archive, a modality, another workstation): its AE title,
/// host and TCP port. Plain value; `name` is what the user calls it ("Main PACS").
struct DicomNode {
    std::string name;
    std::string aeTitle; ///< 1-16 characters, no backslash or control characters
    std::string host;
    int port = 104;
    /// C-GET retrieves over the query association; C-MOVE asks the remote to send to our
    /// listener (the remote must know our AE title, host and port).
    bool retrieveWithMove = false;
    /// TLS (DICOM PS3.15 Annex B secure transport). Empty `tlsCaFile` means plain TCP; set, it
    /// is the PEM file of the certificate authorities whose certificates we trust for this node.
    std::string tlsCaFile;
    /// Our own certificate and private key (PEM), for nodes that require the client to
    /// authenticate itself (mutual TLS); both or neither, and only with `tlsCaFile`.
    std::string tlsCertificateFile;
    std::string tlsKeyFile;

    bool usesTls() const { return !tlsCaFile.empty(); }

    /// "AET@HOST:PORT" (what --node takes).
    std::string address() const;
    /// Parses "AET@HOST:PORT". Throws std::invalid_argument naming the part that is wrong.
    static DicomNode parse(const std::string& address);
};

/// Throws std::invalid_argument saying what is wrong with `aeTitle` (empty, longer than 16
/// characters, a backslash or a control character).
void checkAeTitle(const std::string& aeTitle);

/// Radiolens's own DICOM networking settings and the remote nodes it knows.
struct NetworkSettings {
    std::string ownAeTitle = "RADIOLENS";
    int listenPort = 11112;       ///< the C-STORE listener's TCP port
    bool listenerEnabled = false; ///< start the listener with the application
    /// The listener accepts only senders calling with the AE title of a configured node.
    bool listenerOnlyKnownNodes = false;
    /// The listener's TLS certificate and private key (PEM); both empty: plain TCP.
    std::string listenerTlsCertificateFile;
    std::string listenerTlsKeyFile;
    /// With TLS: when set, senders must present a certificate issued by one of these CAs.
    std::string listenerTlsCaFile;
    std::string incomingFolder; ///< where retrieved and received files go; empty: default
    int connectTimeoutSeconds = 10;
    int responseTimeoutSeconds = 30; ///< DIMSE: the longest wait for the remote's next message
    std::vector<DicomNode> nodes;

    /// `incomingFolder`, or the user's data folder's "incoming" folder when empty.
    std::string incomingFolderOrDefault() const;

    std::string toJson() const;
    /// Throws std::runtime_error naming the field that is wrong. Files written before TLS
    /// existed (no TLS fields) load as plain TCP.
    static NetworkSettings fromJson(const std::string& text);
    /// The settings file in the user's data folder (network.json).
    static std::string defaultPath();
    /// Reads `path`; a missing file gives the defaults. Throws std::runtime_error naming the file
    /// and the field for a file that cannot be read or is wrong.
    static NetworkSettings load(const std::string& path);
    /// Writes atomically. Throws std::runtime_error naming the file.
    void save(const std::string& path) const;
};

} // namespace radiolens
