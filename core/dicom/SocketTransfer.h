#pragma once
// Internal to core/dicom: exact-size transfers on a stream socket, for the two ends of the JPEG
// 2000 worker's socket (Jpeg2000Process.cpp, Jpeg2000Worker.cpp).

#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <cstddef>

namespace radiolens {

/// Moves exactly `size` bytes at `data` with `step(pointer, count)` (a send or a recv that
/// returns what it moved, or -1 with errno), repeating partial and interrupted steps. False
/// when the other end is gone (0 moved, or an error).
template <typename Byte, typename Step>
bool transferAll(Byte* data, std::size_t size, Step&& step) {
    while (size > 0) {
        const ssize_t n = step(data, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        size -= std::size_t(n);
    }
    return true;
}

/// Sends exactly `size` bytes (no SIGPIPE when the other end is gone: false instead).
inline bool sendAll(int socket, const void* data, std::size_t size) {
    return transferAll(
        static_cast<const char*>(data), size,
        [socket](const char* p, std::size_t n) { return ::send(socket, p, n, MSG_NOSIGNAL); });
}

/// Receives exactly `size` bytes.
inline bool receiveAll(int socket, void* data, std::size_t size) {
    return transferAll(static_cast<char*>(data), size,
                       [socket](char* p, std::size_t n) { return ::recv(socket, p, n, 0); });
}

} // namespace radiolens
