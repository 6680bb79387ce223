// radiolens-jpeg2000: decodes JPEG 2000 DICOM files with GDCM for Radiolens, in a process of its
// own (Jpeg2000Process.h says why). Started by Radiolens with a socket on file descriptor 3;
// reads requests from it and answers on it until the other end closes:
//
//   request:  u32 path length, path bytes
//   answer:   i32 status; 0: u64 bytes, i32 planar configuration, char[32] photometric,
//             the bytes; otherwise: u32 length, the reason
//
// Integers in this machine's byte order (the two ends are one build on one machine).

#include "core/dicom/GdcmPlugin.h"
#include "core/dicom/SocketTransfer.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

constexpr int kSocket = 3;

bool readAll(void* data, std::size_t size) {
    return radiolens::receiveAll(kSocket, data, size);
}

bool writeAll(const void* data, std::size_t size) {
    return radiolens::sendAll(kSocket, data, size);
}

} // namespace

int main() {
    // Nothing GDCM might print may reach Radiolens's terminal as if it were Radiolens's.
    std::freopen("/dev/null", "w", stdout);
    for (;;) {
        std::uint32_t length = 0;
        if (!readAll(&length, sizeof length) || length == 0 || length > 65536) {
            return 0; // Radiolens closed the socket (or sent nonsense): done
        }
        std::string path(length, '\0');
        if (!readAll(path.data(), length)) {
            return 0;
        }
        RadiolensDecodedPixels decoded{};
        char error[256] = {0};
        const std::int32_t status =
            radiolens_gdcm_decode(path.c_str(), &decoded, error, int(sizeof error));
        bool sent = writeAll(&status, sizeof status);
        if (status == 0) {
            const std::uint64_t bytes = decoded.bytes;
            const std::int32_t planar = decoded.planarConfiguration;
            sent = sent && writeAll(&bytes, sizeof bytes) && writeAll(&planar, sizeof planar) &&
                   writeAll(decoded.photometric, sizeof decoded.photometric) &&
                   writeAll(decoded.pixels, decoded.bytes);
            radiolens_gdcm_release(&decoded);
        } else {
            const std::uint32_t size = std::uint32_t(std::strlen(error));
            sent = sent && writeAll(&size, sizeof size) && writeAll(error, size);
        }
        if (!sent) {
            return 0;
        }
    }
}
