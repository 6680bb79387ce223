#pragma once
// Shared by the libFuzzer harnesses: the product reads files by path, so each input is written
// to a file in a private folder of this process (created on first use, removed at exit). Every
// input gets a new name, so that nothing keyed by path (decoder caches) sees an old input.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace radiolens::fuzz {

/// The private folder of this process: $TMPDIR/radiolens-fuzz-XXXXXX.
inline const std::string& scratchFolder() {
    static const std::string folder = [] {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/radiolens-fuzz-XXXXXX";
        if (mkdtemp(pattern.data()) == nullptr) {
            std::perror("radiolens fuzz: mkdtemp");
            std::abort();
        }
        static const std::string removeAtExit = pattern;
        std::atexit([] {
            std::error_code error;
            std::filesystem::remove_all(removeAtExit, error);
        });
        return pattern;
    }();
    return folder;
}

/// Writes `size` bytes to `path` (replacing it); aborts when the disk refuses, which is not a
/// finding about the product.
inline void writeFile(const std::string& path, const std::uint8_t* data, std::size_t size) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        std::perror(path.c_str());
        std::abort();
    }
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = write(fd, data + done, size - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            std::perror(path.c_str());
            std::abort();
        }
        done += std::size_t(n);
    }
    close(fd);
}

/// The input written as a file named `name` in a new sub-folder of the scratch folder (the
/// previous input's sub-folder is removed first). Returns the file's path.
inline std::string inputFile(const std::uint8_t* data, std::size_t size, const std::string& name) {
    static unsigned long long counter = 0;
    static std::string previous;
    std::error_code error;
    if (!previous.empty()) {
        std::filesystem::remove_all(previous, error);
    }
    previous = scratchFolder() + "/" + std::to_string(++counter);
    std::filesystem::create_directory(previous, error);
    const std::string path = previous + "/" + name;
    writeFile(path, data, size);
    return path;
}

/// Ends the process with a message on stderr: a broken promise of the product's interface that
/// no sanitizer would see (a card that was written but cannot be read back).
[[noreturn]] inline void finding(const std::string& what) {
    std::fprintf(stderr, "\n==radiolens fuzz== %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

} // namespace radiolens::fuzz
