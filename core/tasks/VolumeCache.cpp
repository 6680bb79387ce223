#include "core/tasks/VolumeCache.h"

#include "core/imaging/PixelBuffer.h"

#include <algorithm>

namespace radiolens {

std::size_t VolumeCache::defaultLimit() {
    return std::max<std::size_t>(std::size_t(512) << 20, PixelBuffer::physicalMemory() / 4);
}

void VolumeCache::setLimit(std::size_t limitBytes) {
    m_limit = limitBytes;
    trim();
}

std::shared_ptr<const Volume> VolumeCache::find(const std::string& key) {
    const auto it = std::find_if(m_entries.begin(), m_entries.end(),
                                 [&](const Entry& e) { return e.key == key; });
    if (it == m_entries.end()) {
        return nullptr;
    }
    m_entries.splice(m_entries.begin(), m_entries, it);
    return m_entries.front().volume;
}

void VolumeCache::insert(const std::string& key, std::shared_ptr<const Volume> volume) {
    remove(key);
    m_bytes += volume->byteSize();
    m_entries.push_front({key, std::move(volume)});
    trim();
}

void VolumeCache::remove(const std::string& key) {
    const auto it = std::find_if(m_entries.begin(), m_entries.end(),
                                 [&](const Entry& e) { return e.key == key; });
    if (it != m_entries.end()) {
        m_bytes -= it->volume->byteSize();
        m_entries.erase(it);
    }
}

void VolumeCache::clear() {
    m_entries.clear();
    m_bytes = 0;
}

void VolumeCache::trim() {
    while (m_bytes > m_limit && m_entries.size() > 1) {
        m_bytes -= m_entries.back().volume->byteSize();
        m_entries.pop_back();
    }
}

} // namespace radiolens
