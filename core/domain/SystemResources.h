#pragma once

#include <cstdint>
#include <string>

namespace radiolens {

/// Memory the system can give this process now without swapping: /proc/meminfo's
/// MemAvailable (Linux), else the physical pages free. In bytes; 0 when it cannot be read.
std::uint64_t availableMemoryBytes();

/// "1.5 GB", "730 MB", "12 kB" for a number of bytes (decimal units), for messages.
std::string byteText(std::uint64_t bytes);

} // namespace radiolens
