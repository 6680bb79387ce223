#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace radiolens {

/// SHA-256 (FIPS 180-4), for the hash of model weights in a model card.
class Sha256 {
public:
    Sha256();
    void update(const void* data, std::size_t size);
    /// The digest as 64 lower-case hex digits; the object is spent afterwards.
    std::string hexDigest();

    /// The digest of `text`.
    static std::string ofText(const std::string& text);
    /// The digest of a whole file. Throws std::runtime_error naming the file if it cannot be read.
    static std::string ofFile(const std::string& path);

private:
    void block(const std::uint8_t* p);

    std::uint32_t m_state[8];
    std::uint8_t m_buffer[64];
    std::size_t m_buffered = 0;
    std::uint64_t m_length = 0; ///< bytes
};

} // namespace radiolens
