#pragma once
// A real Orthanc DICOM server (Debian package `orthanc`) for networking tests: started on
// loopback with a temporary configuration and storage, stopped (killed) when the object goes.

#include <string>
#include <sys/types.h>

namespace radiolens::test {

/// DICOM TLS on Orthanc's DICOM port (Orthanc 1.9 and newer): its certificate and private key
/// (PEM), the PEM file of the certificates it trusts (Orthanc 1.10 needs it even when callers
/// need no certificate), and whether callers must present one. No certificate: plain TCP.
struct OrthancTls {
    std::string certificateFile;
    std::string keyFile;
    std::string trustedCertificatesFile;
    bool remoteCertificateRequired = false;
    /// Orthanc's C-MOVE and pushes to the known modality go over TLS too.
    bool modalityUsesTls = false;

    bool enabled() const { return !certificateFile.empty(); }
};

class OrthancServer {
public:
    /// Where Orthanc is; empty when it is not installed.
    static std::string executable();

    /// Writes the configuration under `folder` (storage and index there too) and starts
    /// Orthanc as ORTHANC on free loopback ports. It knows one modality, `moveAeTitle` at
    /// 127.0.0.1:`movePort` (the destination of C-MOVE and of pushes). With `tls` enabled, its
    /// DICOM port speaks TLS only. Throws std::runtime_error with Orthanc's log when it does not
    /// answer within 20 s.
    OrthancServer(const std::string& folder, const std::string& moveAeTitle, int movePort,
                  const OrthancTls& tls = {});
    ~OrthancServer();

    /// Starts it again on the same ports and storage (after kill()).
    void start();
    /// SIGKILL: what a crash or a pulled cable looks like to its peers.
    void kill();
    /// SIGSTOP / SIGCONT: a server that stops answering without closing its connections.
    void pause();
    void resume();

    int dicomPort() const { return m_dicomPort; }
    int httpPort() const { return m_httpPort; }
    pid_t pid() const { return m_pid; }
    std::string address() const; ///< ORTHANC@127.0.0.1:port

    /// A free TCP port on loopback (bound and released, so there is a small race).
    static int freePort();

private:
    std::string m_folder;
    int m_dicomPort = 0;
    int m_httpPort = 0;
    pid_t m_pid = -1;
};

} // namespace radiolens::test
