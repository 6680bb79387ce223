#pragma once

#include "core/domain/Measurement.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct sqlite3;

namespace radiolens {

/// The local SQLite store, one file in the user's data folder: measurements a reader drew and
/// the recently opened studies (this class), labels (LabelStore), the hash-chained audit log
/// (AuditLog), the model registry and training runs (ModelRegistry) and the study index
/// (IndexCache), each a part that works on this store's connection.
///
/// Durability: every change is committed (in WAL mode with `synchronous=FULL`) before the call
/// returns, so it survives the application crashing or being killed, and a power cut.
///
/// Units: measurement points and axes are in patient coordinates (LPS, mm) and round-trip
/// bit-exactly; times are seconds since 1970 (UTC).
///
/// Errors: SQLite failures throw std::runtime_error naming the database file and carrying
/// SQLite's message; malformed arguments throw std::invalid_argument.
///
/// Thread-safety: one StudyStore is used from one thread at a time (the GUI thread); it has no
/// locking of its own. The connection is opened with SQLITE_OPEN_FULLMUTEX all the same. Several
/// StudyStore objects (in one process or several) may use the same file; each sees what the
/// others have committed, and a writer waits up to 5 s for another writer's lock.
class StudyStore {
public:
    /// Recent studies kept; older ones are dropped by addRecent().
    static constexpr std::size_t maxRecentStudies = 50;
    /// Schema version (PRAGMA user_version) this build creates and understands.
    static constexpr int currentSchemaVersion = 3;

    /// What opening checks besides the file's identity and structure.
    enum class OpenCheck {
        Full,     ///< also the audit log's hash chain (the default: the application and commands)
        SkipAudit ///< to examine or repair a store whose audit log does not verify
    };

    /// Opens the database at `databasePath`, creating the file and its parent folders when
    /// missing, and creates or migrates the schema. On open it checks the file's structure
    /// (SQLite's quick_check; a write interrupted by a crash or a kill was already rolled back
    /// or completed from the write-ahead log by then) and, with OpenCheck::Full, the audit
    /// log's hash chain. Throws std::runtime_error, leaving the file untouched, when the path
    /// is a folder, cannot be opened or created, is not a Radiolens database, was written by a
    /// newer Radiolens (a higher schema version), is damaged, or its audit log does not verify;
    /// the message says which, and how to go on (`radiolens-cli store check`, `store restore`).
    explicit StudyStore(const std::string& databasePath, OpenCheck check = OpenCheck::Full);
    ~StudyStore();

    StudyStore(const StudyStore&) = delete;
    StudyStore& operator=(const StudyStore&) = delete;
    /// A moved-from store throws std::logic_error from every member except destruction and
    /// assignment.
    StudyStore(StudyStore&& other) noexcept;
    StudyStore& operator=(StudyStore&& other) noexcept;

    /// userDataFolder() + "/radiolens.sqlite".
    static std::string defaultPath();

    /// The file this store was opened on, as given to the constructor.
    const std::string& path() const { return m_path; }

    /// Saves a new measurement and returns its id (ids grow, and are never reused). `m.id` is
    /// ignored; a `createdAt` of 0 is replaced by the current time. Throws
    /// std::invalid_argument when the number of points is not pointCount(m.kind) or a
    /// coordinate is not finite.
    std::int64_t addMeasurement(const Measurement& m);

    /// Replaces the label, the points and the drawing plane (axisU, axisV) of measurement
    /// `m.id`; UIDs, kind and createdAt stay as saved. Throws std::invalid_argument for points
    /// as addMeasurement() does or when `m.kind` differs from the saved kind, and
    /// std::runtime_error when no measurement has that id.
    void updateMeasurement(const Measurement& m);

    /// Deletes a measurement; an id that does not exist is ignored.
    void removeMeasurement(std::int64_t id);

    /// The measurements of one series, in the order they were added (by id).
    std::vector<Measurement> measurementsForSeries(const std::string& seriesInstanceUid) const;
    /// The measurements of all series of one study, in the order they were added (by id).
    std::vector<Measurement> measurementsForStudy(const std::string& studyInstanceUid) const;

    /// Records that `study` was opened; it becomes the most recent. Opening the same set of
    /// paths again (order and repeats ignored; paths compared as given, byte for byte) moves
    /// that entry to the top with the new label, path order and time, instead of adding
    /// another. An `openedAt` of 0 is replaced by the current time. Only the most recent
    /// maxRecentStudies entries are kept. Throws std::invalid_argument when `study.paths` is
    /// empty.
    void addRecent(const RecentStudy& study);

    /// Up to `limit` recent studies, most recently added first.
    std::vector<RecentStudy> recentStudies(std::size_t limit = 10) const;

    /// Forgets the recent entry with this set of paths (compared as addRecent() does), e.g.
    /// when its files are gone. Nothing happens when there is no such entry.
    void removeRecent(const std::vector<std::string>& paths);

    /// Test-only: the schema version stored in the file (PRAGMA user_version).
    int schemaVersion() const;

    /// `PRAGMA integrity_check`: "ok", or SQLite's list of what is damaged.
    std::string integrityCheck() const;

    /// Writes a consistent copy of the whole store to `backupPath` while others may go on
    /// using it (SQLite's online backup), flushed to disk and checked (integrity_check) before
    /// it is renamed into place; an existing file there is replaced. Throws std::runtime_error
    /// naming the file.
    void backupTo(const std::string& backupPath) const;

    /// Replaces the content of the store at `storePath` by the backup at `backupPath`, after
    /// checking that the backup is an intact Radiolens database of a schema this build reads
    /// and that its audit log verifies. What the store held before is first saved as a backup
    /// beside it, named `storePath.before-restore-YYYYMMDD-HHMMSS`; that name is returned.
    /// Other processes may have the store open: they see the restored content at their next
    /// read. A backup of an older schema is migrated. Throws std::runtime_error naming the
    /// file and the reason, changing nothing.
    static std::string restore(const std::string& backupPath, const std::string& storePath);

    /// The open connection, for the other parts of the store (LabelStore, AuditLog,
    /// ModelRegistry, IndexCache); not for use outside core/store. Throws std::logic_error
    /// after a move.
    sqlite3* handle() const { return connection(); }

    /// Who is acting, for the audit log when no name is given: $USER, else the login name of
    /// the process's user, else "unknown".
    static std::string defaultActor();

private:
    sqlite3* connection() const;

    std::string m_path;
    sqlite3* m_db = nullptr; ///< owned; null after a move
};

} // namespace radiolens
