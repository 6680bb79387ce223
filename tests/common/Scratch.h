#pragma once
// A fresh, empty scratch folder for one test, inside the process's private TEST_TMPDIR
// (PrivateTempDir.cpp), which goes when the test process ends.

#include <cstdlib>
#include <filesystem>
#include <string>

namespace radiolens::test {

/// TEST_TMPDIR/name, emptied and created.
inline std::filesystem::path scratch(const std::string& name) {
    const char* base = std::getenv("TEST_TMPDIR");
    const std::filesystem::path dir = std::filesystem::path(base ? base : "/tmp") / name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

} // namespace radiolens::test
