#include "core/domain/SystemResources.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

namespace radiolens {

std::uint64_t availableMemoryBytes() {
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
        unsigned long long kilobytes = 0;
        if (std::sscanf(line.c_str(), "MemAvailable: %llu kB", &kilobytes) == 1) {
            return std::uint64_t(kilobytes) * 1024u;
        }
    }
    const long pages = sysconf(_SC_AVPHYS_PAGES);
    const long pageSize = sysconf(_SC_PAGESIZE);
    return pages > 0 && pageSize > 0 ? std::uint64_t(pages) * std::uint64_t(pageSize) : 0;
}

std::string byteText(std::uint64_t bytes) {
    char text[32];
    if (bytes >= 1000000000ull) {
        std::snprintf(text, sizeof text, "%.1f GB", double(bytes) / 1e9);
    } else if (bytes >= 1000000ull) {
        std::snprintf(text, sizeof text, "%.0f MB", double(bytes) / 1e6);
    } else {
        std::snprintf(text, sizeof text, "%.0f kB", double(bytes) / 1e3);
    }
    return text;
}

} // namespace radiolens
