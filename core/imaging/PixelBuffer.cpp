#include "core/imaging/PixelBuffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <stdexcept>

namespace radiolens {

namespace {
constexpr std::size_t kHugePage = std::size_t(2) << 20;
}

std::string formatBytes(double bytes) {
    const char* units[] = {"bytes", "KB", "MB", "GB", "TB", "PB"};
    int u = 0;
    while (bytes >= 1000.0 && u < 5) {
        bytes /= 1000.0;
        ++u;
    }
    char text[64];
    std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return text;
}

std::size_t PixelBuffer::physicalMemory() {
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long pageSize = sysconf(_SC_PAGESIZE);
    return pages > 0 && pageSize > 0 ? std::size_t(pages) * std::size_t(pageSize) : 0;
}

std::shared_ptr<PixelBuffer> PixelBuffer::allocate(std::size_t bytes) {
    const std::size_t physical = physicalMemory();
    if (physical != 0 && bytes > physical) {
        throw std::runtime_error("image needs " + formatBytes(double(bytes)) +
                                 ", more than this machine's memory (" +
                                 formatBytes(double(physical)) + ")");
    }
    const std::size_t request = bytes == 0 ? 1 : bytes;
    // Map 2 MiB more than asked so that the block can start on a huge-page boundary.
    const std::size_t mappingSize = request >= kHugePage ? request + kHugePage : request;
    void* mapping =
        mmap(nullptr, mappingSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
        throw std::runtime_error("could not allocate " + formatBytes(double(bytes)) +
                                 " for the image");
    }
    void* data = mapping;
    if (request >= kHugePage) {
        const auto address = reinterpret_cast<std::uintptr_t>(mapping);
        const std::uintptr_t aligned = (address + kHugePage - 1) & ~(kHugePage - 1);
        data = reinterpret_cast<void*>(aligned);
        const std::size_t usable = ((request + kHugePage - 1) / kHugePage) * kHugePage;
        madvise(data, std::min(usable, mappingSize - (aligned - address)), MADV_HUGEPAGE);
    }
    return std::shared_ptr<PixelBuffer>(new PixelBuffer(mapping, mappingSize, data, bytes));
}

PixelBuffer::PixelBuffer(void* mapping, std::size_t mappingSize, void* data, std::size_t size)
    : m_mapping(mapping)
    , m_mappingSize(mappingSize)
    , m_data(data)
    , m_size(size) {}

PixelBuffer::~PixelBuffer() {
    if (m_mapping != nullptr) {
        munmap(m_mapping, m_mappingSize);
    }
}

} // namespace radiolens
