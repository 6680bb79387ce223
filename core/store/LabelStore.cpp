#include "core/store/LabelStore.h"

#include "core/domain/JsonValue.h"
#include "core/domain/JsonWriter.h"
#include "core/domain/Sha256.h"
#include "core/store/AuditLog.h"
#include "core/store/Sql.h"
#include "core/store/StudyStore.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

namespace radiolens {

namespace {

constexpr const char* kColumns = "l.id, l.level, l.item, l.class, l.annotator, l.time_ms, "
                                 "l.source, l.model_id, l.model_version, l.probability, "
                                 "l.confirmed";

Label readLabel(const sql::Statement& q, const std::string& path) {
    Label l;
    l.id = q.int64(0);
    if (!parseLabelLevel(q.text(1), l.level) || !parseLabelSource(q.text(6), l.source)) {
        throw std::runtime_error("Radiolens database " + path + ": label " + std::to_string(l.id) +
                                 " is damaged");
    }
    l.item = q.text(2);
    l.className = q.text(3);
    l.annotator = q.text(4);
    l.timeMs = q.int64(5);
    l.modelId = q.text(7);
    l.modelVersion = q.text(8);
    l.probability = q.isNull(9) ? -1.0 : q.real(9);
    l.confirmed = q.int64(10) != 0;
    return l;
}

bool hasControlCharacters(const std::string& text) {
    return std::any_of(text.begin(), text.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

void validate(const Label& l) {
    if (l.item.empty() || hasControlCharacters(l.item)) {
        throw std::invalid_argument("A label needs the UID of its item (instance, series or "
                                    "study), without control characters");
    }
    if (l.annotator.empty() || hasControlCharacters(l.annotator)) {
        throw std::invalid_argument("A label needs an annotator, without control characters");
    }
    if (hasControlCharacters(l.className)) {
        throw std::invalid_argument("A class name may not contain control characters");
    }
    if (l.source == LabelSource::Model && (l.modelId.empty() || l.modelVersion.empty())) {
        throw std::invalid_argument("A model's suggestion needs the model's id and version");
    }
    if (l.probability != -1.0 && !(l.probability >= 0.0 && l.probability <= 1.0)) {
        throw std::invalid_argument("A label's probability must be in [0, 1]");
    }
}

std::string labelDetails(const Label& l) {
    std::ostringstream out;
    JsonWriter json(out, false);
    json.beginObject()
        .field("id", (long long)l.id)
        .field("level", toString(l.level))
        .field("class", l.className)
        .field("source", toString(l.source));
    if (l.source == LabelSource::Model) {
        json.field("model", l.modelId + "@" + l.modelVersion)
            .field("probability", l.probability)
            .field("confirmed", l.confirmed);
    }
    json.endObject();
    return out.str();
}

/// Defines `name` inside the caller's transaction; true when it was new.
bool defineClass(sqlite3* db, const std::string& path, const std::string& name,
                 const std::string& actor) {
    sql::Statement insert(db, path,
                          "INSERT OR IGNORE INTO label_class (name, created_ms) VALUES (?1, ?2)");
    insert.bind(1, name).bind(2, nowMs()).run();
    if (sql::changes(db) == 0) {
        return false;
    }
    AuditLog::append(db, path, actor, "label.class.add", name, "{}");
    return true;
}

/// Inserts `l` inside the caller's transaction (its time set), with its audit entry.
void insertLabel(sqlite3* db, const std::string& path, Label& l, const std::string& actor,
                 bool* newClass) {
    validate(l);
    if (l.timeMs == 0) {
        l.timeMs = nowMs();
    }
    const bool added = !l.className.empty() && defineClass(db, path, l.className, actor);
    if (newClass != nullptr) {
        *newClass = added;
    }
    sql::Statement insert(db, path,
                          "INSERT INTO label (level, item, class, annotator, time_ms, source, "
                          "model_id, model_version, probability, confirmed) VALUES (?1, ?2, ?3, "
                          "?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    insert.bind(1, toString(l.level))
        .bind(2, l.item)
        .bind(3, l.className)
        .bind(4, l.annotator)
        .bind(5, l.timeMs)
        .bind(6, toString(l.source))
        .bind(7, l.modelId)
        .bind(8, l.modelVersion);
    if (l.probability >= 0.0) {
        insert.bind(9, l.probability);
    } else {
        insert.bindNull(9);
    }
    insert.bind(10, std::int64_t(l.confirmed ? 1 : 0)).run();
    l.id = sql::lastInsertId(db);
    AuditLog::append(db, path, actor, l.className.empty() ? "label.withdraw" : "label.add", l.item,
                     labelDetails(l), l.timeMs);
}

} // namespace

LabelStore::LabelStore(StudyStore& store)
    : m_store(store) {}

std::vector<std::string> LabelStore::classes() const {
    sql::Statement query(m_store.handle(), m_store.path(),
                         "SELECT name FROM label_class ORDER BY position");
    std::vector<std::string> names;
    while (query.step()) {
        names.push_back(query.text(0));
    }
    return names;
}

bool LabelStore::addClass(const std::string& name, const std::string& actor) {
    if (name.empty() || hasControlCharacters(name)) {
        throw std::invalid_argument("A class needs a name without control characters");
    }
    sqlite3* db = m_store.handle();
    sql::Transaction transaction(db, m_store.path());
    const bool added = defineClass(db, m_store.path(), name, actor);
    transaction.commit();
    return added;
}

Label LabelStore::add(Label label, bool* newClass) {
    validate(label);
    sqlite3* db = m_store.handle();
    sql::Transaction transaction(db, m_store.path());
    insertLabel(db, m_store.path(), label, label.annotator, newClass);
    transaction.commit();
    return label;
}

std::vector<Label> LabelStore::addAll(std::vector<Label> labels, const std::string& actor,
                                      const std::string& what) {
    for (const Label& l : labels) {
        validate(l);
    }
    sqlite3* db = m_store.handle();
    sql::Transaction transaction(db, m_store.path());
    for (Label& l : labels) {
        insertLabel(db, m_store.path(), l, l.annotator, nullptr);
    }
    std::ostringstream details;
    JsonWriter(details, false).beginObject().field("labels", labels.size()).endObject();
    AuditLog::append(db, m_store.path(), actor, "label.batch", what, details.str());
    transaction.commit();
    return labels;
}

std::vector<Label> LabelStore::current(const LabelQuery& q) const {
    std::string sql = std::string("SELECT ") + kColumns +
                      " FROM label AS l JOIN (SELECT max(id) AS id FROM label GROUP BY level, "
                      "item, annotator) AS latest ON latest.id = l.id WHERE 1";
    if (!q.annotator.empty()) {
        sql += " AND l.annotator = ?1";
    }
    if (q.level) {
        sql += " AND l.level = ?2";
    }
    if (!q.item.empty()) {
        sql += " AND l.item = ?3";
    }
    if (!q.includeWithdrawn) {
        sql += " AND l.class <> ''";
    }
    sql += " ORDER BY l.id";
    sql::Statement query(m_store.handle(), m_store.path(), sql);
    if (!q.annotator.empty()) {
        query.bind(1, q.annotator);
    }
    if (q.level) {
        query.bind(2, toString(*q.level));
    }
    if (!q.item.empty()) {
        query.bind(3, q.item);
    }
    std::vector<Label> result;
    while (query.step()) {
        result.push_back(readLabel(query, m_store.path()));
    }
    return result;
}

std::vector<Label> LabelStore::history(LabelLevel level, const std::string& item) const {
    sql::Statement query(m_store.handle(), m_store.path(),
                         std::string("SELECT ") + kColumns +
                             " FROM label AS l WHERE level = ?1 AND item = ?2 ORDER BY id");
    query.bind(1, toString(level)).bind(2, item);
    std::vector<Label> result;
    while (query.step()) {
        result.push_back(readLabel(query, m_store.path()));
    }
    return result;
}

std::map<std::string, std::size_t> LabelStore::counts(const std::string& annotator) const {
    LabelQuery q;
    q.annotator = annotator;
    std::map<std::string, std::size_t> result;
    for (const std::string& name : classes()) {
        result[name] = 0;
    }
    for (const Label& l : current(q)) {
        ++result[l.className];
    }
    return result;
}

std::vector<std::string> LabelStore::annotators() const {
    sql::Statement query(m_store.handle(), m_store.path(),
                         "SELECT annotator FROM label GROUP BY annotator ORDER BY min(id)");
    std::vector<std::string> names;
    while (query.step()) {
        names.push_back(query.text(0));
    }
    return names;
}

std::size_t LabelStore::size() const {
    sql::Statement query(m_store.handle(), m_store.path(), "SELECT count(*) FROM label");
    query.step();
    return std::size_t(query.int64(0));
}

Agreement LabelStore::agreement(const std::string& readerA, const std::string& readerB,
                                std::optional<LabelLevel> level) const {
    LabelQuery qa;
    qa.annotator = readerA;
    qa.level = level;
    LabelQuery qb = qa;
    qb.annotator = readerB;
    std::map<std::pair<int, std::string>, std::string> ofA;
    for (const Label& l : current(qa)) {
        ofA[{int(l.level), l.item}] = l.className;
    }
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const Label& l : current(qb)) {
        const auto it = ofA.find({int(l.level), l.item});
        if (it != ofA.end()) {
            pairs.emplace_back(it->second, l.className);
        }
    }
    Agreement result = cohensKappa(pairs);
    result.readerA = readerA;
    result.readerB = readerB;
    return result;
}

Consensus LabelStore::consensus(LabelLevel level) const {
    LabelQuery q;
    q.level = level;
    Consensus result;
    std::map<std::string, std::vector<Label>> byItem;
    for (Label& l : current(q)) {
        if (!l.trusted()) {
            ++result.unconfirmedSuggestions;
            continue;
        }
        byItem[l.item].push_back(std::move(l));
    }
    Sha256 hash;
    for (auto& [item, labels] : byItem) {
        const bool agree = std::all_of(labels.begin(), labels.end(), [&](const Label& l) {
            return l.className == labels.front().className;
        });
        if (!agree) {
            result.disagreements[item] = std::move(labels);
            continue;
        }
        result.items[item] = labels.front().className;
        const std::string line =
            std::string(toString(level)) + " " + item + " " + labels.front().className + "\n";
        hash.update(line.data(), line.size());
    }
    result.sha256 = hash.hexDigest();
    return result;
}

void LabelStore::saveSuggestions(const std::string& modelId, const std::string& modelVersion,
                                 const std::map<std::string, std::vector<double>>& probabilities) {
    sqlite3* db = m_store.handle();
    sql::Transaction transaction(db, m_store.path());
    sql::Statement insert(db, m_store.path(),
                          "INSERT OR REPLACE INTO suggestion (item, model_id, model_version, "
                          "probabilities, time_ms) VALUES (?1, ?2, ?3, ?4, ?5)");
    const std::int64_t now = nowMs();
    for (const auto& [item, p] : probabilities) {
        std::ostringstream text;
        JsonWriter(text, false).numbers(p);
        insert.reset();
        insert.bind(1, item)
            .bind(2, modelId)
            .bind(3, modelVersion)
            .bind(4, text.str())
            .bind(5, now);
        insert.run();
    }
    transaction.commit();
}

std::vector<double> LabelStore::suggestion(const std::string& modelId,
                                           const std::string& modelVersion,
                                           const std::string& item) const {
    sql::Statement query(m_store.handle(), m_store.path(),
                         "SELECT probabilities FROM suggestion WHERE item = ?1 AND model_id = ?2 "
                         "AND model_version = ?3");
    query.bind(1, item).bind(2, modelId).bind(3, modelVersion);
    std::vector<double> p;
    if (query.step()) {
        try {
            const JsonValue list = JsonValue::parse(query.text(0));
            for (const JsonValue& v : list.items()) {
                p.push_back(v.asNumber());
            }
        } catch (const std::exception&) {
            p.clear(); // a damaged cache entry is computed again
        }
    }
    return p;
}

std::map<std::string, std::vector<double>>
LabelStore::suggestions(const std::string& modelId, const std::string& modelVersion) const {
    sql::Statement query(m_store.handle(), m_store.path(),
                         "SELECT item, probabilities FROM suggestion WHERE model_id = ?1 AND "
                         "model_version = ?2");
    query.bind(1, modelId).bind(2, modelVersion);
    std::map<std::string, std::vector<double>> result;
    while (query.step()) {
        std::vector<double> p;
        try {
            const JsonValue list = JsonValue::parse(query.text(1));
            for (const JsonValue& v : list.items()) {
                p.push_back(v.asNumber());
            }
        } catch (const std::exception&) {
            continue; // a damaged cache entry is computed again
        }
        result[query.text(0)] = std::move(p);
    }
    return result;
}

} // namespace radiolens
