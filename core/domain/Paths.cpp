#include "core/domain/Paths.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace fs = std::filesystem;

namespace radiolens {

std::string userDataFolder() {
    const char* xdg = std::getenv("XDG_DATA_HOME");
    if (xdg != nullptr && xdg[0] == '/') {
        return std::string(xdg) + "/Radiolens";
    }
    const char* home = std::getenv("HOME");
    std::string base;
    if (home != nullptr && home[0] != '\0') {
        base = home;
    } else if (const passwd* pw = getpwuid(getuid())) {
        base = pw->pw_dir;
    } else {
        base = "/tmp";
    }
    return base + "/.local/share/Radiolens";
}

std::string demoStudyFolder() {
    return userDataFolder() + "/demo";
}

std::string findPlugin(const std::string& fileName, const char* environmentVariable) {
    if (const char* custom = std::getenv(environmentVariable); custom != nullptr && *custom) {
        return custom;
    }
    std::error_code error;
    const fs::path exe = fs::read_symlink("/proc/self/exe", error);
    const fs::path folder = error ? fs::current_path() : exe.parent_path();
    for (const fs::path& candidate :
         {folder / ".." / "lib" / fileName, folder / ".." / "lib" / "radiolens" / fileName,
          folder / fileName}) {
        if (fs::exists(candidate, error)) {
            return fs::weakly_canonical(candidate, error).string();
        }
    }
    return (folder / ".." / "lib" / fileName).string();
}

std::string readTextFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error(path + ": cannot be read");
    }
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void writeFileAtomically(const std::string& path, const std::string& content) {
    const std::string temporary = path + ".tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw std::runtime_error(path + ": cannot be written");
    }
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n <= 0) {
            ::close(fd);
            std::remove(temporary.c_str());
            throw std::runtime_error(path + ": cannot be written (disk full?)");
        }
        done += std::size_t(n);
    }
    const bool synced = ::fsync(fd) == 0;
    if (::close(fd) != 0 || !synced || std::rename(temporary.c_str(), path.c_str()) != 0) {
        std::remove(temporary.c_str());
        throw std::runtime_error(path + ": cannot be written");
    }
}

void syncToDisk(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw std::runtime_error(path + ": cannot be opened to flush it to disk");
    }
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
        throw std::runtime_error(path + ": cannot be flushed to disk");
    }
}

void publishFolder(const std::string& from, const std::string& to) {
    std::error_code error;
    if (fs::exists(to, error)) {
        throw std::runtime_error(to + ": exists already; choose another folder");
    }
    for (const auto& entry : fs::recursive_directory_iterator(from)) {
        if (entry.is_regular_file()) {
            syncToDisk(entry.path().string());
        }
    }
    syncToDisk(from);
    const fs::path parent = fs::absolute(to).parent_path();
    fs::create_directories(parent, error);
    if (std::rename(from.c_str(), to.c_str()) != 0) {
        throw std::runtime_error("cannot move " + from + " to " + to);
    }
    syncToDisk(parent.string());
}

} // namespace radiolens
