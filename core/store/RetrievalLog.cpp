#include "core/store/RetrievalLog.h"

#include "core/domain/Label.h"
#include "core/store/Sql.h"
#include "core/store/StudyStore.h"

#include <stdexcept>

namespace radiolens {

namespace {

Retrieval::State parseState(const std::string& text) {
    for (Retrieval::State s : {Retrieval::State::Retrieving, Retrieval::State::Complete,
                               Retrieval::State::Incomplete, Retrieval::State::Cancelled}) {
        if (text == toString(s)) {
            return s;
        }
    }
    return Retrieval::State::Incomplete;
}

constexpr const char* kColumns =
    "SELECT study_uid, node, folder, state, expected, present, error, updated_ms FROM retrieval ";

Retrieval rowOf(const sql::Statement& q) {
    Retrieval r;
    r.studyInstanceUid = q.text(0);
    r.node = q.text(1);
    r.folder = q.text(2);
    r.state = parseState(q.text(3));
    r.expected = int(q.int64(4));
    r.present = int(q.int64(5));
    r.error = q.text(6);
    r.updatedMs = q.int64(7);
    return r;
}

} // namespace

RetrievalLog::RetrievalLog(StudyStore& store)
    : m_store(store) {}

void RetrievalLog::record(Retrieval r) {
    if (r.studyInstanceUid.empty()) {
        throw std::invalid_argument("a retrieval needs its Study Instance UID");
    }
    sql::Statement insert(m_store.handle(), m_store.path(),
                          "INSERT OR REPLACE INTO retrieval (study_uid, node, folder, state, "
                          "expected, present, error, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, r.studyInstanceUid)
        .bind(2, r.node)
        .bind(3, r.folder)
        .bind(4, toString(r.state))
        .bind(5, r.expected)
        .bind(6, r.present)
        .bind(7, r.error)
        .bind(8, r.updatedMs != 0 ? r.updatedMs : nowMs())
        .run();
}

std::optional<Retrieval> RetrievalLog::find(const std::string& studyInstanceUid) const {
    sql::Statement q(m_store.handle(), m_store.path(),
                     std::string(kColumns) + "WHERE study_uid = ?");
    q.bind(1, studyInstanceUid);
    if (!q.step()) {
        return std::nullopt;
    }
    return rowOf(q);
}

std::vector<Retrieval> RetrievalLog::all() const {
    sql::Statement q(m_store.handle(), m_store.path(),
                     std::string(kColumns) + "ORDER BY updated_ms DESC, study_uid");
    std::vector<Retrieval> out;
    while (q.step()) {
        out.push_back(rowOf(q));
    }
    return out;
}

} // namespace radiolens
