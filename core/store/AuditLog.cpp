#include "core/store/AuditLog.h"

#include "core/domain/Label.h"
#include "core/domain/Sha256.h"
#include "core/store/Sql.h"
#include "core/store/StudyStore.h"

namespace radiolens {

namespace {

const std::string kGenesis(64, '0');

AuditEntry readEntry(const sql::Statement& query) {
    AuditEntry e;
    e.id = query.int64(0);
    e.timeMs = query.int64(1);
    e.actor = query.text(2);
    e.action = query.text(3);
    e.subject = query.text(4);
    e.details = query.text(5);
    e.previousHash = query.text(6);
    e.hash = query.text(7);
    return e;
}

constexpr const char* kSelect =
    "SELECT id, time_ms, actor, action, subject, details, previous_hash, hash FROM audit ";

} // namespace

AuditLog::AuditLog(const StudyStore& store)
    : m_store(store) {}

std::string AuditLog::entryHash(const AuditEntry& e) {
    // Fields separated by the ASCII unit separator and each prefixed with its length, so no
    // two different entries hash the same text.
    Sha256 hash;
    const auto add = [&hash](const std::string& field) {
        const std::string length = std::to_string(field.size()) + ":";
        hash.update(length.data(), length.size());
        hash.update(field.data(), field.size());
        hash.update("\x1f", 1);
    };
    add(e.previousHash);
    add(std::to_string(e.id));
    add(std::to_string(e.timeMs));
    add(e.actor);
    add(e.action);
    add(e.subject);
    add(e.details);
    return hash.hexDigest();
}

std::int64_t AuditLog::append(sqlite3* db, const std::string& path, const std::string& actor,
                              const std::string& action, const std::string& subject,
                              const std::string& details, std::int64_t timeMs) {
    AuditEntry e;
    sql::Statement last(db, path, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1");
    if (last.step()) {
        e.id = last.int64(0) + 1;
        e.previousHash = last.text(1);
    } else {
        e.id = 1;
        e.previousHash = kGenesis;
    }
    e.timeMs = timeMs != 0 ? timeMs : nowMs();
    e.actor = actor.empty() ? StudyStore::defaultActor() : actor;
    e.action = action;
    e.subject = subject;
    e.details = details.empty() ? "{}" : details;
    e.hash = entryHash(e);
    sql::Statement insert(db, path,
                          "INSERT INTO audit (id, time_ms, actor, action, subject, details, "
                          "previous_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    insert.bind(1, e.id)
        .bind(2, e.timeMs)
        .bind(3, e.actor)
        .bind(4, e.action)
        .bind(5, e.subject)
        .bind(6, e.details)
        .bind(7, e.previousHash)
        .bind(8, e.hash)
        .run();
    return e.id;
}

std::vector<AuditEntry> AuditLog::entries(std::int64_t afterId, std::size_t limit) const {
    const std::string sql = std::string(kSelect) + "WHERE id > ?1 ORDER BY id LIMIT ?2";
    sql::Statement query(m_store.handle(), m_store.path(), sql);
    query.bind(1, afterId).bind(2, limit == 0 ? std::int64_t(-1) : std::int64_t(limit));
    std::vector<AuditEntry> result;
    while (query.step()) {
        result.push_back(readEntry(query));
    }
    return result;
}

AuditVerification AuditLog::verify(const std::string& expectHead) const {
    AuditVerification v;
    const auto bad = [&v](std::int64_t id, const std::string& reason) {
        if (v.ok) {
            v.ok = false;
            v.firstBadId = id;
            v.reason = reason;
        }
    };
    // One snapshot for the chain and the entry counter, whatever is appended meanwhile.
    sql::ReadTransaction snapshot(m_store.handle(), m_store.path());
    sql::Statement query(m_store.handle(), m_store.path(), std::string(kSelect) + "ORDER BY id");
    std::string previous = kGenesis;
    std::int64_t expectedId = 1;
    bool headSeen = expectHead.empty();
    while (query.step()) {
        const AuditEntry e = readEntry(query);
        ++v.entries;
        if (e.id != expectedId) {
            bad(expectedId, e.id > expectedId
                                ? "entries " + std::to_string(expectedId) + "-" +
                                      std::to_string(e.id - 1) + " are missing (deleted)"
                                : "entry " + std::to_string(e.id) + " is out of order");
        }
        if (e.previousHash != previous) {
            bad(e.id, "entry " + std::to_string(e.id) +
                          " does not follow the entry before it (an entry was removed, inserted "
                          "or changed)");
        }
        if (entryHash(e) != e.hash) {
            bad(e.id, "entry " + std::to_string(e.id) + " was changed after it was written (" +
                          e.action + " " + e.subject + ")");
        }
        headSeen = headSeen || e.hash == expectHead;
        previous = e.hash;
        expectedId = e.id + 1;
    }
    v.headHash = v.entries > 0 ? previous : std::string();
    // AUTOINCREMENT remembers the largest id ever used: fewer entries means the newest ones
    // were removed.
    sql::Statement sequence(m_store.handle(), m_store.path(),
                            "SELECT seq FROM sqlite_sequence WHERE name = 'audit'");
    const std::int64_t highest = sequence.step() ? sequence.int64(0) : 0;
    if (highest != expectedId - 1) {
        bad(expectedId, highest > expectedId - 1
                            ? "entries " + std::to_string(expectedId) + "-" +
                                  std::to_string(highest) +
                                  " are missing (the newest entries were deleted)"
                            : "the log's entry counter was reset (entries were replaced)");
    }
    if (!headSeen) {
        bad(0, "the head hash written down earlier (" + expectHead.substr(0, 12) +
                   "...) is not in the chain: the log was rewritten");
    }
    return v;
}

} // namespace radiolens
