// Gives every test process its own scratch folder. ctest runs each discovered test as its own
// process, two at a time in CI, so tests of one fixture run side by side; with the shared /tmp/
// they would write and delete each other's files. GoogleTest's TempDir() honours TEST_TMPDIR, so
// setting it before any test runs is enough; the folder goes when the process ends.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace {

class PrivateTempDir {
public:
    PrivateTempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "radiolens-test-XXXXXX").string();
        if (::mkdtemp(pattern.data()) != nullptr) {
            m_folder = pattern;
            ::setenv("TEST_TMPDIR", m_folder.c_str(), 1);
        }
    }
    ~PrivateTempDir() {
        if (!m_folder.empty()) {
            std::error_code ignored;
            std::filesystem::remove_all(m_folder, ignored);
        }
    }
    PrivateTempDir(const PrivateTempDir&) = delete;
    PrivateTempDir& operator=(const PrivateTempDir&) = delete;

private:
    std::string m_folder;
};

const PrivateTempDir privateTempDir;

} // namespace
