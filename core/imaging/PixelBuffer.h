#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace radiolens {

/// One contiguous, zero-filled block of memory for a whole image or volume.
///
/// Fresh memory is expensive here (about 25 us per 4 KiB page on first touch, DESIGN.md
/// section 5), so a volume is allocated once, 2 MiB aligned, and the kernel is asked for
/// transparent huge pages; decoders write straight into it. Not copyable; share it through
/// std::shared_ptr. The bytes may be written by several threads at once as long as they write
/// disjoint ranges.
class PixelBuffer {
public:
    /// Allocates `bytes` (zero-filled). Throws std::runtime_error naming the size when the
    /// request exceeds the machine's physical memory or the allocation fails.
    static std::shared_ptr<PixelBuffer> allocate(std::size_t bytes);

    ~PixelBuffer();
    PixelBuffer(const PixelBuffer&) = delete;
    PixelBuffer& operator=(const PixelBuffer&) = delete;

    void* data() { return m_data; }
    const void* data() const { return m_data; }
    std::size_t size() const { return m_size; }

    /// Physical memory of this machine in bytes.
    static std::size_t physicalMemory();

private:
    PixelBuffer(void* mapping, std::size_t mappingSize, void* data, std::size_t size);

    void* m_mapping = nullptr;
    std::size_t m_mappingSize = 0;
    void* m_data = nullptr;
    std::size_t m_size = 0;
};

/// "73.4 MB", "1.2 GB": sizes in messages.
std::string formatBytes(double bytes);

} // namespace radiolens
