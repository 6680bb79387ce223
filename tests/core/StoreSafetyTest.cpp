// The store when things go wrong (issue 9): a damaged file or an audit log that does not verify
// is refused on open with the reason and left as it is; two processes writing at once lose
// nothing; a backup made while the store is in use is whole, and a restore puts it back after
// checking it, keeping what the store held before.

#include "core/store/AuditLog.h"
#include "core/store/LabelStore.h"
#include "core/store/StudyStore.h"
#include "tests/common/Scratch.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

Label label(const std::string& item, const std::string& cls, const std::string& annotator) {
    Label l;
    l.item = item;
    l.className = cls;
    l.annotator = annotator;
    return l;
}

std::string bytesOf(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Runs SQL on the file as another program would (the audit's triggers dropped first when
/// asked); returns SQLite's error message or "".
std::string sql(const fs::path& path, const std::string& text) {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    char* error = nullptr;
    sqlite3_exec(db, text.c_str(), nullptr, nullptr, &error);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    return message;
}

/// A store with `n` labels, closed (its write-ahead log folded back into the file).
void makeStore(const fs::path& path, int n) {
    {
        StudyStore store(path.string());
        LabelStore labels(store);
        for (int i = 0; i < n; ++i) {
            labels.add(label("1.2.3." + std::to_string(i), i % 2 ? "nodule" : "normal", "ann"));
        }
    }
    sql(path, "PRAGMA wal_checkpoint(TRUNCATE)");
}

} // namespace

TEST(StoreSafety, ADamagedFileIsRefusedOnOpenWithTheReasonAndLeftAsItIs) {
    const fs::path dir = test::scratch("store-damaged");
    const fs::path path = dir / "store.sqlite";
    makeStore(path, 300);
    // A torn write: garbage over whole pages after the first (the file header stays, so the
    // file still looks like SQLite's).
    std::string bytes = bytesOf(path);
    ASSERT_GT(bytes.size(), 6 * 4096u);
    for (std::size_t i = 2 * 4096; i < 5 * 4096; ++i) {
        bytes[i] = char((i * 7919) >> 3);
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    try {
        StudyStore store(path.string());
        FAIL() << "a damaged store was opened";
    } catch (const std::runtime_error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find(path.string() + " is damaged"), std::string::npos) << message;
        EXPECT_NE(message.find("store restore"), std::string::npos) << message;
    }
    EXPECT_EQ(bytesOf(path), bytes) << "the damaged file was written to";
}

TEST(StoreSafety, AnAuditLogThatDoesNotVerifyIsRefusedOnOpenNamingTheEntry) {
    const fs::path dir = test::scratch("store-audit");
    const fs::path path = dir / "store.sqlite";
    makeStore(path, 5);
    ASSERT_EQ(sql(path, "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'mallory' "
                        "WHERE id = 3"),
              "");
    try {
        StudyStore store(path.string());
        FAIL() << "a store whose audit log was edited was opened";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("the audit log does not verify (entry 3"),
                  std::string::npos)
            << e.what();
    }
    // It can still be examined (and restored over).
    StudyStore examined(path.string(), StudyStore::OpenCheck::SkipAudit);
    EXPECT_EQ(AuditLog(examined).verify().firstBadId, 3);
}

TEST(StoreSafety, TwoProcessesWritingAtOnceLoseNothing) {
    const fs::path dir = test::scratch("store-two-writers");
    const fs::path path = dir / "store.sqlite";
    { StudyStore create(path.string()); }
    const int perProcess = 150;
    pid_t children[2];
    for (int c = 0; c < 2; ++c) {
        children[c] = fork();
        ASSERT_GE(children[c], 0);
        if (children[c] == 0) {
            int code = 0;
            try {
                StudyStore store(path.string());
                LabelStore labels(store);
                for (int i = 0; i < perProcess; ++i) {
                    labels.add(label("9." + std::to_string(c) + "." + std::to_string(i), "nodule",
                                     "reader" + std::to_string(c)));
                    Measurement m;
                    m.studyInstanceUid = "9.9";
                    m.seriesInstanceUid = "9.9." + std::to_string(c);
                    m.points = {{0, 0, 0}, {double(i), 0, 0}};
                    store.addMeasurement(m);
                }
            } catch (const std::exception& e) {
                std::fprintf(stderr, "writer %d: %s\n", c, e.what());
                code = 1;
            }
            _exit(code);
        }
    }
    for (const pid_t child : children) {
        int status = 0;
        waitpid(child, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    StudyStore store(path.string());
    EXPECT_EQ(store.integrityCheck(), "ok");
    EXPECT_EQ(LabelStore(store).size(), std::size_t(2 * perProcess));
    EXPECT_EQ(store.measurementsForStudy("9.9").size(), std::size_t(2 * perProcess));
    const AuditVerification audit = AuditLog(store).verify();
    EXPECT_TRUE(audit.ok) << audit.reason;
    EXPECT_EQ(audit.entries, std::size_t(4 * perProcess + 1)); // + the class the first added
}

TEST(StoreSafety, ProcessesCreatingOneNewStoreAtOnceAllOpenIt) {
    // Two processes of a distributed retrain (or two windows opened at once) start on a store
    // that does not exist yet: each must open it, not fail with "database is locked".
    for (int round = 0; round < 5; ++round) {
        const fs::path dir = test::scratch("store-created-at-once-" + std::to_string(round));
        const fs::path path = dir / "store.sqlite";
        int gate[2];
        ASSERT_EQ(pipe(gate), 0);
        std::vector<pid_t> children;
        for (int c = 0; c < 4; ++c) {
            const pid_t child = fork();
            ASSERT_GE(child, 0);
            if (child == 0) {
                close(gate[1]);
                char go = 0;
                const bool started = read(gate[0], &go, 1) == 0; // the parent closed the pipe
                int code = started ? 0 : 2;
                try {
                    StudyStore store(path.string());
                    store.addMeasurement([&] {
                        Measurement m;
                        m.studyInstanceUid = "9.8";
                        m.seriesInstanceUid = "9.8." + std::to_string(c);
                        m.points = {{0, 0, 0}, {1, 0, 0}};
                        return m;
                    }());
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "process %d: %s\n", c, e.what());
                    code = 1;
                }
                _exit(code);
            }
            children.push_back(child);
        }
        close(gate[0]);
        close(gate[1]); // every child starts now
        for (const pid_t child : children) {
            int status = 0;
            waitpid(child, &status, 0);
            EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round;
        }
        StudyStore store(path.string());
        EXPECT_EQ(store.integrityCheck(), "ok");
        EXPECT_EQ(store.measurementsForStudy("9.8").size(), children.size());
    }
}

TEST(StoreSafety, ABackupMadeInUseIsWholeAndARestoreKeepsWhatWasThere) {
    const fs::path dir = test::scratch("store-backup");
    const fs::path path = dir / "store.sqlite";
    makeStore(path, 40);
    StudyStore store(path.string());
    LabelStore labels(store);
    // Another connection holds a read snapshot while the backup runs.
    StudyStore reader(path.string());
    const auto before = LabelStore(reader).current();
    store.backupTo((dir / "backup.sqlite").string());
    labels.add(label("1.2.3.999", "nodule", "bob")); // after the backup
    {
        StudyStore copy((dir / "backup.sqlite").string());
        EXPECT_EQ(copy.integrityCheck(), "ok");
        EXPECT_EQ(LabelStore(copy).current().size(), before.size());
    }
    EXPECT_FALSE(fs::exists(dir / "backup.sqlite-wal")) << "a backup is one file";

    const std::string kept = StudyStore::restore((dir / "backup.sqlite").string(), path.string());
    // The open connections see the restored content; what was there is kept beside it.
    EXPECT_EQ(LabelStore(store).current().size(), before.size());
    EXPECT_EQ(LabelStore(reader).current().size(), before.size());
    {
        StudyStore previous(kept);
        EXPECT_EQ(LabelStore(previous).current().size(), before.size() + 1);
    }
    EXPECT_TRUE(AuditLog(store).verify().ok);
    labels.add(label("1.2.3.1000", "normal", "bob")); // the store goes on working
    EXPECT_EQ(store.integrityCheck(), "ok");

    // A backup that is not whole, or not a Radiolens store, is refused and nothing changes.
    const std::size_t now = LabelStore(store).size();
    std::ofstream(dir / "junk.sqlite") << "not a database at all, but long enough to look";
    EXPECT_THROW(StudyStore::restore((dir / "junk.sqlite").string(), path.string()),
                 std::runtime_error);
    EXPECT_THROW(StudyStore::restore((dir / "missing.sqlite").string(), path.string()),
                 std::runtime_error);
    EXPECT_EQ(LabelStore(store).size(), now);
}
