#include "core/store/Sql.h"

#include <sqlite3.h>

#include <stdexcept>

namespace radiolens::sql {

void fail(sqlite3* db, const std::string& path, const std::string& what) {
    throw std::runtime_error("Radiolens database " + path + ": " + what + ": " +
                             sqlite3_errmsg(db));
}

void exec(sqlite3* db, const std::string& path, const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
        fail(db, path, std::string("cannot run \"") + sql + "\"");
    }
}

Statement::Statement(sqlite3* db, const std::string& path, const char* sql)
    : m_db(db)
    , m_path(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &m_stmt, nullptr) != SQLITE_OK) {
        fail(m_db, m_path, std::string("cannot prepare \"") + sql + "\"");
    }
}

Statement::~Statement() {
    sqlite3_finalize(m_stmt);
}

Statement& Statement::bind(int index, const std::string& text) {
    check(sqlite3_bind_text(m_stmt, index, text.data(), static_cast<int>(text.size()),
                            SQLITE_TRANSIENT));
    return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
    check(sqlite3_bind_int64(m_stmt, index, value));
    return *this;
}

Statement& Statement::bind(int index, double value) {
    check(sqlite3_bind_double(m_stmt, index, value));
    return *this;
}

Statement& Statement::bindNull(int index) {
    check(sqlite3_bind_null(m_stmt, index));
    return *this;
}

Statement& Statement::bindBlob(int index, const std::vector<unsigned char>& bytes) {
    if (bytes.empty()) {
        check(sqlite3_bind_zeroblob(m_stmt, index, 0));
    } else {
        check(sqlite3_bind_blob(m_stmt, index, bytes.data(), static_cast<int>(bytes.size()),
                                SQLITE_TRANSIENT));
    }
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    fail(m_db, m_path, std::string("cannot run \"") + sqlite3_sql(m_stmt) + "\"");
}

void Statement::reset() {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

std::int64_t Statement::int64(int column) const {
    return sqlite3_column_int64(m_stmt, column);
}

double Statement::real(int column) const {
    return sqlite3_column_double(m_stmt, column);
}

bool Statement::isNull(int column) const {
    return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
}

std::string Statement::text(int column) const {
    const auto* data = sqlite3_column_text(m_stmt, column);
    const int size = sqlite3_column_bytes(m_stmt, column);
    return data != nullptr ? std::string(reinterpret_cast<const char*>(data), size) : std::string();
}

std::vector<unsigned char> Statement::blob(int column) const {
    const auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(m_stmt, column));
    const int size = sqlite3_column_bytes(m_stmt, column);
    return data != nullptr ? std::vector<unsigned char>(data, data + size)
                           : std::vector<unsigned char>();
}

void Statement::check(int rc) {
    if (rc != SQLITE_OK) {
        fail(m_db, m_path, std::string("cannot bind a value to \"") + sqlite3_sql(m_stmt) + "\"");
    }
}

Transaction::Transaction(sqlite3* db, const std::string& path)
    : m_db(db)
    , m_path(path) {
    exec(m_db, m_path, "BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
    if (!m_committed) {
        sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void Transaction::commit() {
    exec(m_db, m_path, "COMMIT");
    m_committed = true;
}

ReadTransaction::ReadTransaction(sqlite3* db, const std::string& path)
    : m_db(db) {
    exec(db, path, "BEGIN DEFERRED");
}

ReadTransaction::~ReadTransaction() {
    sqlite3_exec(m_db, "COMMIT", nullptr, nullptr, nullptr);
}

std::int64_t lastInsertId(sqlite3* db) {
    return sqlite3_last_insert_rowid(db);
}

int changes(sqlite3* db) {
    return sqlite3_changes(db);
}

} // namespace radiolens::sql
