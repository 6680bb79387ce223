#pragma once

#include "core/imaging/Volume.h"

#include <cstddef>
#include <list>
#include <memory>
#include <string>

namespace radiolens {

/// Recently opened volumes, kept so that reopening a series is instant, up to a limit in bytes.
///
/// Least recently used volumes go first. The most recent one always stays, even above the
/// limit. A volume a viewport still shows stays alive through the viewport's own reference
/// when the cache lets go of it. Not thread-safe: use it from one thread (the GUI).
class VolumeCache {
public:
    explicit VolumeCache(std::size_t limitBytes)
        : m_limit(limitBytes) {}

    void setLimit(std::size_t limitBytes);
    std::size_t limit() const { return m_limit; }
    /// Bytes of the pixel buffers the cache holds.
    std::size_t bytes() const { return m_bytes; }
    std::size_t size() const { return m_entries.size(); }

    /// The volume stored under `key`, now the most recently used; nullptr when absent.
    std::shared_ptr<const Volume> find(const std::string& key);
    /// Stores `volume` under `key` (replacing what was there) and trims to the limit.
    void insert(const std::string& key, std::shared_ptr<const Volume> volume);
    void remove(const std::string& key);
    void clear();

    /// A sensible default limit for this machine: a quarter of physical memory, at least
    /// 512 MB.
    static std::size_t defaultLimit();

private:
    void trim();

    struct Entry {
        std::string key;
        std::shared_ptr<const Volume> volume;
    };
    std::list<Entry> m_entries; ///< most recently used first
    std::size_t m_limit;
    std::size_t m_bytes = 0;
};

} // namespace radiolens
