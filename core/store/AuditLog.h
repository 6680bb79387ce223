#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct sqlite3;

namespace radiolens {

class StudyStore;

/// One entry of the audit log: who did what to which subject, and when.
struct AuditEntry {
    std::int64_t id = 0;      ///< 1, 2, 3, ... without gaps
    std::int64_t timeMs = 0;  ///< milliseconds since 1970 (UTC)
    std::string actor;        ///< the person (or "radiolens" for the program itself)
    std::string action;       ///< e.g. "label.add", "model.promote", "measurement.remove"
    std::string subject;      ///< what it was done to: a UID, a model "id@version", a file
    std::string details;      ///< a compact JSON object with the rest
    std::string previousHash; ///< `hash` of entry id - 1 (64 zeros for entry 1)
    std::string hash;         ///< SHA-256 of previousHash and every field of this entry
};

/// What AuditLog::verify() found.
struct AuditVerification {
    bool ok = true;
    std::size_t entries = 0;     ///< entries read
    std::int64_t firstBadId = 0; ///< the first entry that does not check; 0 when ok
    std::string reason;          ///< in words, naming the entry; empty when ok
    std::string headHash;        ///< hash of the last entry (write it down to anchor the log)
};

/// The store's audit log: append-only (the database refuses UPDATE and DELETE on it) and
/// hash-chained: each entry carries the SHA-256 of the previous one, and its own hash covers
/// that and all of its fields. Every change to labels, measurements, the model registry and
/// training runs is appended in the same transaction as the change itself, so the log and
/// the data never disagree, even after a crash.
///
/// verify() recomputes the chain: it detects an entry edited, inserted, reordered or removed
/// anywhere (ids must run 1, 2, 3, ... and SQLite's AUTOINCREMENT counter must equal the last
/// id, so removing the newest entries is caught too). Someone who rewrites the whole chain
/// from the edited entry on is caught only against a head hash written down earlier
/// (`expectHead`). Thread-safety: as StudyStore.
class AuditLog {
public:
    explicit AuditLog(const StudyStore& store);

    /// Entries with id > `afterId`, oldest first, at most `limit` (0: all).
    std::vector<AuditEntry> entries(std::int64_t afterId = 0, std::size_t limit = 0) const;

    /// Checks the whole chain. With `expectHead` (a headHash reported earlier), also checks
    /// that an entry with that hash is still in the chain.
    AuditVerification verify(const std::string& expectHead = {}) const;

    /// Appends an entry inside the caller's open write transaction (BEGIN IMMEDIATE), so it
    /// commits or rolls back with the change it records. `timeMs` 0: now. For the store's
    /// parts; returns the new entry's id.
    static std::int64_t append(sqlite3* db, const std::string& databasePath,
                               const std::string& actor, const std::string& action,
                               const std::string& subject, const std::string& details,
                               std::int64_t timeMs = 0);

    /// The hash of an entry with these fields (what verify() recomputes).
    static std::string entryHash(const AuditEntry& entry);

private:
    const StudyStore& m_store;
};

} // namespace radiolens
