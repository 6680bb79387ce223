// The operational log carries no patient-identifying value (issue 9): paths, UIDs and person
// names become tokens; a crash leaves a report of code addresses only.

#include "core/domain/EventLog.h"
#include "tests/common/Scratch.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;
using namespace radiolens;

TEST(EventLog, PathsUidsAndNamesBecomeTokensAndTheRestStaysReadable) {
    const std::string message =
        "/data/patients/DOE^JOHN/IM0001.dcm: PatientName Doe^John in study "
        "1.2.840.113619.2.55.3.604688119 from ORTHANC@127.0.0.1:4242 after 12 of 28 instances";
    const std::string scrubbed = scrubForLog(message);
    for (const char* leaked :
         {"DOE", "JOHN", "Doe", "John", "patients", "IM0001", "1.2.840.113619.2.55.3.604688119"}) {
        EXPECT_EQ(scrubbed.find(leaked), std::string::npos) << leaked << " in: " << scrubbed;
    }
    for (const char* kept :
         {"ORTHANC@127.0.0.1:4242", "after 12 of 28 instances", ".dcm>", "<uid:", "<name:"}) {
        EXPECT_NE(scrubbed.find(kept), std::string::npos) << kept << " not in: " << scrubbed;
    }
    // The same value gives the same token, so lines can be followed.
    EXPECT_EQ(scrubForLog("/a/b.dcm"), scrubForLog("/a/b.dcm"));
    EXPECT_NE(scrubForLog("/a/b.dcm"), scrubForLog("/a/c.dcm"));
}

TEST(EventLog, LinesGoToTheLogFolderOneEach) {
    const fs::path dir = test::scratch("event-log");
    setenv("RADIOLENS_LOG_DIR", dir.c_str(), 1);
    logEvent("test", "first line\nwith a break");
    logEvent("test", "second line for /home/ann/DOE^JANE/x.dcm");
    std::ifstream in(dir / "radiolens.log");
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
    EXPECT_NE(text.find("test: first line with a break"), std::string::npos) << text;
    EXPECT_EQ(text.find("JANE"), std::string::npos) << text;
    EXPECT_EQ(text.find("ann"), std::string::npos) << text;
}

TEST(EventLog, ACrashLeavesAReportWithoutData) {
    const fs::path dir = test::scratch("crash-report");
    setenv("RADIOLENS_LOG_DIR", dir.c_str(), 1);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        installCrashReporter("crash-test");
        volatile int* nowhere = nullptr;
        *nowhere = 42; // SIGSEGV
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the crash was swallowed";
    EXPECT_EQ(WTERMSIG(status), SIGSEGV);
    int reports = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().filename().string().rfind("crash-", 0) == 0) {
            ++reports;
            std::ifstream in(entry.path());
            const std::string text((std::istreambuf_iterator<char>(in)), {});
            EXPECT_NE(text.find("crash-test 0.1.0 crashed with signal 11"), std::string::npos)
                << text;
            EXPECT_NE(text.find("stack:"), std::string::npos) << text;
        }
    }
    EXPECT_EQ(reports, 1);
}
