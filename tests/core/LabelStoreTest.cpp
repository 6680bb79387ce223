// The local store's labelling parts: labels (append-only, replaced and withdrawn, counted,
// agreed on), the hash-chained audit log that catches edits and deletions, the model registry
// (publish, promote, roll back, tampered packages refused), training runs, the study index kept
// for instant reopening, migration of a version-1 database, and labels that survive the
// labelling process being killed at random moments.

#include "core/domain/Label.h"
#include "core/domain/ModelCard.h"
#include "core/domain/Paths.h"
#include "core/domain/Sha256.h"
#include "core/store/AuditLog.h"
#include "core/store/IndexCache.h"
#include "core/store/LabelFiles.h"
#include "core/store/LabelStore.h"
#include "core/store/ModelRegistry.h"
#include "core/store/StudyStore.h"
#include "tests/common/Scratch.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

Label humanLabel(const std::string& item, const std::string& cls, const std::string& annotator,
                 LabelLevel level = LabelLevel::Image) {
    Label l;
    l.level = level;
    l.item = item;
    l.className = cls;
    l.annotator = annotator;
    return l;
}

/// Runs SQL on the file with a connection of its own, as another program (or a person with the
/// sqlite3 shell) would; returns SQLite's error message, or "" on success.
std::string rawSql(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    std::string error = rc == SQLITE_OK ? "" : (message ? message : "error");
    sqlite3_free(message);
    sqlite3_close(db);
    return error;
}

class LocalStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_folder = test::scratch(::testing::UnitTest::GetInstance()->current_test_info()->name());
        m_path = (m_folder / "radiolens.sqlite").string();
    }

    /// A model package as training writes it: weights and a card with their hash.
    std::string writePackage(const std::string& name, const std::string& version,
                             const std::string& parent = {}) {
        const fs::path dir = m_folder / name;
        fs::create_directories(dir);
        std::ofstream(dir / "model.pt", std::ios::binary) << "weights of " << version;
        ModelCard card;
        card.id = "chest";
        card.version = version;
        card.classNames = {"normal", "nodule"};
        card.parentVersion = parent;
        card.weightsSha256 = Sha256::ofFile((dir / "model.pt").string());
        card.metrics["validation"].auc = 0.9;
        card.write(dir.string());
        return dir.string();
    }

    fs::path m_folder;
    std::string m_path;
};

} // namespace

TEST_F(LocalStoreTest, LabelsAreReplacedWithdrawnAndKeptInTheirHistory) {
    StudyStore store(m_path);
    LabelStore labels(store);
    bool newClass = false;
    const Label first = labels.add(humanLabel("1.2.3", "nodule", "ann"), &newClass);
    EXPECT_TRUE(newClass);
    EXPECT_GT(first.id, 0);
    EXPECT_NEAR(double(first.timeMs), double(nowMs()), 5000.0);
    labels.add(humanLabel("1.2.4", "normal", "ann"), &newClass);
    EXPECT_TRUE(newClass);
    labels.add(humanLabel("1.2.3", "normal", "ann"), &newClass); // changes their mind
    EXPECT_FALSE(newClass);
    EXPECT_EQ(labels.classes(), (std::vector<std::string>{"nodule", "normal"}));

    std::vector<Label> now = labels.current();
    ASSERT_EQ(now.size(), 2u);
    EXPECT_EQ(now[0].item, "1.2.4");
    EXPECT_EQ(now[1].item, "1.2.3");
    EXPECT_EQ(now[1].className, "normal");
    EXPECT_EQ(labels.counts(), (std::map<std::string, std::size_t>{{"nodule", 0}, {"normal", 2}}));

    labels.add(humanLabel("1.2.4", "", "ann")); // withdrawn
    now = labels.current();
    ASSERT_EQ(now.size(), 1u);
    EXPECT_EQ(now[0].item, "1.2.3");
    LabelQuery all;
    all.includeWithdrawn = true;
    EXPECT_EQ(labels.current(all).size(), 2u);

    const std::vector<Label> history = labels.history(LabelLevel::Image, "1.2.3");
    ASSERT_EQ(history.size(), 2u);
    EXPECT_EQ(history[0].className, "nodule");
    EXPECT_EQ(history[1].className, "normal");
    EXPECT_EQ(labels.size(), 4u);

    // The same item at another level is another label.
    labels.add(humanLabel("1.2.3", "nodule", "ann", LabelLevel::Series));
    LabelQuery series;
    series.level = LabelLevel::Series;
    EXPECT_EQ(labels.current(series).size(), 1u);

    // The database itself refuses to change or delete a label.
    EXPECT_NE(rawSql(m_path, "UPDATE label SET class = 'nodule' WHERE id = 1").find("append-only"),
              std::string::npos);
    EXPECT_NE(rawSql(m_path, "DELETE FROM label").find("append-only"), std::string::npos);
    EXPECT_EQ(labels.size(), 5u);
}

TEST_F(LocalStoreTest, ModelSuggestionsCarryTheirModelAndCountOnlyOnceConfirmed) {
    StudyStore store(m_path);
    LabelStore labels(store);
    Label suggestion = humanLabel("1.1", "nodule", "model:chest");
    suggestion.source = LabelSource::Model;
    suggestion.modelId = "chest";
    suggestion.modelVersion = "20261203T100000";
    suggestion.probability = 0.83;
    labels.add(suggestion);
    Label accepted = suggestion;
    accepted.item = "1.2";
    accepted.annotator = "ann";
    accepted.confirmed = true;
    labels.add(accepted);

    const std::vector<Label> now = labels.current();
    ASSERT_EQ(now.size(), 2u);
    EXPECT_EQ(now[1].source, LabelSource::Model);
    EXPECT_EQ(now[1].modelVersion, "20261203T100000");
    EXPECT_DOUBLE_EQ(now[1].probability, 0.83);
    EXPECT_TRUE(now[1].confirmed);
    EXPECT_DOUBLE_EQ(labels.add(humanLabel("1.3", "normal", "ann")).probability, -1.0);

    const Consensus consensus = labels.consensus(LabelLevel::Image);
    EXPECT_EQ(consensus.unconfirmedSuggestions, 1u);
    EXPECT_EQ(consensus.items.count("1.1"), 0u) << "an unconfirmed suggestion is not trained on";
    EXPECT_EQ(consensus.items.at("1.2"), "nodule");

    Label bad = suggestion;
    bad.modelVersion.clear();
    EXPECT_THROW(labels.add(bad), std::invalid_argument);
    bad = suggestion;
    bad.probability = 1.5;
    EXPECT_THROW(labels.add(bad), std::invalid_argument);
    EXPECT_THROW(labels.add(humanLabel("", "nodule", "ann")), std::invalid_argument);
    EXPECT_THROW(labels.add(humanLabel("1.4", "nodule", "")), std::invalid_argument);
    EXPECT_THROW(labels.add(humanLabel("1.4", "no\ndule", "ann")), std::invalid_argument);
    EXPECT_EQ(labels.size(), 3u) << "refused labels leave nothing behind";
}

TEST_F(LocalStoreTest, CohensKappaOfTwoReaders) {
    // The textbook case: 50 items, both say yes on 20, no on 15, they differ on 15:
    // po = 0.70, pe = 0.5 * 0.6 + 0.5 * 0.4 = 0.50, kappa = 0.40.
    StudyStore store(m_path);
    LabelStore labels(store);
    std::vector<Label> batch;
    const auto both = [&](int count, const char* a, const char* b) {
        for (int i = 0; i < count; ++i) {
            const std::string item = "1." + std::to_string(batch.size() / 2);
            batch.push_back(humanLabel(item, a, "reader A"));
            batch.push_back(humanLabel(item, b, "reader B"));
        }
    };
    both(20, "yes", "yes");
    both(5, "yes", "no");
    both(10, "no", "yes");
    both(15, "no", "no");
    labels.addAll(batch, "tester", "kappa fixture");
    labels.add(humanLabel("9.9", "yes", "reader A")); // only one reader: not compared

    const Agreement agreement = labels.agreement("reader A", "reader B");
    EXPECT_EQ(agreement.items, 50u);
    EXPECT_NEAR(agreement.observed, 0.70, 1e-12);
    EXPECT_NEAR(agreement.expected, 0.50, 1e-12);
    EXPECT_NEAR(agreement.kappa, 0.40, 1e-12);
    EXPECT_EQ(agreement.classes, (std::vector<std::string>{"no", "yes"}));
    EXPECT_EQ(agreement.table[1][0], 5); // A yes, B no
    EXPECT_EQ(labels.annotators(), (std::vector<std::string>{"reader A", "reader B"}));
    EXPECT_TRUE(std::isnan(labels.agreement("reader A", "nobody").kappa));

    // Disagreements are kept out of the training set, and the label set's hash follows it.
    const Consensus before = labels.consensus(LabelLevel::Image);
    EXPECT_EQ(before.items.size(), 36u);
    EXPECT_EQ(before.disagreements.size(), 15u);
    labels.add(humanLabel("1.20", "yes", "reader B")); // was A yes, B no
    const Consensus after = labels.consensus(LabelLevel::Image);
    EXPECT_EQ(after.items.size(), 37u);
    EXPECT_NE(before.sha256, after.sha256);
    EXPECT_EQ(after.sha256, labels.consensus(LabelLevel::Image).sha256);
}

TEST_F(LocalStoreTest, TheAuditLogChainsEveryChangeAndCatchesEditsAndDeletions) {
    {
        StudyStore store(m_path);
        LabelStore labels(store);
        for (int i = 0; i < 5; ++i) {
            labels.add(humanLabel("1." + std::to_string(i), i % 2 ? "a" : "b", "ann"));
        }
        const AuditVerification v = AuditLog(store).verify();
        EXPECT_TRUE(v.ok) << v.reason;
        // Two classes defined, five labels.
        EXPECT_EQ(v.entries, 7u);
        const std::vector<AuditEntry> entries = AuditLog(store).entries();
        ASSERT_EQ(entries.size(), 7u);
        EXPECT_EQ(entries[0].action, "label.class.add");
        EXPECT_EQ(entries[1].action, "label.add");
        EXPECT_EQ(entries[1].subject, "1.0");
        EXPECT_EQ(entries[1].actor, "ann");
        EXPECT_NE(entries[1].details.find("\"class\":\"b\""), std::string::npos)
            << entries[1].details;
        EXPECT_EQ(entries[1].previousHash, entries[0].hash);
        EXPECT_EQ(entries[0].previousHash, std::string(64, '0'));
        EXPECT_EQ(AuditLog(store).entries(5).size(), 2u);
        EXPECT_EQ(v.headHash, entries.back().hash);
    }
    const std::string pristine = m_folder / "pristine.sqlite";
    fs::copy_file(m_path, pristine);
    const auto verifyCopy = [&](const std::string& sql) {
        const std::string copy = (m_folder / "copy.sqlite").string();
        fs::remove(copy);
        fs::copy_file(pristine, copy);
        const std::string error = rawSql(copy, sql);
        EXPECT_EQ(error, "") << sql;
        StudyStore store(copy, StudyStore::OpenCheck::SkipAudit); // to examine it
        return AuditLog(store).verify();
    };
    // The log refuses changes through SQL...
    EXPECT_NE(rawSql(pristine, "DELETE FROM audit WHERE id = 3").find("append-only"),
              std::string::npos);
    // ... and whoever drops the guard and edits an entry, removes one, or the newest, is caught.
    const char* unguard = "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; ";
    AuditVerification v =
        verifyCopy(std::string(unguard) + "UPDATE audit SET details = '{}' WHERE id = 4");
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.firstBadId, 4);
    EXPECT_NE(v.reason.find("entry 4 was changed"), std::string::npos) << v.reason;

    v = verifyCopy(std::string(unguard) + "DELETE FROM audit WHERE id = 3");
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.firstBadId, 3);
    EXPECT_NE(v.reason.find("missing"), std::string::npos) << v.reason;

    v = verifyCopy(std::string(unguard) + "DELETE FROM audit WHERE id = 7");
    EXPECT_FALSE(v.ok);
    EXPECT_NE(v.reason.find("newest entries were deleted"), std::string::npos) << v.reason;

    v = verifyCopy(std::string(unguard) + "UPDATE audit SET actor = 'mallory' WHERE id = 1");
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.firstBadId, 1);

    // Untouched, it checks, also against a head written down earlier.
    StudyStore store(pristine);
    const AuditVerification ok = AuditLog(store).verify();
    EXPECT_TRUE(ok.ok) << ok.reason;
    EXPECT_TRUE(AuditLog(store).verify(ok.headHash).ok);
    EXPECT_FALSE(AuditLog(store).verify(std::string(64, 'f')).ok);
}

TEST_F(LocalStoreTest, MeasurementChangesAreAudited) {
    StudyStore store(m_path);
    Measurement m;
    m.studyInstanceUid = "1";
    m.seriesInstanceUid = "1.1";
    m.points = {{0, 0, 0}, {10, 0, 0}};
    m.id = store.addMeasurement(m);
    m.label = "lesion";
    store.updateMeasurement(m);
    store.removeMeasurement(m.id);
    std::vector<std::string> actions;
    for (const AuditEntry& e : AuditLog(store).entries()) {
        actions.push_back(e.action);
    }
    EXPECT_EQ(actions, (std::vector<std::string>{"measurement.add", "measurement.update",
                                                 "measurement.remove"}));
    EXPECT_TRUE(AuditLog(store).verify().ok);
}

TEST_F(LocalStoreTest, RegistryPublishesPromotesAndRollsBack) {
    StudyStore store(m_path);
    ModelRegistry registry(store);
    EXPECT_EQ(registry.modelsFolder(), (m_folder / "models").string());
    EXPECT_FALSE(registry.active());

    const RegisteredModel v1 = registry.publish(writePackage("v1", "1"), "aaa", 10, 0, "ann");
    EXPECT_EQ(v1.modelId, "chest");
    EXPECT_EQ(v1.labels, 10u);
    EXPECT_EQ(v1.card.classNames.size(), 2u);
    EXPECT_THROW(registry.publish(writePackage("v1b", "1"), "aaa", 10, 0, "ann"),
                 std::runtime_error)
        << "a version is published once";
    registry.publish(writePackage("v2", "2", "1"), "bbb", 12, 0, "ann");
    registry.publish(writePackage("v3", "3", "2"), "ccc", 14, 0, "ann");
    EXPECT_FALSE(registry.active("chest")) << "publishing does not activate";

    registry.promote("chest", "1", "ann");
    registry.promote("chest", "2", "ann");
    registry.promote("chest", "3", "ann");
    EXPECT_EQ(registry.active("chest")->version, "3");
    EXPECT_EQ(registry.active()->version, "3");
    EXPECT_EQ(registry.rollback("chest", "ann").version, "2");
    EXPECT_EQ(registry.rollback("chest", "ann").version, "1");
    EXPECT_THROW(registry.rollback("chest", "ann"), std::runtime_error);
    EXPECT_EQ(registry.active("chest")->version, "1");

    const std::vector<RegisteredModel> versions = registry.versions("chest");
    ASSERT_EQ(versions.size(), 3u);
    EXPECT_TRUE(versions[0].active);
    EXPECT_FALSE(versions[1].active);
    EXPECT_EQ(versions[2].parentVersion, "2");
    EXPECT_EQ(versions[2].labelSetSha256, "ccc");

    // A package changed after publication is refused, naming the file.
    std::ofstream(fs::path(versions[2].package) / "model.pt", std::ios::app) << "tampered";
    EXPECT_NE(ModelRegistry::verifyPackage(versions[2]).find("model.pt"), std::string::npos);
    try {
        registry.promote("chest", "3", "ann");
        FAIL() << "a tampered package was promoted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("changed since it was published"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(registry.active("chest")->version, "1");
    std::ofstream(fs::path(versions[1].package) / "card.json", std::ios::app) << " ";
    EXPECT_NE(ModelRegistry::verifyPackage(versions[1]).find("card.json"), std::string::npos);
    EXPECT_THROW(registry.promote("chest", "9", "ann"), std::runtime_error);

    std::vector<std::string> actions;
    for (const AuditEntry& e : AuditLog(store).entries()) {
        actions.push_back(e.action);
    }
    EXPECT_EQ(std::count(actions.begin(), actions.end(), "model.register"), 3);
    EXPECT_EQ(std::count(actions.begin(), actions.end(), "model.promote"), 3);
    EXPECT_EQ(std::count(actions.begin(), actions.end(), "model.rollback"), 2);
    EXPECT_TRUE(AuditLog(store).verify().ok);
}

TEST_F(LocalStoreTest, TrainingRunsAreFoundAgainByTheirFingerprint) {
    StudyStore store(m_path);
    ModelRegistry registry(store);
    const TrainingRun run = registry.startRun("chest", "f1", "/runs/1", "/out/1", "ann");
    EXPECT_EQ(run.state, "running");
    registry.checkpointed(run.id, 3);
    ASSERT_TRUE(registry.unfinishedRun("f1"));
    EXPECT_EQ(registry.unfinishedRun("f1")->epoch, 3);
    EXPECT_FALSE(registry.unfinishedRun("f2"));
    registry.endRun(run.id, "finished", "", "20261203T120000", "ann");
    EXPECT_FALSE(registry.unfinishedRun("f1"));
    EXPECT_EQ(registry.run(run.id)->version, "20261203T120000");
    EXPECT_GT(registry.run(run.id)->endedMs, 0);
    EXPECT_THROW(registry.endRun(run.id, "exploded", "", "", "ann"), std::invalid_argument);
    EXPECT_EQ(registry.runs().size(), 1u);
}

TEST_F(LocalStoreTest, TheStudyIndexReopensFromTheStore) {
    StudyIndex index;
    PatientEntry patient;
    patient.patientId = "P1";
    patient.name = "Doe^Jane";
    StudyEntry study;
    study.studyInstanceUid = "1.2";
    study.date = "20261201";
    SeriesEntry series;
    series.seriesInstanceUid = "1.2.3";
    series.modality = "DX";
    const fs::path folder = m_folder / "study";
    fs::create_directories(folder);
    for (int i = 2; i >= 1; --i) {
        InstanceEntry instance;
        instance.sopInstanceUid = "1.2.3." + std::to_string(i);
        instance.path = (folder / ("im" + std::to_string(i) + ".dcm")).string();
        instance.instanceNumber = i;
        instance.rows = 512;
        instance.columns = 512;
        series.instances.push_back(instance);
    }
    study.series.push_back(series);
    patient.studies.push_back(study);
    index.patients.push_back(patient);

    StudyStore store(m_path);
    IndexCache cache(store);
    EXPECT_FALSE(cache.load({folder.string()})) << "never indexed";
    cache.save({folder.string()}, index);
    // A sibling folder whose name starts the same is not under the root.
    const std::optional<StudyIndex> back = cache.load({folder.string() + "/"});
    ASSERT_TRUE(back);
    ASSERT_EQ(back->instanceCount(), 2u);
    EXPECT_EQ(back->patients[0].name, "Doe^Jane");
    EXPECT_EQ(back->patients[0].studies[0].series[0].modality, "DX");
    EXPECT_EQ(back->patients[0].studies[0].series[0].instances[0].instanceNumber, 1)
        << "sorted as the indexer sorts";
    EXPECT_EQ(cache.instance("1.2.3.2")->instance.path, (folder / "im2.dcm").string());
    EXPECT_EQ(cache.instance("1.2.3.2")->patientId, "P1");
    EXPECT_FALSE(cache.instance("9.9"));
    EXPECT_EQ(cache.instances(LabelLevel::Study, "1.2").size(), 2u);
    EXPECT_EQ(cache.instances(LabelLevel::Series, "1.2.3").size(), 2u);

    // Indexing the folder again replaces what was there.
    index.patients[0].studies[0].series[0].instances.pop_back();
    cache.save({folder.string()}, index);
    EXPECT_EQ(cache.load({folder.string()})->instanceCount(), 1u);
    EXPECT_EQ(cache.size(), 1u);
}

TEST_F(LocalStoreTest, AVersion1DatabaseIsMigratedWithItsMeasurements) {
    // The schema as version 1 shipped it, with one measurement.
    const std::string v1 = R"sql(
CREATE TABLE measurement (id INTEGER PRIMARY KEY AUTOINCREMENT, study_uid TEXT NOT NULL,
    series_uid TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('distance', 'angle',
    'rectangle', 'ellipse')), points BLOB NOT NULL, axis_u BLOB NOT NULL, axis_v BLOB NOT NULL,
    label TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE INDEX measurement_by_series ON measurement (series_uid, id);
CREATE INDEX measurement_by_study ON measurement (study_uid, id);
CREATE TABLE recent_study (id INTEGER PRIMARY KEY AUTOINCREMENT, path_set BLOB NOT NULL UNIQUE,
    label TEXT NOT NULL, opened_at INTEGER NOT NULL);
CREATE TABLE recent_path (recent_id INTEGER NOT NULL REFERENCES recent_study (id) ON DELETE
    CASCADE, position INTEGER NOT NULL, path TEXT NOT NULL, PRIMARY KEY (recent_id, position))
    WITHOUT ROWID;
PRAGMA application_id = 1380732499;
PRAGMA user_version = 1;
INSERT INTO measurement (study_uid, series_uid, kind, points, axis_u, axis_v, label, created_at)
VALUES ('1', '1.1', 'distance', zeroblob(48), zeroblob(24), zeroblob(24), 'old', 1700000000);
)sql";
    ASSERT_EQ(rawSql(m_path, v1), "");
    StudyStore store(m_path);
    EXPECT_EQ(store.schemaVersion(), StudyStore::currentSchemaVersion);
    ASSERT_EQ(store.measurementsForSeries("1.1").size(), 1u);
    EXPECT_EQ(store.measurementsForSeries("1.1")[0].label, "old");
    LabelStore(store).add(humanLabel("1.1.1", "normal", "ann"));
    EXPECT_EQ(store.integrityCheck(), "ok");
}

TEST_F(LocalStoreTest, EveryAcknowledgedLabelSurvivesTheLabellerBeingKilled) {
    // A labelling process writes labels as fast as it can and acknowledges each one (through a
    // pipe) only once add() has returned; it is killed with SIGKILL at a random moment. Every
    // acknowledged label must be in the store afterwards, the database must pass SQLite's
    // integrity check, and the audit chain must still verify. Twelve rounds on one file.
    std::mt19937 random(20261203);
    std::set<std::string> acknowledged;
    std::size_t killedMidBurst = 0;
    for (int round = 0; round < 12; ++round) {
        int channel[2];
        ASSERT_EQ(pipe(channel), 0);
        const pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            close(channel[0]);
            try {
                StudyStore store(m_path);
                LabelStore labels(store);
                for (int i = 0; i < 100000; ++i) {
                    const std::string item =
                        "1.2.840." + std::to_string(round) + "." + std::to_string(i);
                    labels.add(humanLabel(item, i % 3 ? "normal" : "pneumonia", "ann"));
                    const std::string ack = item + "\n";
                    if (write(channel[1], ack.data(), ack.size()) != ssize_t(ack.size())) {
                        _exit(3);
                    }
                }
            } catch (...) {
                _exit(2);
            }
            _exit(0);
        }
        close(channel[1]);
        // Let it write for 5-150 ms, then kill it wherever it is.
        usleep(useconds_t(std::uniform_int_distribution<int>(5000, 150000)(random)));
        kill(child, SIGKILL);
        int status = 0;
        ASSERT_EQ(waitpid(child, &status, 0), child);
        killedMidBurst += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        std::string received;
        char buffer[4096];
        ssize_t n = 0;
        while ((n = read(channel[0], buffer, sizeof buffer)) > 0) {
            received.append(buffer, std::size_t(n));
        }
        close(channel[0]);
        std::istringstream lines(received);
        std::string line;
        while (std::getline(lines, line)) {
            if (!lines.eof()) { // a line cut by the kill was not acknowledged whole
                acknowledged.insert(line);
            }
        }
    }
    EXPECT_EQ(killedMidBurst, 12u) << "every round was killed while writing";
    ASSERT_GT(acknowledged.size(), 12u);

    StudyStore store(m_path);
    EXPECT_EQ(store.integrityCheck(), "ok");
    std::set<std::string> present;
    for (const Label& l : LabelStore(store).current()) {
        present.insert(l.item);
    }
    std::size_t missing = 0;
    for (const std::string& item : acknowledged) {
        missing += present.count(item) == 0;
    }
    EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " acknowledged labels";
    const AuditVerification v = AuditLog(store).verify();
    EXPECT_TRUE(v.ok) << v.reason;
    std::printf("%zu labels acknowledged in 12 killed bursts, %zu in the store, none lost\n",
                acknowledged.size(), present.size());
}

TEST_F(LocalStoreTest, ImportsNeverLetAnOlderLabelReplaceANewerOne) {
    StudyStore store(m_path);
    LabelStore labels(store);
    labels.add(humanLabel("1.1", "pneumonia", "ann")); // now
    // A spreadsheet's CSV (with a byte-order mark) holding an older label of the same image
    // and a new one of another image.
    const fs::path file = m_folder / "old.csv";
    std::ofstream(file) << "\xEF\xBB\xBFinstance,class,annotator,time\n"
                        << "1.1,normal,ann,2020-01-01T00:00:00Z\n"
                        << "1.2,normal,ann,2020-01-01T00:00:00Z\n"
                        << "1.3,nor\tmal,ann,\n";
    const LabelFileContents contents = readLabelFile(file.string(), "importer");
    ASSERT_EQ(contents.labels.size(), 2u);
    ASSERT_EQ(contents.problems.size(), 1u);
    EXPECT_NE(contents.problems[0].find("old.csv:4: a control character"), std::string::npos)
        << contents.problems[0];
    EXPECT_EQ(importLabels(labels, contents, "ann", "test"), 1u);
    LabelQuery q;
    q.item = "1.1";
    EXPECT_EQ(labels.current(q)[0].className, "pneumonia");
    q.item = "1.2";
    EXPECT_EQ(labels.current(q)[0].className, "normal");
}
