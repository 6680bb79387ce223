#pragma once
// Store-internal (core/store): thin RAII helpers over SQLite's C API, shared by the parts of the
// store (measurements, labels, audit log, model registry, study index). Every failure throws
// std::runtime_error naming the database file and carrying SQLite's message.

#include <cstdint>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace radiolens::sql {

[[noreturn]] void fail(sqlite3* db, const std::string& path, const std::string& what);

/// Runs SQL text that contains no values (schema scripts, transaction control).
void exec(sqlite3* db, const std::string& path, const char* sql);

/// A prepared statement with bound parameters; finalized on destruction.
class Statement {
public:
    Statement(sqlite3* db, const std::string& path, const char* sql);
    Statement(sqlite3* db, const std::string& path, const std::string& sql)
        : Statement(db, path, sql.c_str()) {}
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, const std::string& text);
    Statement& bind(int index, const char* text) { return bind(index, std::string(text)); }
    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, int value) { return bind(index, std::int64_t(value)); }
    Statement& bind(int index, double value);
    Statement& bindNull(int index);
    Statement& bindBlob(int index, const std::vector<unsigned char>& bytes);

    /// True when a row is available, false when the statement has finished.
    bool step();
    /// Runs a statement that returns no rows.
    void run() { step(); }
    /// Makes the statement ready to run again with new parameters.
    void reset();

    std::int64_t int64(int column) const;
    double real(int column) const;
    bool isNull(int column) const;
    std::string text(int column) const;
    std::vector<unsigned char> blob(int column) const;

private:
    void check(int rc);

    sqlite3* m_db;
    const std::string& m_path;
    sqlite3_stmt* m_stmt = nullptr;
};

/// BEGIN IMMEDIATE (takes the write lock up front, so the transaction cannot fail half-way for
/// another writer); rolled back unless commit() is called.
class Transaction {
public:
    Transaction(sqlite3* db, const std::string& path);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void commit();

private:
    sqlite3* m_db;
    const std::string& m_path;
    bool m_committed = false;
};

/// A read transaction (BEGIN DEFERRED): every query inside sees one snapshot of the database,
/// whatever other connections commit meanwhile. Ended on destruction.
class ReadTransaction {
public:
    ReadTransaction(sqlite3* db, const std::string& path);
    ~ReadTransaction();
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;

private:
    sqlite3* m_db;
};

/// The rowid of the last row this connection inserted.
std::int64_t lastInsertId(sqlite3* db);
/// Rows the last statement changed.
int changes(sqlite3* db);

} // namespace radiolens::sql
