// The local SQLite store: measurements survive a restart and a killed process with every bit of
// their coordinates, recent studies behave like File > Recent, and files that are not ours are
// refused and left alone.

#include "core/domain/Paths.h"
#include "core/store/StudyStore.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

const MeasurementKind kAllKinds[] = {MeasurementKind::Distance, MeasurementKind::Angle,
                                     MeasurementKind::Rectangle, MeasurementKind::Ellipse};

/// Coordinates (mm) that a decimal or REAL column would not keep exactly.
const double kAwkward[] = {0.1 + 0.2,
                           -1e-300,
                           123456.789012345678,
                           -0.0,
                           std::numeric_limits<double>::denorm_min(),
                           std::nextafter(1.0, 2.0),
                           -1.7976931348623157e308,
                           1.0 / 3.0,
                           -2.5e-7};

std::uint64_t bits(double value) {
    std::uint64_t result = 0;
    std::memcpy(&result, &value, sizeof result);
    return result;
}

void expectSameBits(const Vec3& expected, const Vec3& actual) {
    EXPECT_EQ(bits(expected.x), bits(actual.x)) << expected.x << " came back as " << actual.x;
    EXPECT_EQ(bits(expected.y), bits(actual.y)) << expected.y << " came back as " << actual.y;
    EXPECT_EQ(bits(expected.z), bits(actual.z)) << expected.z << " came back as " << actual.z;
}

/// A measurement of `kind` whose coordinates are awkward doubles; `seed` varies them.
Measurement makeMeasurement(MeasurementKind kind, const std::string& study,
                            const std::string& series, int seed) {
    Measurement m;
    m.studyInstanceUid = study;
    m.seriesInstanceUid = series;
    m.kind = kind;
    const std::size_t n = std::size(kAwkward);
    for (std::size_t i = 0; i < pointCount(kind); ++i) {
        const std::size_t k = static_cast<std::size_t>(seed) + 3 * i;
        m.points.push_back({kAwkward[k % n], kAwkward[(k + 1) % n], kAwkward[(k + 2) % n]});
    }
    m.axisU = {0.0, std::sqrt(0.5), -std::sqrt(0.5)};
    m.axisV = {-0.0, 0.1 + 0.7, 1e-300};
    m.label = "lesion " + std::to_string(seed) + " \xC3\xA9";
    m.createdAt = 1700000000 + seed;
    return m;
}

void expectSameMeasurement(const Measurement& expected, const Measurement& actual) {
    EXPECT_EQ(expected.studyInstanceUid, actual.studyInstanceUid);
    EXPECT_EQ(expected.seriesInstanceUid, actual.seriesInstanceUid);
    EXPECT_EQ(toString(expected.kind), toString(actual.kind));
    EXPECT_EQ(expected.label, actual.label);
    EXPECT_EQ(expected.createdAt, actual.createdAt);
    ASSERT_EQ(expected.points.size(), actual.points.size());
    for (std::size_t i = 0; i < expected.points.size(); ++i) {
        expectSameBits(expected.points[i], actual.points[i]);
    }
    expectSameBits(expected.axisU, actual.axisU);
    expectSameBits(expected.axisV, actual.axisV);
}

RecentStudy makeRecent(std::vector<std::string> paths, const std::string& label,
                       std::int64_t openedAt) {
    RecentStudy r;
    r.paths = std::move(paths);
    r.label = label;
    r.openedAt = openedAt;
    return r;
}

std::vector<std::string> labelsOf(const std::vector<RecentStudy>& studies) {
    std::vector<std::string> labels;
    for (const RecentStudy& s : studies) {
        labels.push_back(s.label);
    }
    return labels;
}

std::string readBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writeBytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

/// What the constructor threw, or "" when it opened the file.
std::string openError(const std::string& path) {
    try {
        StudyStore store(path);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

std::int64_t now() {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

class StudyStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_folder = ::testing::TempDir() + "radiolens-store-" + std::to_string(getpid()) + "-" +
                   info->name();
        fs::remove_all(m_folder);
        // A folder that does not exist yet: the store creates it.
        m_path = m_folder + "/nested/radiolens.sqlite";
    }
    void TearDown() override { fs::remove_all(m_folder); }

    std::string m_folder;
    std::string m_path;
};

} // namespace

TEST_F(StudyStoreTest, CreatesTheCurrentSchemaInWalModeAndItsFolder) {
    StudyStore store(m_path);
    EXPECT_TRUE(fs::is_regular_file(m_path));
    EXPECT_EQ(store.schemaVersion(), StudyStore::currentSchemaVersion);
    EXPECT_EQ(store.path(), m_path);
    store.addMeasurement(makeMeasurement(MeasurementKind::Distance, "1.2", "1.2.3", 0));
    // Write-ahead log: the commit is in the -wal file while the store is open.
    EXPECT_TRUE(fs::exists(m_path + "-wal"));

    StudyStore again(m_path);
    EXPECT_EQ(again.schemaVersion(), StudyStore::currentSchemaVersion);
    EXPECT_EQ(StudyStore::defaultPath(), userDataFolder() + "/radiolens.sqlite");
}

TEST_F(StudyStoreTest, MeasurementsOfEveryKindRoundTripBitExactlyInOrder) {
    StudyStore store(m_path);
    const std::string study = "1.2.840.1";
    const std::string seriesA = "1.2.840.1.1";
    const std::string seriesB = "1.2.840.1.2";
    std::vector<Measurement> added;
    int seed = 0;
    // Interleave the series and kinds, so that order by id differs from order by kind or series.
    for (int round = 0; round < 2; ++round) {
        for (MeasurementKind kind : kAllKinds) {
            Measurement m = makeMeasurement(kind, study, seed % 3 == 0 ? seriesB : seriesA, seed);
            ++seed;
            m.id = store.addMeasurement(m);
            if (!added.empty()) {
                EXPECT_GT(m.id, added.back().id);
            }
            added.push_back(m);
        }
    }
    const Measurement other = makeMeasurement(MeasurementKind::Angle, "9.9", "9.9.1", 7);
    const std::int64_t otherId = store.addMeasurement(other);

    for (const std::string& series : {seriesA, seriesB}) {
        SCOPED_TRACE(series);
        std::vector<Measurement> expected;
        for (const Measurement& m : added) {
            if (m.seriesInstanceUid == series) {
                expected.push_back(m);
            }
        }
        const std::vector<Measurement> found = store.measurementsForSeries(series);
        ASSERT_EQ(found.size(), expected.size());
        for (std::size_t i = 0; i < found.size(); ++i) {
            EXPECT_EQ(found[i].id, expected[i].id);
            expectSameMeasurement(expected[i], found[i]);
        }
    }

    const std::vector<Measurement> wholeStudy = store.measurementsForStudy(study);
    ASSERT_EQ(wholeStudy.size(), added.size());
    for (std::size_t i = 0; i < added.size(); ++i) {
        EXPECT_EQ(wholeStudy[i].id, added[i].id);
        expectSameMeasurement(added[i], wholeStudy[i]);
    }

    const std::vector<Measurement> otherStudy = store.measurementsForStudy("9.9");
    ASSERT_EQ(otherStudy.size(), 1u);
    EXPECT_EQ(otherStudy[0].id, otherId);
    expectSameMeasurement(other, otherStudy[0]);
    EXPECT_TRUE(store.measurementsForSeries("no.such.series").empty());
    EXPECT_TRUE(store.measurementsForStudy("no.such.study").empty());
}

TEST_F(StudyStoreTest, CreationTimeDefaultsToNow) {
    StudyStore store(m_path);
    Measurement m = makeMeasurement(MeasurementKind::Ellipse, "1", "1.1", 3);
    m.createdAt = 0;
    const std::int64_t before = now();
    store.addMeasurement(m);
    const std::int64_t after = now();
    const std::vector<Measurement> found = store.measurementsForSeries("1.1");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_GE(found[0].createdAt, before);
    EXPECT_LE(found[0].createdAt, after);
}

TEST_F(StudyStoreTest, UpdatesAndRemovesMeasurements) {
    StudyStore store(m_path);
    std::vector<Measurement> added;
    int seed = 0;
    for (MeasurementKind kind : kAllKinds) {
        Measurement m = makeMeasurement(kind, "1", "1.1", seed++);
        m.id = store.addMeasurement(m);
        added.push_back(m);
    }

    for (Measurement& m : added) {
        m.label = "edited " + toString(m.kind);
        for (Vec3& p : m.points) {
            p = {p.y + 0.1, -p.x, p.z * 0.5};
        }
        m.axisU = {1e-10, 0.3, 0.1 + 0.2};
        store.updateMeasurement(m);
    }
    std::vector<Measurement> found = store.measurementsForSeries("1.1");
    ASSERT_EQ(found.size(), added.size());
    for (std::size_t i = 0; i < added.size(); ++i) {
        EXPECT_EQ(found[i].id, added[i].id);
        expectSameMeasurement(added[i], found[i]);
    }

    // UIDs and the creation time are not changed by an update.
    Measurement moved = added[0];
    moved.seriesInstanceUid = "elsewhere";
    moved.createdAt = 5;
    store.updateMeasurement(moved);
    found = store.measurementsForSeries("1.1");
    ASSERT_EQ(found.size(), added.size());
    EXPECT_EQ(found[0].createdAt, added[0].createdAt);

    Measurement missing = added[1];
    missing.id = added.back().id + 1000;
    EXPECT_THROW(store.updateMeasurement(missing), std::runtime_error);
    Measurement otherKind = added[0]; // a distance, saved as one
    otherKind.kind = MeasurementKind::Rectangle;
    EXPECT_THROW(store.updateMeasurement(otherKind), std::invalid_argument);

    store.removeMeasurement(added[1].id);
    store.removeMeasurement(added[1].id);            // already gone: ignored
    store.removeMeasurement(added.back().id + 1000); // never existed: ignored
    found = store.measurementsForStudy("1");
    ASSERT_EQ(found.size(), added.size() - 1);
    EXPECT_EQ(found[0].id, added[0].id);
    EXPECT_EQ(found[1].id, added[2].id);
    EXPECT_EQ(found[2].id, added[3].id);
    EXPECT_THROW(store.updateMeasurement(added[1]), std::runtime_error);
}

TEST_F(StudyStoreTest, RejectsWrongPointCountsAndNonFiniteCoordinates) {
    StudyStore store(m_path);
    int seed = 0;
    for (MeasurementKind kind : kAllKinds) {
        SCOPED_TRACE(toString(kind));
        const Measurement valid = makeMeasurement(kind, "1", "1.1", seed++);
        const std::int64_t id = store.addMeasurement(valid);
        for (std::size_t count : {std::size_t{0}, std::size_t{1}, pointCount(kind) - 1,
                                  pointCount(kind) + 1, std::size_t{4}}) {
            if (count == pointCount(kind)) {
                continue;
            }
            Measurement wrong = valid;
            wrong.points.assign(count, Vec3{1.0, 2.0, 3.0});
            EXPECT_THROW(store.addMeasurement(wrong), std::invalid_argument) << count;
            wrong.id = id;
            EXPECT_THROW(store.updateMeasurement(wrong), std::invalid_argument) << count;
        }
        Measurement notFinite = valid;
        notFinite.points[1].y = std::numeric_limits<double>::quiet_NaN();
        EXPECT_THROW(store.addMeasurement(notFinite), std::invalid_argument);
        notFinite = valid;
        notFinite.axisV.x = std::numeric_limits<double>::infinity();
        EXPECT_THROW(store.addMeasurement(notFinite), std::invalid_argument);
    }
    // Only the valid ones were saved, unchanged.
    const std::vector<Measurement> found = store.measurementsForSeries("1.1");
    ASSERT_EQ(found.size(), std::size(kAllKinds));
    for (std::size_t i = 0; i < found.size(); ++i) {
        expectSameMeasurement(makeMeasurement(kAllKinds[i], "1", "1.1", static_cast<int>(i)),
                              found[i]);
    }
}

TEST_F(StudyStoreTest, ReopenedStoreFindsEverything) {
    std::vector<Measurement> added;
    {
        StudyStore store(m_path);
        int seed = 0;
        for (MeasurementKind kind : kAllKinds) {
            Measurement m = makeMeasurement(kind, "1", "1.1", seed++);
            m.id = store.addMeasurement(m);
            added.push_back(m);
        }
        store.addRecent(makeRecent({"/data/a"}, "A", 100));
        store.addRecent(makeRecent({"/data/b/DICOMDIR", "/data/b/extra.dcm"}, "B", 200));
    }
    StudyStore restarted(m_path);
    EXPECT_EQ(restarted.schemaVersion(), StudyStore::currentSchemaVersion);
    const std::vector<Measurement> found = restarted.measurementsForStudy("1");
    ASSERT_EQ(found.size(), added.size());
    for (std::size_t i = 0; i < added.size(); ++i) {
        EXPECT_EQ(found[i].id, added[i].id);
        expectSameMeasurement(added[i], found[i]);
    }
    const std::vector<RecentStudy> recent = restarted.recentStudies();
    ASSERT_EQ(recent.size(), 2u);
    EXPECT_EQ(recent[0].label, "B");
    EXPECT_EQ(recent[0].paths, (std::vector<std::string>{"/data/b/DICOMDIR", "/data/b/extra.dcm"}));
    EXPECT_EQ(recent[0].openedAt, 200);
    EXPECT_EQ(recent[1].paths, std::vector<std::string>{"/data/a"});
    // Ids continue after the restart and are never reused.
    const std::int64_t next =
        restarted.addMeasurement(makeMeasurement(MeasurementKind::Distance, "1", "1.1", 9));
    EXPECT_GT(next, added.back().id);
}

TEST_F(StudyStoreTest, TwoStoresOnOneFileSeeEachOthersChanges) {
    StudyStore first(m_path);
    StudyStore second(m_path);
    const Measurement a = makeMeasurement(MeasurementKind::Angle, "1", "1.1", 1);
    const std::int64_t idA = first.addMeasurement(a);
    std::vector<Measurement> seen = second.measurementsForSeries("1.1");
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].id, idA);
    expectSameMeasurement(a, seen[0]);

    const Measurement b = makeMeasurement(MeasurementKind::Rectangle, "1", "1.1", 2);
    const std::int64_t idB = second.addMeasurement(b);
    EXPECT_NE(idA, idB);
    seen = first.measurementsForSeries("1.1");
    ASSERT_EQ(seen.size(), 2u);
    expectSameMeasurement(b, seen[1]);

    second.removeMeasurement(idA);
    EXPECT_EQ(first.measurementsForSeries("1.1").size(), 1u);
}

TEST_F(StudyStoreTest, MeasurementSurvivesAProcessKilledRightAfterSaving) {
    const Measurement m = makeMeasurement(MeasurementKind::Angle, "1", "1.1", 4);
    int channel[2];
    ASSERT_EQ(pipe(channel), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // The child: create the store, save, report the id, die without any clean-up.
        close(channel[0]);
        try {
            StudyStore store(m_path);
            const std::int64_t id = store.addMeasurement(m);
            store.addRecent(makeRecent({"/data/killed"}, "killed", 300));
            if (write(channel[1], &id, sizeof id) == static_cast<ssize_t>(sizeof id)) {
                kill(getpid(), SIGKILL);
            }
        } catch (...) {
        }
        _exit(2);
    }
    close(channel[1]);
    std::int64_t id = 0;
    const ssize_t received = read(channel[0], &id, sizeof id);
    close(channel[0]);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child did not save and kill itself, status " << status;
    ASSERT_EQ(received, static_cast<ssize_t>(sizeof id));
    // The child never closed the database: its changes are still only in the log.
    EXPECT_TRUE(fs::exists(m_path + "-wal"));

    StudyStore store(m_path);
    const std::vector<Measurement> found = store.measurementsForSeries("1.1");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].id, id);
    expectSameMeasurement(m, found[0]);
    const std::vector<RecentStudy> recent = store.recentStudies();
    ASSERT_EQ(recent.size(), 1u);
    EXPECT_EQ(recent[0].label, "killed");
}

TEST_F(StudyStoreTest, RecentStudiesAreOrderedDeduplicatedLimitedAndRemovable) {
    StudyStore store(m_path);
    EXPECT_TRUE(store.recentStudies().empty());
    store.addRecent(makeRecent({"/d/a1", "/d/a2"}, "A", 100));
    store.addRecent(makeRecent({"/d/b"}, "B", 200));
    store.addRecent(makeRecent({"/d/c"}, "C", 300));
    EXPECT_EQ(labelsOf(store.recentStudies()), (std::vector<std::string>{"C", "B", "A"}));

    // The same set of paths, in another order: moves to the top, no duplicate.
    store.addRecent(makeRecent({"/d/a2", "/d/a1"}, "A again", 400));
    std::vector<RecentStudy> recent = store.recentStudies();
    EXPECT_EQ(labelsOf(recent), (std::vector<std::string>{"A again", "C", "B"}));
    EXPECT_EQ(recent[0].paths, (std::vector<std::string>{"/d/a2", "/d/a1"}));
    EXPECT_EQ(recent[0].openedAt, 400);

    // Opened in the same second: the later one is on top.
    store.addRecent(makeRecent({"/d/b"}, "B again", 400));
    EXPECT_EQ(labelsOf(store.recentStudies()),
              (std::vector<std::string>{"B again", "A again", "C"}));

    // A subset or superset is another study.
    store.addRecent(makeRecent({"/d/a1"}, "A1 only", 500));
    EXPECT_EQ(store.recentStudies().size(), 4u);

    EXPECT_EQ(labelsOf(store.recentStudies(2)), (std::vector<std::string>{"A1 only", "B again"}));
    EXPECT_TRUE(store.recentStudies(0).empty());
    EXPECT_EQ(store.recentStudies(1000).size(), 4u);

    store.removeRecent({"/d/a1", "/d/a2"});
    EXPECT_EQ(labelsOf(store.recentStudies()),
              (std::vector<std::string>{"A1 only", "B again", "C"}));
    store.removeRecent({"/d/not-there"});
    store.removeRecent({});
    EXPECT_EQ(store.recentStudies().size(), 3u);

    const std::int64_t before = now();
    store.addRecent(makeRecent({"/d/now"}, "now", 0));
    recent = store.recentStudies(1);
    ASSERT_EQ(recent.size(), 1u);
    EXPECT_GE(recent[0].openedAt, before);
    EXPECT_LE(recent[0].openedAt, now());

    EXPECT_THROW(store.addRecent(makeRecent({}, "nothing", 1)), std::invalid_argument);
    EXPECT_THROW(store.addRecent(makeRecent({""}, "empty path", 1)), std::invalid_argument);
    EXPECT_EQ(store.recentStudies().size(), 4u);
}

TEST_F(StudyStoreTest, KeepsTheFiftyMostRecentStudies) {
    StudyStore store(m_path);
    for (int i = 0; i < 60; ++i) {
        store.addRecent(makeRecent({"/d/" + std::to_string(i)}, std::to_string(i), 1000 + i));
    }
    const std::vector<RecentStudy> recent = store.recentStudies(1000);
    ASSERT_EQ(recent.size(), StudyStore::maxRecentStudies);
    ASSERT_EQ(recent.size(), 50u);
    for (std::size_t i = 0; i < recent.size(); ++i) {
        EXPECT_EQ(recent[i].label, std::to_string(59 - i));
        EXPECT_EQ(recent[i].paths, std::vector<std::string>{"/d/" + std::to_string(59 - i)});
    }
    // Re-opening the oldest kept study moves it up; nothing else is dropped.
    store.addRecent(makeRecent({"/d/10"}, "10", 2000));
    const std::vector<RecentStudy> after = store.recentStudies(1000);
    ASSERT_EQ(after.size(), 50u);
    EXPECT_EQ(after[0].label, "10");
    EXPECT_EQ(after.back().label, "11");
}

TEST_F(StudyStoreTest, RefusesAFolder) {
    fs::create_directories(m_path);
    const std::string error = openError(m_path);
    EXPECT_NE(error.find(m_path), std::string::npos) << error;
    EXPECT_NE(error.find("folder"), std::string::npos) << error;
    EXPECT_TRUE(fs::is_directory(m_path));
    EXPECT_TRUE(fs::is_empty(m_path));
}

TEST_F(StudyStoreTest, RefusesATextFileAndLeavesItUnchanged) {
    fs::create_directories(fs::path(m_path).parent_path());
    std::string text;
    for (int i = 0; i < 200; ++i) {
        text += "Impression: no acute intracranial abnormality. Line " + std::to_string(i) + "\n";
    }
    writeBytes(m_path, text);

    const std::string error = openError(m_path);
    EXPECT_NE(error.find(m_path), std::string::npos) << error;
    EXPECT_NE(error.find("not a Radiolens database"), std::string::npos) << error;
    EXPECT_EQ(readBytes(m_path), text);
    EXPECT_FALSE(fs::exists(m_path + "-wal"));
}

TEST_F(StudyStoreTest, RefusesNewerSchemasAndOtherProgramsDatabasesUntouched) {
    {
        StudyStore store(m_path);
        store.addMeasurement(makeMeasurement(MeasurementKind::Distance, "1", "1.1", 0));
    }
    ASSERT_FALSE(fs::exists(m_path + "-wal")) << "the last close checkpoints the log";
    const std::string original = readBytes(m_path);
    ASSERT_GE(original.size(), 100u);
    // SQLite's file header: user_version at offset 60, application_id at 68 (big-endian).
    std::string newer = original;
    newer[63] = char(StudyStore::currentSchemaVersion + 1);
    writeBytes(m_path, newer);
    std::string error = openError(m_path);
    EXPECT_NE(error.find("newer Radiolens"), std::string::npos) << error;
    EXPECT_EQ(readBytes(m_path), newer);

    std::string foreign = original;
    foreign[68] = 0x12;
    writeBytes(m_path, foreign);
    error = openError(m_path);
    EXPECT_NE(error.find("not a Radiolens database"), std::string::npos) << error;
    EXPECT_EQ(readBytes(m_path), foreign);

    writeBytes(m_path, original);
    StudyStore store(m_path);
    EXPECT_EQ(store.measurementsForSeries("1.1").size(), 1u);
}

TEST_F(StudyStoreTest, MovedStoreKeepsWorking) {
    StudyStore first(m_path);
    first.addMeasurement(makeMeasurement(MeasurementKind::Distance, "1", "1.1", 0));
    StudyStore second(std::move(first));
    EXPECT_EQ(second.measurementsForSeries("1.1").size(), 1u);
    EXPECT_THROW(first.measurementsForSeries("1.1"), std::logic_error); // NOLINT: use after move
    StudyStore third(m_folder + "/other.sqlite");
    third = std::move(second);
    EXPECT_EQ(third.measurementsForSeries("1.1").size(), 1u);
    EXPECT_EQ(third.path(), m_path);
}
