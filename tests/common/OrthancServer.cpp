#include "tests/common/OrthancServer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace radiolens::test {

namespace fs = std::filesystem;

std::string OrthancServer::executable() {
    for (const char* path : {"/usr/sbin/Orthanc", "/usr/bin/Orthanc"}) {
        if (access(path, X_OK) == 0) {
            return path;
        }
    }
    return {};
}

int OrthancServer::freePort() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t size = sizeof address;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
        throw std::runtime_error("no free TCP port on loopback");
    }
    const int port = ntohs(address.sin_port);
    close(fd);
    return port;
}

namespace {

bool portOpen(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(std::uint16_t(port));
    const bool open = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    close(fd);
    return open;
}

} // namespace

OrthancServer::OrthancServer(const std::string& folder, const std::string& moveAeTitle,
                             int movePort, const OrthancTls& tls)
    : m_folder(folder)
    , m_dicomPort(freePort())
    , m_httpPort(freePort()) {
    if (executable().empty()) {
        throw std::runtime_error("Orthanc is not installed (apt-get install orthanc)");
    }
    fs::create_directories(fs::path(folder) / "storage");
    std::ofstream config(fs::path(folder) / "orthanc.json");
    config << "{\n"
           << "  \"Name\": \"radiolens-test\",\n"
           << "  \"StorageDirectory\": \"" << folder << "/storage\",\n"
           << "  \"IndexDirectory\": \"" << folder << "/storage\",\n"
           << "  \"DicomAet\": \"ORTHANC\",\n"
           << "  \"DicomPort\": " << m_dicomPort << ",\n"
           << "  \"HttpPort\": " << m_httpPort << ",\n"
           << "  \"RemoteAccessAllowed\": false,\n"
           << "  \"AuthenticationEnabled\": false,\n"
           << "  \"DicomCheckCalledAet\": true,\n"
           << "  \"DicomAlwaysAllowEcho\": true,\n"
           << "  \"DicomAlwaysAllowStore\": true,\n"
           << "  \"DicomAlwaysAllowFind\": true,\n"
           << "  \"DicomAlwaysAllowGet\": true,\n"
           << "  \"DicomAlwaysAllowMove\": true,\n"
           << "  \"DicomModalities\": { \"radiolens\": { \"AET\": \"" << moveAeTitle
           << "\", \"Host\": \"127.0.0.1\", \"Port\": " << movePort
           << ", \"UseDicomTls\": " << (tls.modalityUsesTls ? "true" : "false") << " } },\n";
    if (tls.enabled()) {
        config << "  \"DicomTlsEnabled\": true,\n"
               << "  \"DicomTlsCertificate\": \"" << tls.certificateFile << "\",\n"
               << "  \"DicomTlsPrivateKey\": \"" << tls.keyFile << "\",\n"
               << "  \"DicomTlsTrustedCertificates\": \"" << tls.trustedCertificatesFile << "\",\n"
               << "  \"DicomTlsRemoteCertificateRequired\": "
               << (tls.remoteCertificateRequired ? "true" : "false") << ",\n";
    }
    config << "  \"Plugins\": []\n"
           << "}\n";
    config.close();
    start();
}

OrthancServer::~OrthancServer() {
    kill();
}

std::string OrthancServer::address() const {
    return "ORTHANC@127.0.0.1:" + std::to_string(m_dicomPort);
}

void OrthancServer::start() {
    if (m_pid > 0) {
        return;
    }
    const std::string log = m_folder + "/orthanc.log";
    const std::string config = m_folder + "/orthanc.json";
    const std::string program = executable();
    m_pid = fork();
    if (m_pid == 0) {
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(program.c_str(), program.c_str(), config.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!portOpen(m_dicomPort)) {
        int status = 0;
        if (waitpid(m_pid, &status, WNOHANG) == m_pid ||
            std::chrono::steady_clock::now() > deadline) {
            std::ifstream in(log);
            std::stringstream text;
            text << in.rdbuf();
            ::kill(m_pid, SIGKILL);
            waitpid(m_pid, &status, 0);
            m_pid = -1;
            throw std::runtime_error("Orthanc did not start: " + text.str());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void OrthancServer::kill() {
    if (m_pid <= 0) {
        return;
    }
    ::kill(m_pid, SIGCONT);
    ::kill(m_pid, SIGKILL);
    int status = 0;
    waitpid(m_pid, &status, 0);
    m_pid = -1;
}

void OrthancServer::pause() {
    ::kill(m_pid, SIGSTOP);
}

void OrthancServer::resume() {
    ::kill(m_pid, SIGCONT);
}

} // namespace radiolens::test
