#include "core/domain/EventLog.h"

#include "core/domain/Paths.h"
#include "core/domain/Sha256.h"

#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <regex>

namespace radiolens {

namespace {

constexpr off_t kRotateBytes = 5 * 1000 * 1000;

std::string token(const char* kind, const std::string& value, const std::string& suffix = {}) {
    return std::string("<") + kind + ":" + Sha256::ofText(value).substr(0, 12) + suffix + ">";
}

std::string nowText() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const int millis =
        int(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
            1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[40];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", text, millis);
    return out;
}

/// Replaces every match of `pattern` in `text` by `make(match)`.
template <typename Make>
std::string replaceAll(const std::string& text, const std::regex& pattern, Make make) {
    std::string out;
    auto begin = std::sregex_iterator(text.begin(), text.end(), pattern);
    std::size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
        out += text.substr(last, std::size_t(it->position()) - last);
        out += make(it->str());
        last = std::size_t(it->position() + it->length());
    }
    return out + text.substr(last);
}

// Crash reports: everything the handler uses is prepared before a crash.
char g_crashFolder[4096];
char g_program[64];

void onCrash(int signal) {
    char path[4300];
    std::snprintf(path, sizeof path, "%s/crash-%ld-%d.txt", g_crashFolder, long(std::time(nullptr)),
                  int(getpid()));
    const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        char head[256];
        const int n =
            std::snprintf(head, sizeof head, "%s 0.1.0 crashed with signal %d (%s)\nstack:\n",
                          g_program, signal, strsignal(signal));
        if (n > 0) {
            (void)!::write(fd, head, std::size_t(n));
        }
        void* frames[64];
        const int depth = backtrace(frames, 64);
        backtrace_symbols_fd(frames, depth, fd);
        ::close(fd);
    }
    ::signal(signal, SIG_DFL);
    ::raise(signal);
}

} // namespace

std::string eventLogFolder() {
    if (const char* dir = std::getenv("RADIOLENS_LOG_DIR"); dir != nullptr && *dir != '\0') {
        return dir;
    }
    return userDataFolder() + "/logs";
}

std::string scrubForLog(const std::string& text) {
    // Person names as DICOM writes them: family^given^middle^prefix^suffix.
    static const std::regex names(R"([^\s^'"(),:;]*\^[^\s'"(),:;]*)");
    // Absolute paths (up to white space, a quote or a colon that ends the path).
    static const std::regex paths(R"((?:~|/)[^\s'"():;,]*[^\s'"():;,.])");
    // DICOM UIDs: digits in at least five dot-separated components (an IPv4 address, four,
    // stays readable).
    static const std::regex uids(R"(\b[0-9]+(?:\.[0-9]+){4,}\b)");
    // Paths first (a folder may be named after a patient, DOE^JOHN), then what is left.
    std::string out = replaceAll(text, paths, [](const std::string& m) {
        const std::string extension = std::filesystem::path(m).extension().string();
        const bool plain =
            extension.size() <= 8 && extension.find_first_of("^ ") == std::string::npos;
        return token("file", m, plain ? extension : std::string());
    });
    out = replaceAll(out, names, [](const std::string& m) { return token("name", m); });
    return replaceAll(out, uids, [](const std::string& m) { return token("uid", m); });
}

void logEvent(const std::string& source, const std::string& message) {
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    const std::string folder = eventLogFolder();
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    const std::string path = folder + "/radiolens.log";
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && info.st_size > kRotateBytes) {
        std::rename(path.c_str(), (path + ".1").c_str());
    }
    std::string line =
        nowText() + " [" + std::to_string(getpid()) + "] " + source + ": " + scrubForLog(message);
    for (char& c : line) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    line += '\n';
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        (void)!::write(fd, line.data(), line.size());
        ::close(fd);
    }
}

void installCrashReporter(const char* program) {
    const std::string folder = eventLogFolder();
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    std::snprintf(g_crashFolder, sizeof g_crashFolder, "%s", folder.c_str());
    std::snprintf(g_program, sizeof g_program, "%s", program);
    void* warm[1];
    backtrace(warm, 1); // loads libgcc now, not in the handler
    for (int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
        struct sigaction action {};
        action.sa_handler = onCrash;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESETHAND;
        sigaction(signal, &action, nullptr);
    }
}

} // namespace radiolens
