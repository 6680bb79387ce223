#include "core/store/ModelRegistry.h"

#include "core/domain/JsonWriter.h"
#include "core/domain/Label.h"
#include "core/domain/Paths.h"
#include "core/domain/Sha256.h"
#include "core/store/AuditLog.h"
#include "core/store/Sql.h"
#include "core/store/StudyStore.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace radiolens {

namespace {

constexpr const char* kVersionColumns =
    "id, model_id, version, package, card, card_sha256, weights_sha256, label_set_sha256, "
    "labels, parent_version, run_id, created_ms";

RegisteredModel readVersion(const sql::Statement& q, const std::string& path) {
    RegisteredModel m;
    m.id = q.int64(0);
    m.modelId = q.text(1);
    m.version = q.text(2);
    m.package = q.text(3);
    try {
        m.card = ModelCard::fromJson(q.text(4));
    } catch (const std::exception& e) {
        throw std::runtime_error("Radiolens database " + path + ": the card of model " + m.modelId +
                                 " version " + m.version + " is damaged: " + e.what());
    }
    m.cardSha256 = q.text(5);
    m.weightsSha256 = q.text(6);
    m.labelSetSha256 = q.text(7);
    m.labels = std::size_t(q.int64(8));
    m.parentVersion = q.text(9);
    m.runId = q.isNull(10) ? 0 : q.int64(10);
    m.createdMs = q.int64(11);
    return m;
}

constexpr const char* kRunColumns = "id, model_id, fingerprint, folder, out, state, started_ms, "
                                    "ended_ms, epoch, message, version";

TrainingRun readRun(const sql::Statement& q) {
    TrainingRun r;
    r.id = q.int64(0);
    r.modelId = q.text(1);
    r.fingerprint = q.text(2);
    r.folder = q.text(3);
    r.out = q.text(4);
    r.state = q.text(5);
    r.startedMs = q.int64(6);
    r.endedMs = q.isNull(7) ? 0 : q.int64(7);
    r.epoch = int(q.int64(8));
    r.message = q.text(9);
    r.version = q.text(10);
    return r;
}

/// The activation stack of a model, replayed from its history: promote pushes, rollback pops.
std::vector<std::string> activationStack(sqlite3* db, const std::string& path,
                                         const std::string& modelId) {
    sql::Statement query(db, path,
                         "SELECT version, action FROM model_activation WHERE model_id = ?1 "
                         "ORDER BY id");
    query.bind(1, modelId);
    std::vector<std::string> stack;
    while (query.step()) {
        if (query.text(1) == "promote") {
            stack.push_back(query.text(0));
        } else if (!stack.empty()) {
            stack.pop_back();
        }
    }
    return stack;
}

void activate(sqlite3* db, const std::string& path, const std::string& modelId,
              const std::string& version, const char* action, const std::string& actor) {
    sql::Statement insert(db, path,
                          "INSERT INTO model_activation (model_id, version, action, actor, "
                          "time_ms) VALUES (?1, ?2, ?3, ?4, ?5)");
    insert.bind(1, modelId).bind(2, version).bind(3, action).bind(4, actor).bind(5, nowMs()).run();
    std::ostringstream details;
    JsonWriter(details, false).beginObject().field("active", version).endObject();
    AuditLog::append(db, path, actor, std::string("model.") + action, modelId + "@" + version,
                     details.str());
}

} // namespace

ModelRegistry::ModelRegistry(StudyStore& store)
    : m_store(store) {}

std::string ModelRegistry::modelsFolder() const {
    return (fs::absolute(m_store.path()).parent_path() / "models").lexically_normal().string();
}

RegisteredModel ModelRegistry::publish(const std::string& packageDir,
                                       const std::string& labelSetSha256, std::size_t labels,
                                       std::int64_t runId, const std::string& actor) {
    const std::string cardPath = packageDir + "/card.json";
    const std::string cardText = readTextFile(cardPath);
    RegisteredModel m;
    try {
        m.card = ModelCard::fromJson(cardText);
    } catch (const std::exception& e) {
        throw std::runtime_error(cardPath + ": " + e.what());
    }
    m.modelId = m.card.id;
    m.version = m.card.version;
    m.package = fs::absolute(packageDir).lexically_normal().string();
    m.cardSha256 = Sha256::ofText(cardText);
    m.weightsSha256 = m.card.weightsSha256;
    m.labelSetSha256 = labelSetSha256;
    m.labels = labels;
    m.parentVersion = m.card.parentVersion;
    m.runId = runId;
    m.createdMs = nowMs();
    if (m.modelId.empty() || m.version.empty()) {
        throw std::runtime_error(cardPath + ": the card has no model id or version");
    }

    sqlite3* db = m_store.handle();
    const std::string& path = m_store.path();
    sql::Transaction transaction(db, path);
    if (find(m.modelId, m.version)) {
        throw std::runtime_error("model " + m.modelId + " version " + m.version +
                                 " is registered already");
    }
    sql::Statement insert(db, path,
                          "INSERT INTO model_version (model_id, version, package, card, "
                          "card_sha256, weights_sha256, label_set_sha256, labels, "
                          "parent_version, run_id, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                          "?7, ?8, ?9, ?10, ?11)");
    insert.bind(1, m.modelId)
        .bind(2, m.version)
        .bind(3, m.package)
        .bind(4, cardText)
        .bind(5, m.cardSha256)
        .bind(6, m.weightsSha256)
        .bind(7, m.labelSetSha256)
        .bind(8, std::int64_t(m.labels))
        .bind(9, m.parentVersion);
    if (runId > 0) {
        insert.bind(10, runId);
    } else {
        insert.bindNull(10);
    }
    insert.bind(11, m.createdMs).run();
    m.id = sql::lastInsertId(db);
    std::ostringstream details;
    JsonWriter json(details, false);
    json.beginObject()
        .field("package", m.package)
        .field("cardSha256", m.cardSha256)
        .field("weightsSha256", m.weightsSha256)
        .field("labelSetSha256", m.labelSetSha256)
        .field("labels", m.labels)
        .field("parent", m.parentVersion);
    const auto validation = m.card.metrics.find("validation");
    if (validation != m.card.metrics.end()) {
        json.field("validationAuc", validation->second.auc);
    }
    json.endObject();
    AuditLog::append(db, path, actor, "model.register", m.modelId + "@" + m.version, details.str());
    transaction.commit();
    return m;
}

std::vector<RegisteredModel> ModelRegistry::versions(const std::string& modelId) const {
    std::string sql = std::string("SELECT ") + kVersionColumns + " FROM model_version";
    if (!modelId.empty()) {
        sql += " WHERE model_id = ?1";
    }
    sql += " ORDER BY id";
    sql::Statement query(m_store.handle(), m_store.path(), sql);
    if (!modelId.empty()) {
        query.bind(1, modelId);
    }
    std::vector<RegisteredModel> result;
    std::map<std::string, std::string> activeOf;
    while (query.step()) {
        result.push_back(readVersion(query, m_store.path()));
        RegisteredModel& m = result.back();
        if (activeOf.count(m.modelId) == 0) {
            const auto stack = activationStack(m_store.handle(), m_store.path(), m.modelId);
            activeOf[m.modelId] = stack.empty() ? std::string() : stack.back();
        }
        m.active = activeOf[m.modelId] == m.version;
    }
    return result;
}

std::optional<RegisteredModel> ModelRegistry::find(const std::string& modelId,
                                                   const std::string& version) const {
    sql::Statement query(m_store.handle(), m_store.path(),
                         std::string("SELECT ") + kVersionColumns +
                             " FROM model_version WHERE model_id = ?1 AND version = ?2");
    query.bind(1, modelId).bind(2, version);
    if (!query.step()) {
        return std::nullopt;
    }
    RegisteredModel m = readVersion(query, m_store.path());
    const auto stack = activationStack(m_store.handle(), m_store.path(), modelId);
    m.active = !stack.empty() && stack.back() == version;
    return m;
}

std::optional<RegisteredModel> ModelRegistry::active(const std::string& modelId) const {
    std::string id = modelId;
    if (id.empty()) {
        // The model whose activation changed last and still has an active version.
        sql::Statement query(m_store.handle(), m_store.path(),
                             "SELECT model_id FROM model_activation GROUP BY model_id "
                             "ORDER BY max(id) DESC");
        while (query.step()) {
            const std::string candidate = query.text(0);
            if (!activationStack(m_store.handle(), m_store.path(), candidate).empty()) {
                id = candidate;
                break;
            }
        }
        if (id.empty()) {
            return std::nullopt;
        }
    }
    const auto stack = activationStack(m_store.handle(), m_store.path(), id);
    if (stack.empty()) {
        return std::nullopt;
    }
    return find(id, stack.back());
}

std::string ModelRegistry::verifyPackage(const RegisteredModel& m) {
    const std::string cardPath = m.package + "/card.json";
    std::string cardText;
    try {
        cardText = readTextFile(cardPath);
    } catch (const std::exception&) {
        return cardPath + ": missing (the package of " + m.modelId + " version " + m.version +
               " was moved or deleted)";
    }
    if (Sha256::ofText(cardText) != m.cardSha256) {
        return cardPath + ": changed since it was published (its SHA-256 differs from the "
                          "registry's)";
    }
    const std::string weights = m.package + "/" + m.card.weightsFile;
    try {
        if (Sha256::ofFile(weights) != m.weightsSha256) {
            return weights + ": changed since it was published (its SHA-256 differs from the "
                             "card's)";
        }
    } catch (const std::exception&) {
        return weights + ": missing";
    }
    return {};
}

void ModelRegistry::promote(const std::string& modelId, const std::string& version,
                            const std::string& actor) {
    const auto model = find(modelId, version);
    if (!model) {
        throw std::runtime_error("model " + modelId + " has no version " + version +
                                 " in the registry");
    }
    if (const std::string problem = verifyPackage(*model); !problem.empty()) {
        throw std::runtime_error("cannot promote " + modelId + " " + version + ": " + problem);
    }
    sqlite3* db = m_store.handle();
    sql::Transaction transaction(db, m_store.path());
    activate(db, m_store.path(), modelId, version, "promote",
             actor.empty() ? StudyStore::defaultActor() : actor);
    transaction.commit();
}

RegisteredModel ModelRegistry::rollback(const std::string& modelId, const std::string& actor) {
    sqlite3* db = m_store.handle();
    sql::Transaction transaction(db, m_store.path());
    const auto stack = activationStack(db, m_store.path(), modelId);
    if (stack.size() < 2) {
        throw std::runtime_error(stack.empty() ? "model " + modelId + " has no active version"
                                               : "model " + modelId +
                                                     " has no earlier active version "
                                                     "to roll back to");
    }
    const std::string previous = stack[stack.size() - 2];
    const auto before = find(modelId, previous);
    if (const std::string problem = before ? verifyPackage(*before) : "not registered";
        !problem.empty()) {
        throw std::runtime_error("cannot roll back to " + modelId + " " + previous + ": " +
                                 problem);
    }
    activate(db, m_store.path(), modelId, previous, "rollback",
             actor.empty() ? StudyStore::defaultActor() : actor);
    transaction.commit();
    return *find(modelId, previous);
}

bool TrainingRun::interrupted() const {
    if (state != "running") {
        return false;
    }
    // The training process holds an exclusive flock on its folder's lock file while it runs
    // (released by the kernel however the process ends); getting it means nobody trains.
    const std::string path = folder + "/lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return true; // no lock file: the run never got as far as training
    }
    const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    ::close(fd); // releases the lock just taken
    return free;
}

TrainingRun ModelRegistry::startRun(const std::string& modelId, const std::string& fingerprint,
                                    const std::string& folder, const std::string& out,
                                    const std::string& actor) {
    sqlite3* db = m_store.handle();
    sql::Transaction transaction(db, m_store.path());
    TrainingRun r;
    r.modelId = modelId;
    r.fingerprint = fingerprint;
    r.folder = folder;
    r.out = out;
    r.state = "running";
    r.startedMs = nowMs();
    sql::Statement insert(db, m_store.path(),
                          "INSERT INTO training_run (model_id, fingerprint, folder, out, state, "
                          "started_ms) VALUES (?1, ?2, ?3, ?4, 'running', ?5)");
    insert.bind(1, modelId).bind(2, fingerprint).bind(3, folder).bind(4, out).bind(5, r.startedMs);
    insert.run();
    r.id = sql::lastInsertId(db);
    std::ostringstream details;
    JsonWriter(details, false)
        .beginObject()
        .field("run", (long long)r.id)
        .field("fingerprint", fingerprint)
        .field("out", out)
        .endObject();
    AuditLog::append(db, m_store.path(), actor, "training.start", modelId, details.str());
    transaction.commit();
    return r;
}

void ModelRegistry::checkpointed(std::int64_t id, int epoch) {
    sql::Statement update(m_store.handle(), m_store.path(),
                          "UPDATE training_run SET epoch = ?2 WHERE id = ?1");
    update.bind(1, id).bind(2, epoch).run();
}

void ModelRegistry::endRun(std::int64_t id, const std::string& state, const std::string& message,
                           const std::string& version, const std::string& actor) {
    if (state != "finished" && state != "failed" && state != "cancelled") {
        throw std::invalid_argument("a training run ends finished, failed or cancelled, not " +
                                    state);
    }
    sqlite3* db = m_store.handle();
    sql::Transaction transaction(db, m_store.path());
    sql::Statement update(db, m_store.path(),
                          "UPDATE training_run SET state = ?2, message = ?3, version = ?4, "
                          "ended_ms = ?5 WHERE id = ?1");
    update.bind(1, id).bind(2, state).bind(3, message).bind(4, version).bind(5, nowMs()).run();
    const auto r = run(id);
    std::ostringstream details;
    JsonWriter(details, false)
        .beginObject()
        .field("run", (long long)id)
        .field("version", version)
        .field("message", message)
        .endObject();
    AuditLog::append(db, m_store.path(), actor, "training." + state,
                     r ? r->modelId : std::to_string(id), details.str());
    transaction.commit();
}

void ModelRegistry::reopenRun(std::int64_t id, const std::string& actor) {
    sqlite3* db = m_store.handle();
    sql::Transaction transaction(db, m_store.path());
    sql::Statement update(db, m_store.path(),
                          "UPDATE training_run SET state = 'running', ended_ms = NULL, "
                          "message = '' WHERE id = ?1");
    update.bind(1, id).run();
    std::ostringstream details;
    JsonWriter(details, false).beginObject().field("run", (long long)id).endObject();
    const auto r = run(id);
    AuditLog::append(db, m_store.path(), actor, "training.resume",
                     r ? r->modelId : std::to_string(id), details.str());
    transaction.commit();
}

std::vector<TrainingRun> ModelRegistry::runs(std::size_t limit) const {
    sql::Statement query(m_store.handle(), m_store.path(),
                         std::string("SELECT ") + kRunColumns +
                             " FROM training_run ORDER BY id DESC LIMIT ?1");
    query.bind(1, limit == 0 ? std::int64_t(-1) : std::int64_t(limit));
    std::vector<TrainingRun> result;
    while (query.step()) {
        result.push_back(readRun(query));
    }
    return result;
}

std::optional<TrainingRun> ModelRegistry::run(std::int64_t id) const {
    sql::Statement query(m_store.handle(), m_store.path(),
                         std::string("SELECT ") + kRunColumns + " FROM training_run WHERE id = ?1");
    query.bind(1, id);
    if (!query.step()) {
        return std::nullopt;
    }
    return readRun(query);
}

std::optional<TrainingRun> ModelRegistry::unfinishedRun(const std::string& fingerprint) const {
    sql::Statement query(m_store.handle(), m_store.path(),
                         std::string("SELECT ") + kRunColumns +
                             " FROM training_run WHERE fingerprint = ?1 AND state IN ('running', "
                             "'cancelled') "
                             "ORDER BY id DESC LIMIT 1");
    query.bind(1, fingerprint);
    if (!query.step()) {
        return std::nullopt;
    }
    return readRun(query);
}

} // namespace radiolens
