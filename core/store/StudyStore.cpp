#include "core/store/StudyStore.h"

#include "core/domain/Paths.h"
#include "core/domain/JsonWriter.h"
#include "core/store/AuditLog.h"
#include "core/store/Sql.h"

#include <pwd.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iterator>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace fs = std::filesystem;

namespace radiolens {

namespace {

/// PRAGMA application_id of a Radiolens database: "RLNS" as a big-endian 32-bit integer. A file
/// with another application id is some other program's database and is never modified.
constexpr std::int64_t kApplicationId = 0x524C4E53;

/// How long a writer waits for another connection's write lock before failing (milliseconds).
constexpr int kBusyTimeoutMs = 5000;

/// Version 1: measurements and recent studies.
///
/// Coordinates (points, axes) are BLOBs of little-endian IEEE-754 doubles, x y z per point, so
/// they round-trip bit-exactly (a REAL column would turn -0.0 into 0). A recent study is keyed by
/// `path_set`: its distinct paths, sorted, each followed by a NUL byte; `recent_path` keeps them
/// in the order they were given. Recency is the id order (AUTOINCREMENT never reuses an id).
constexpr const char* kSchemaVersion1 = R"sql(
CREATE TABLE measurement (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    study_uid TEXT NOT NULL,
    series_uid TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('distance', 'angle', 'rectangle', 'ellipse')),
    points BLOB NOT NULL,
    axis_u BLOB NOT NULL,
    axis_v BLOB NOT NULL,
    label TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX measurement_by_series ON measurement (series_uid, id);
CREATE INDEX measurement_by_study ON measurement (study_uid, id);
CREATE TABLE recent_study (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path_set BLOB NOT NULL UNIQUE,
    label TEXT NOT NULL,
    opened_at INTEGER NOT NULL
);
CREATE TABLE recent_path (
    recent_id INTEGER NOT NULL REFERENCES recent_study (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (recent_id, position)
) WITHOUT ROWID;
PRAGMA application_id = 1380732499;
PRAGMA user_version = 1;
)sql";

/// Version 2: labels, the audit log, the model registry, training runs and the study index.
///
/// Labels and audit entries are append-only (triggers refuse UPDATE and DELETE): a label is
/// replaced by adding a newer one for the same item and annotator, and withdrawn by adding one
/// with an empty class. Each audit entry carries the SHA-256 of the one before it (AuditLog.h).
/// A model's active version is the top of its activation history (promote pushes, rollback
/// pops), which is append-only too. `indexed_file` keeps every indexed DICOM file's place in the
/// Patient / Study / Series tree, so a folder indexed before reopens from the store at once (and
/// is checked again in the background), and a labelled instance's file and patient are found.
/// `suggestion` caches a model version's class probabilities for an image (derived data, so not
/// audited): the worklist ranks by them and the label panel shows them.
constexpr const char* kSchemaVersion2 = R"sql(
CREATE TABLE label_class (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE CHECK (length(name) > 0),
    created_ms INTEGER NOT NULL
);
CREATE TABLE label (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    level TEXT NOT NULL CHECK (level IN ('image', 'series', 'study')),
    item TEXT NOT NULL CHECK (length(item) > 0),
    class TEXT NOT NULL,
    annotator TEXT NOT NULL CHECK (length(annotator) > 0),
    time_ms INTEGER NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('human', 'model')),
    model_id TEXT NOT NULL,
    model_version TEXT NOT NULL,
    probability REAL,
    confirmed INTEGER NOT NULL CHECK (confirmed IN (0, 1))
);
CREATE INDEX label_by_item ON label (level, item, annotator, id);
CREATE INDEX label_by_annotator ON label (annotator, id);
CREATE TRIGGER label_no_update BEFORE UPDATE ON label
    BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END;
CREATE TRIGGER label_no_delete BEFORE DELETE ON label
    BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END;
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE model_version (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id TEXT NOT NULL,
    version TEXT NOT NULL,
    package TEXT NOT NULL,
    card TEXT NOT NULL,
    card_sha256 TEXT NOT NULL,
    weights_sha256 TEXT NOT NULL,
    label_set_sha256 TEXT NOT NULL,
    labels INTEGER NOT NULL,
    parent_version TEXT NOT NULL,
    run_id INTEGER,
    created_ms INTEGER NOT NULL,
    UNIQUE (model_id, version)
);
CREATE TRIGGER model_version_no_update BEFORE UPDATE ON model_version
    BEGIN SELECT RAISE(ABORT, 'registered model versions are kept as published'); END;
CREATE TRIGGER model_version_no_delete BEFORE DELETE ON model_version
    BEGIN SELECT RAISE(ABORT, 'registered model versions are kept as published'); END;
CREATE TABLE model_activation (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id TEXT NOT NULL,
    version TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('promote', 'rollback')),
    actor TEXT NOT NULL,
    time_ms INTEGER NOT NULL
);
CREATE INDEX model_activation_by_model ON model_activation (model_id, id);
CREATE TRIGGER model_activation_no_update BEFORE UPDATE ON model_activation
    BEGIN SELECT RAISE(ABORT, 'the activation history is append-only'); END;
CREATE TRIGGER model_activation_no_delete BEFORE DELETE ON model_activation
    BEGIN SELECT RAISE(ABORT, 'the activation history is append-only'); END;
CREATE TABLE training_run (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    folder TEXT NOT NULL,
    out TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'finished', 'failed', 'cancelled')),
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER,
    epoch INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    version TEXT NOT NULL DEFAULT ''
);
CREATE INDEX training_run_by_fingerprint ON training_run (fingerprint, id);
CREATE TABLE indexed_file (
    path TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    patient_name TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    sex TEXT NOT NULL,
    study_uid TEXT NOT NULL,
    study_description TEXT NOT NULL,
    study_date TEXT NOT NULL,
    study_time TEXT NOT NULL,
    accession TEXT NOT NULL,
    study_id TEXT NOT NULL,
    series_uid TEXT NOT NULL,
    modality TEXT NOT NULL,
    series_description TEXT NOT NULL,
    body_part TEXT NOT NULL,
    series_number INTEGER NOT NULL,
    series_date TEXT NOT NULL,
    series_time TEXT NOT NULL,
    sop_uid TEXT NOT NULL,
    sop_class_uid TEXT NOT NULL,
    instance_number INTEGER NOT NULL,
    frames INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    columns INTEGER NOT NULL
);
CREATE INDEX indexed_file_by_sop ON indexed_file (sop_uid);
CREATE INDEX indexed_file_by_series ON indexed_file (series_uid);
CREATE INDEX indexed_file_by_study ON indexed_file (study_uid);
CREATE TABLE suggestion (
    item TEXT NOT NULL,
    model_id TEXT NOT NULL,
    model_version TEXT NOT NULL,
    probabilities TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    PRIMARY KEY (item, model_id, model_version)
) WITHOUT ROWID;
CREATE TABLE indexed_root (
    path TEXT PRIMARY KEY,
    indexed_ms INTEGER NOT NULL,
    files INTEGER NOT NULL
);
PRAGMA user_version = 2;
)sql";

/// Version 3: studies retrieved from a remote node, and whether all their instances arrived. A
/// retrieval that is cut off stays 'incomplete' (or 'retrieving' when the process died) until a
/// retry completes it.
constexpr const char* kSchemaVersion3 = R"sql(
CREATE TABLE retrieval (
    study_uid TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    folder TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('retrieving', 'complete', 'incomplete', 'cancelled')),
    expected INTEGER NOT NULL,
    present INTEGER NOT NULL,
    error TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = 3;
)sql";

/// One step of the schema: the script brings a database at version `version - 1` to `version`
/// and ends by setting PRAGMA user_version to `version`. To change the schema, append a step
/// (e.g. {2, "ALTER TABLE ...; PRAGMA user_version = 2;"}) and raise currentSchemaVersion;
/// never edit a step that has shipped.
struct Migration {
    int version;
    const char* script;
};

constexpr Migration kMigrations[] = {
    {1, kSchemaVersion1},
    {2, kSchemaVersion2},
    {3, kSchemaVersion3},
};

static_assert(kMigrations[std::size(kMigrations) - 1].version == StudyStore::currentSchemaVersion,
              "the last migration must reach currentSchemaVersion");

using sql::exec;
using sql::fail;
using sql::Statement;
using sql::Transaction;

struct ConnectionCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;

std::int64_t secondsSinceEpoch() {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

void appendDouble(std::vector<unsigned char>& bytes, double value) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    for (int i = 0; i < 8; ++i) {
        bytes.push_back(static_cast<unsigned char>(bits >> (8 * i)));
    }
}

double readDouble(const unsigned char* bytes) {
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) {
        bits |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
    }
    double value = 0.0;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

std::vector<unsigned char> encodePoints(const std::vector<Vec3>& points) {
    std::vector<unsigned char> bytes;
    bytes.reserve(points.size() * 24);
    for (const Vec3& p : points) {
        appendDouble(bytes, p.x);
        appendDouble(bytes, p.y);
        appendDouble(bytes, p.z);
    }
    return bytes;
}

/// False when `bytes` is not a whole number of points.
bool decodePoints(const std::vector<unsigned char>& bytes, std::vector<Vec3>& points) {
    if (bytes.size() % 24 != 0) {
        return false;
    }
    points.clear();
    for (std::size_t offset = 0; offset < bytes.size(); offset += 24) {
        const unsigned char* p = bytes.data() + offset;
        points.push_back({readDouble(p), readDouble(p + 8), readDouble(p + 16)});
    }
    return true;
}

bool isFinite(const Vec3& v) {
    return std::isfinite(v.x) && std::isfinite(v.y) && std::isfinite(v.z);
}

void validate(const Measurement& m) {
    const std::size_t needed = pointCount(m.kind);
    if (m.points.size() != needed) {
        throw std::invalid_argument("A " + toString(m.kind) + " measurement needs " +
                                    std::to_string(needed) + " points, not " +
                                    std::to_string(m.points.size()));
    }
    const bool finite = std::all_of(m.points.begin(), m.points.end(), isFinite) &&
                        isFinite(m.axisU) && isFinite(m.axisV);
    if (!finite) {
        throw std::invalid_argument("A measurement's points and axes must be finite numbers");
    }
}

/// Paths a recent entry can have: at least one, none empty or containing a NUL byte.
bool validPaths(const std::vector<std::string>& paths) {
    return !paths.empty() && std::none_of(paths.begin(), paths.end(), [](const std::string& p) {
        return p.empty() || p.find('\0') != std::string::npos;
    });
}

/// The identity of a set of paths: the distinct paths, sorted, each followed by a NUL byte.
std::vector<unsigned char> pathSetKey(std::vector<std::string> paths) {
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    std::vector<unsigned char> key;
    for (const std::string& p : paths) {
        key.insert(key.end(), p.begin(), p.end());
        key.push_back(0);
    }
    return key;
}

/// The audit log's details of a measurement: id, kind, label and points (mm).
std::string measurementDetails(std::int64_t id, const Measurement& m) {
    std::ostringstream out;
    JsonWriter json(out, false);
    json.beginObject().field("id", (long long)id).field("kind", toString(m.kind));
    json.field("label", m.label).key("points").beginArray();
    for (const Vec3& p : m.points) {
        json.numbers({p.x, p.y, p.z});
    }
    json.endArray().endObject();
    return out.str();
}

constexpr const char* kSelectMeasurement =
    "SELECT id, study_uid, series_uid, kind, points, axis_u, axis_v, label, created_at "
    "FROM measurement ";

std::vector<Measurement> readMeasurements(Statement& query, const std::string& path) {
    std::vector<Measurement> result;
    while (query.step()) {
        Measurement m;
        m.id = query.int64(0);
        m.studyInstanceUid = query.text(1);
        m.seriesInstanceUid = query.text(2);
        std::vector<Vec3> axisU;
        std::vector<Vec3> axisV;
        const bool ok =
            parseMeasurementKind(query.text(3), m.kind) && decodePoints(query.blob(4), m.points) &&
            m.points.size() == pointCount(m.kind) && decodePoints(query.blob(5), axisU) &&
            axisU.size() == 1 && decodePoints(query.blob(6), axisV) && axisV.size() == 1;
        if (!ok) {
            throw std::runtime_error("Radiolens database " + path + ": measurement " +
                                     std::to_string(m.id) + " is damaged");
        }
        m.axisU = axisU[0];
        m.axisV = axisV[0];
        m.label = query.text(7);
        m.createdAt = query.int64(8);
        result.push_back(std::move(m));
    }
    return result;
}

/// Refuses files that are not a Radiolens database before anything is written to them; fails
/// with SQLite's message when the file cannot be read at all.
void checkIdentity(sqlite3* db, const std::string& path) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT (SELECT application_id FROM pragma_application_id), "
                                "(SELECT user_version FROM pragma_user_version), "
                                "(SELECT count(*) FROM sqlite_master)",
                                -1, &stmt, nullptr);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
    }
    if (rc != SQLITE_ROW) {
        const std::string message = sqlite3_errmsg(db);
        const bool notDatabase = sqlite3_errcode(db) == SQLITE_NOTADB;
        sqlite3_finalize(stmt);
        if (notDatabase) {
            throw std::runtime_error("Cannot open " + path + ": not a Radiolens database (" +
                                     message + ")");
        }
        throw std::runtime_error("Cannot open Radiolens database " + path + ": " + message);
    }
    const std::int64_t applicationId = sqlite3_column_int64(stmt, 0);
    const std::int64_t version = sqlite3_column_int64(stmt, 1);
    const std::int64_t objects = sqlite3_column_int64(stmt, 2);
    sqlite3_finalize(stmt);
    const bool empty = applicationId == 0 && version == 0 && objects == 0;
    if (applicationId != kApplicationId && !empty) {
        throw std::runtime_error("Cannot open " + path +
                                 ": not a Radiolens database (it is another program's "
                                 "SQLite database)");
    }
}

/// SQLite's quick_check (structure, not index contents; a few milliseconds per thousand
/// rows). A damaged file is refused before anything is written to it.
void checkStructure(sqlite3* db, const std::string& path) {
    sqlite3_stmt* stmt = nullptr;
    std::string result;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(20)", -1, &stmt, nullptr);
    while (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
        result += (result.empty() ? "" : "; ") + std::string(text ? text : "");
    }
    const std::string message = sqlite3_errmsg(db);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_OK || result.empty()) {
        throw std::runtime_error("Radiolens database " + path + " is damaged (" + message +
                                 "); it was left as it is. 'radiolens-cli store restore' puts "
                                 "back a backup");
    }
    if (result != "ok") {
        throw std::runtime_error("Radiolens database " + path + " is damaged (" + result +
                                 "); it was left as it is. 'radiolens-cli store restore' puts "
                                 "back a backup");
    }
}

int readSchemaVersion(sqlite3* db, const std::string& path) {
    Statement query(db, path, "PRAGMA user_version");
    query.step();
    return static_cast<int>(query.int64(0));
}

/// Brings the schema to currentSchemaVersion in one transaction, so a crash or a second process
/// opening the same file never sees half a migration.
void migrate(sqlite3* db, const std::string& path) {
    Transaction transaction(db, path);
    const int found = readSchemaVersion(db, path);
    if (found > StudyStore::currentSchemaVersion) {
        throw std::runtime_error("Cannot open Radiolens database " + path +
                                 ": it was written by a newer Radiolens (schema version " +
                                 std::to_string(found) + "; this version reads up to " +
                                 std::to_string(StudyStore::currentSchemaVersion) + ")");
    }
    for (const Migration& migration : kMigrations) {
        if (migration.version > found &&
            sqlite3_exec(db, migration.script, nullptr, nullptr, nullptr) != SQLITE_OK) {
            fail(db, path,
                 "cannot migrate the schema to version " + std::to_string(migration.version));
        }
    }
    if (readSchemaVersion(db, path) != StudyStore::currentSchemaVersion) {
        throw std::logic_error("StudyStore: a schema migration did not set user_version");
    }
    transaction.commit();
}

} // namespace

StudyStore::StudyStore(const std::string& databasePath, OpenCheck check)
    : m_path(databasePath) {
    if (m_path.empty()) {
        throw std::runtime_error("Cannot open Radiolens database: the path is empty");
    }
    std::error_code error;
    if (fs::is_directory(m_path, error)) {
        throw std::runtime_error("Cannot open Radiolens database " + m_path +
                                 ": the path is a folder");
    }
    const fs::path folder = fs::path(m_path).parent_path();
    if (!folder.empty() && !fs::create_directories(folder, error) && error) {
        throw std::runtime_error("Cannot create folder " + folder.string() +
                                 " for Radiolens database " + m_path + ": " + error.message());
    }

    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(
        m_path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
        nullptr);
    Connection db(raw);
    if (rc != SQLITE_OK) {
        throw std::runtime_error("Cannot open Radiolens database " + m_path + ": " +
                                 (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);

    checkIdentity(db.get(), m_path);
    checkStructure(db.get(), m_path);
    // WAL: a commit appends to the log, readers never block the writer. FULL: each commit is
    // fsynced, so it survives a power cut, not only a crash. Both before any transaction.
    // Switching a new file to WAL takes an exclusive lock for which SQLite does not always wait
    // (two processes creating one store at once: "database is locked" at once), so it is
    // retried for as long as any other statement would wait.
    for (int waited = 0;; waited += 20) {
        const int mode =
            sqlite3_exec(db.get(), "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
        if ((mode != SQLITE_BUSY && mode != SQLITE_LOCKED) || waited >= kBusyTimeoutMs) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    exec(db.get(), m_path, "PRAGMA journal_mode=WAL"); // the same again: a failure is named
    exec(db.get(), m_path, "PRAGMA synchronous=FULL");
    exec(db.get(), m_path, "PRAGMA foreign_keys=ON");
    migrate(db.get(), m_path);

    m_db = db.release();
    if (check == OpenCheck::Full) {
        const AuditVerification audit = AuditLog(*this).verify();
        if (!audit.ok) {
            sqlite3_close_v2(std::exchange(m_db, nullptr));
            throw std::runtime_error(
                "Radiolens database " + m_path + ": the audit log does not verify (" +
                audit.reason +
                "); the store was not used. 'radiolens-cli store check' tells more; "
                "'radiolens-cli store restore' puts back a backup");
        }
    }
}

StudyStore::~StudyStore() {
    sqlite3_close_v2(m_db);
}

StudyStore::StudyStore(StudyStore&& other) noexcept
    : m_path(std::move(other.m_path))
    , m_db(std::exchange(other.m_db, nullptr)) {}

StudyStore& StudyStore::operator=(StudyStore&& other) noexcept {
    if (this != &other) {
        sqlite3_close_v2(m_db);
        m_db = std::exchange(other.m_db, nullptr);
        m_path = std::move(other.m_path);
    }
    return *this;
}

std::string StudyStore::defaultPath() {
    return userDataFolder() + "/radiolens.sqlite";
}

sqlite3* StudyStore::connection() const {
    if (m_db == nullptr) {
        throw std::logic_error("StudyStore used after it was moved from");
    }
    return m_db;
}

std::int64_t StudyStore::addMeasurement(const Measurement& m) {
    validate(m);
    sqlite3* db = connection();
    Statement insert(db, m_path,
                     "INSERT INTO measurement (study_uid, series_uid, kind, points, axis_u, "
                     "axis_v, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    insert.bind(1, m.studyInstanceUid)
        .bind(2, m.seriesInstanceUid)
        .bind(3, toString(m.kind))
        .bindBlob(4, encodePoints(m.points))
        .bindBlob(5, encodePoints({m.axisU}))
        .bindBlob(6, encodePoints({m.axisV}))
        .bind(7, m.label)
        .bind(8, m.createdAt != 0 ? m.createdAt : secondsSinceEpoch());
    Transaction transaction(db, m_path);
    insert.run();
    const std::int64_t id = sqlite3_last_insert_rowid(db);
    AuditLog::append(db, m_path, defaultActor(), "measurement.add", m.seriesInstanceUid,
                     measurementDetails(id, m));
    transaction.commit();
    return id;
}

void StudyStore::updateMeasurement(const Measurement& m) {
    validate(m);
    sqlite3* db = connection();
    Statement update(db, m_path,
                     "UPDATE measurement SET label = ?2, points = ?3, axis_u = ?4, axis_v = ?5 "
                     "WHERE id = ?1 AND kind = ?6");
    update.bind(1, m.id)
        .bind(2, m.label)
        .bindBlob(3, encodePoints(m.points))
        .bindBlob(4, encodePoints({m.axisU}))
        .bindBlob(5, encodePoints({m.axisV}))
        .bind(6, toString(m.kind));
    Transaction transaction(db, m_path);
    update.run();
    if (sqlite3_changes(db) > 0) {
        AuditLog::append(db, m_path, defaultActor(), "measurement.update", m.seriesInstanceUid,
                         measurementDetails(m.id, m));
        transaction.commit();
        return;
    }
    Statement query(db, m_path, "SELECT kind FROM measurement WHERE id = ?1");
    query.bind(1, m.id);
    if (!query.step()) {
        throw std::runtime_error("Radiolens database " + m_path + ": no measurement has id " +
                                 std::to_string(m.id));
    }
    throw std::invalid_argument("Measurement " + std::to_string(m.id) + " is a " + query.text(0) +
                                ", not a " + toString(m.kind));
}

void StudyStore::removeMeasurement(std::int64_t id) {
    sqlite3* db = connection();
    Transaction transaction(db, m_path);
    Statement query(db, m_path, "SELECT series_uid, kind, label FROM measurement WHERE id = ?1");
    query.bind(1, id);
    if (!query.step()) {
        return;
    }
    const std::string series = query.text(0);
    std::ostringstream details;
    JsonWriter(details, false)
        .beginObject()
        .field("id", (long long)id)
        .field("kind", query.text(1))
        .field("label", query.text(2))
        .endObject();
    Statement remove(db, m_path, "DELETE FROM measurement WHERE id = ?1");
    remove.bind(1, id).run();
    AuditLog::append(db, m_path, defaultActor(), "measurement.remove", series, details.str());
    transaction.commit();
}

std::vector<Measurement>
StudyStore::measurementsForSeries(const std::string& seriesInstanceUid) const {
    const std::string sql = std::string(kSelectMeasurement) + "WHERE series_uid = ?1 ORDER BY id";
    Statement query(connection(), m_path, sql.c_str());
    query.bind(1, seriesInstanceUid);
    return readMeasurements(query, m_path);
}

std::vector<Measurement>
StudyStore::measurementsForStudy(const std::string& studyInstanceUid) const {
    const std::string sql = std::string(kSelectMeasurement) + "WHERE study_uid = ?1 ORDER BY id";
    Statement query(connection(), m_path, sql.c_str());
    query.bind(1, studyInstanceUid);
    return readMeasurements(query, m_path);
}

void StudyStore::addRecent(const RecentStudy& study) {
    if (!validPaths(study.paths)) {
        throw std::invalid_argument("A recent study needs at least one path, and no path may be "
                                    "empty or contain a NUL character");
    }
    sqlite3* db = connection();
    const std::vector<unsigned char> key = pathSetKey(study.paths);
    Transaction transaction(db, m_path);

    Statement remove(db, m_path, "DELETE FROM recent_study WHERE path_set = ?1");
    remove.bindBlob(1, key).run();

    Statement insert(db, m_path,
                     "INSERT INTO recent_study (path_set, label, opened_at) VALUES (?1, ?2, ?3)");
    insert.bindBlob(1, key)
        .bind(2, study.label)
        .bind(3, study.openedAt != 0 ? study.openedAt : secondsSinceEpoch())
        .run();
    const std::int64_t id = sqlite3_last_insert_rowid(db);

    Statement insertPath(db, m_path,
                         "INSERT INTO recent_path (recent_id, position, path) VALUES (?1, ?2, ?3)");
    for (std::size_t i = 0; i < study.paths.size(); ++i) {
        insertPath.reset();
        insertPath.bind(1, id).bind(2, static_cast<std::int64_t>(i)).bind(3, study.paths[i]).run();
    }

    Statement trim(db, m_path,
                   "DELETE FROM recent_study WHERE id NOT IN "
                   "(SELECT id FROM recent_study ORDER BY id DESC LIMIT ?1)");
    trim.bind(1, static_cast<std::int64_t>(maxRecentStudies)).run();

    transaction.commit();
}

std::vector<RecentStudy> StudyStore::recentStudies(std::size_t limit) const {
    Statement query(connection(), m_path,
                    "SELECT r.id, r.label, r.opened_at, p.path "
                    "FROM (SELECT * FROM recent_study ORDER BY id DESC LIMIT ?1) AS r "
                    "JOIN recent_path AS p ON p.recent_id = r.id "
                    "ORDER BY r.id DESC, p.position");
    const auto maxLimit = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    query.bind(1, static_cast<std::int64_t>(std::min(limit, maxLimit)));
    std::vector<RecentStudy> result;
    std::int64_t currentId = 0;
    while (query.step()) {
        const std::int64_t id = query.int64(0);
        if (result.empty() || id != currentId) {
            currentId = id;
            RecentStudy study;
            study.label = query.text(1);
            study.openedAt = query.int64(2);
            result.push_back(std::move(study));
        }
        result.back().paths.push_back(query.text(3));
    }
    return result;
}

void StudyStore::removeRecent(const std::vector<std::string>& paths) {
    sqlite3* db = connection();
    if (!validPaths(paths)) {
        return;
    }
    Statement remove(db, m_path, "DELETE FROM recent_study WHERE path_set = ?1");
    remove.bindBlob(1, pathSetKey(paths)).run();
}

int StudyStore::schemaVersion() const {
    return readSchemaVersion(connection(), m_path);
}

std::string StudyStore::integrityCheck() const {
    Statement query(connection(), m_path, "PRAGMA integrity_check");
    std::string result;
    while (query.step()) {
        result += (result.empty() ? "" : "\n") + query.text(0);
    }
    return result;
}

namespace {

/// Copies every page of `from` into `to` with SQLite's online backup; throws naming `what`.
void copyDatabase(sqlite3* from, sqlite3* to, const std::string& what) {
    sqlite3_backup* backup = sqlite3_backup_init(to, "main", from, "main");
    if (backup == nullptr) {
        throw std::runtime_error(what + ": " + sqlite3_errmsg(to));
    }
    int rc = SQLITE_OK;
    do {
        // Pages in steps, so that a busy store lets its other users in between.
        rc = sqlite3_backup_step(backup, 1024);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            sqlite3_sleep(20);
        }
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
        throw std::runtime_error(what + ": " + sqlite3_errstr(rc));
    }
}

std::string timeStamp() {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char text[32];
    std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", &local);
    return text;
}

} // namespace

void StudyStore::backupTo(const std::string& backupPath) const {
    const fs::path target = fs::absolute(backupPath);
    if (target == fs::absolute(m_path)) {
        throw std::runtime_error("Cannot back up " + m_path + " onto itself");
    }
    std::error_code error;
    if (!target.parent_path().empty()) {
        fs::create_directories(target.parent_path(), error);
    }
    const std::string temporary = target.string() + ".partial";
    fs::remove(temporary, error);
    {
        sqlite3* raw = nullptr;
        const int rc = sqlite3_open_v2(temporary.c_str(), &raw,
                                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
        Connection copy(raw);
        if (rc != SQLITE_OK) {
            throw std::runtime_error("Cannot write the backup " + backupPath + ": " +
                                     (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
        }
        try {
            copyDatabase(connection(), copy.get(), "Cannot write the backup " + backupPath);
            // A backup is one self-contained file: no write-ahead log beside it.
            exec(copy.get(), temporary, "PRAGMA journal_mode=DELETE");
            Statement check(copy.get(), temporary, "PRAGMA integrity_check");
            check.step();
            if (check.text(0) != "ok") {
                throw std::runtime_error("The backup " + backupPath +
                                         " does not check: " + check.text(0));
            }
        } catch (...) {
            copy.reset();
            fs::remove(temporary, error);
            throw;
        }
    }
    syncToDisk(temporary);
    fs::rename(temporary, target, error);
    if (error) {
        fs::remove(temporary, error);
        throw std::runtime_error("Cannot write the backup " + backupPath + ": " + error.message());
    }
    syncToDisk(target.parent_path().empty() ? "." : target.parent_path().string());
}

std::string StudyStore::restore(const std::string& backupPath, const std::string& storePath) {
    if (!fs::is_regular_file(backupPath)) {
        throw std::runtime_error("Cannot restore from " + backupPath + ": no such file");
    }
    // The backup must be whole, Radiolens's, readable by this build, and its audit log must
    // verify; opening it as a store checks all of that (and migrates a copy, not the file).
    const std::string checked = storePath + ".restoring";
    std::error_code error;
    fs::remove(checked, error);
    fs::copy_file(backupPath, checked, error);
    if (error) {
        throw std::runtime_error("Cannot restore from " + backupPath + ": " + error.message());
    }
    std::unique_ptr<StudyStore> source;
    try {
        source = std::make_unique<StudyStore>(checked);
    } catch (const std::exception& e) {
        fs::remove(checked, error);
        fs::remove(checked + "-wal", error);
        fs::remove(checked + "-shm", error);
        throw std::runtime_error("Cannot restore from " + backupPath + ": " + e.what());
    }
    StudyStore target(storePath, OpenCheck::SkipAudit);
    // Never over an earlier one: two restores in one second get two files.
    std::string before = storePath + ".before-restore-" + timeStamp();
    for (int n = 2; fs::exists(before); ++n) {
        before = storePath + ".before-restore-" + timeStamp() + "-" + std::to_string(n);
    }
    target.backupTo(before);
    copyDatabase(source->connection(), target.connection(),
                 "Cannot restore " + storePath + " from " + backupPath);
    source.reset();
    fs::remove(checked, error);
    fs::remove(checked + "-wal", error);
    fs::remove(checked + "-shm", error);
    return before;
}

std::string StudyStore::defaultActor() {
    if (const char* user = std::getenv("USER"); user != nullptr && *user != '\0') {
        return user;
    }
    if (const passwd* entry = ::getpwuid(::getuid()); entry != nullptr && entry->pw_name) {
        return entry->pw_name;
    }
    return "unknown";
}

} // namespace radiolens
