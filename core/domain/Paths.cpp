#include "core/domain/Paths.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

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

} // namespace radiolens
