#include "core/store/IndexCache.h"

#include "core/store/Sql.h"
#include "core/store/StudyStore.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace fs = std::filesystem;

namespace radiolens {

namespace {

constexpr const char* kColumns =
    "path, patient_id, patient_name, birth_date, sex, study_uid, study_description, study_date, "
    "study_time, accession, study_id, series_uid, modality, series_description, body_part, "
    "series_number, series_date, series_time, sop_uid, sop_class_uid, instance_number, frames, "
    "rows, columns";

InstanceRecord readRecord(const sql::Statement& q) {
    InstanceRecord r;
    r.instance.path = q.text(0);
    r.patientId = q.text(1);
    r.patientName = q.text(2);
    r.patientBirthDate = q.text(3);
    r.patientSex = q.text(4);
    r.studyInstanceUid = q.text(5);
    r.studyDescription = q.text(6);
    r.studyDate = q.text(7);
    r.studyTime = q.text(8);
    r.accessionNumber = q.text(9);
    r.studyId = q.text(10);
    r.seriesInstanceUid = q.text(11);
    r.modality = q.text(12);
    r.seriesDescription = q.text(13);
    r.bodyPart = q.text(14);
    r.seriesNumber = int(q.int64(15));
    r.seriesDate = q.text(16);
    r.seriesTime = q.text(17);
    r.instance.sopInstanceUid = q.text(18);
    r.instance.sopClassUid = q.text(19);
    r.instance.instanceNumber = int(q.int64(20));
    r.instance.frames = int(q.int64(21));
    r.instance.rows = int(q.int64(22));
    r.instance.columns = int(q.int64(23));
    return r;
}

/// A root as the indexer sees it: absolute and canonical where it exists. A DICOMDIR stands for
/// its folder, where the files it lists are.
std::string canonicalRoot(const std::string& root) {
    std::error_code error;
    fs::path out = fs::weakly_canonical(fs::absolute(root, error), error);
    if (error || out.empty()) {
        return root;
    }
    std::string name = out.filename().string();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return char(std::toupper(c)); });
    if (name == "DICOMDIR" && fs::is_regular_file(out, error)) {
        out = out.parent_path();
    }
    return out.string();
}

/// Files under `root`: the root itself, or anything below it ("root/..."), as a key range.
void bindUnder(sql::Statement& q, int first, const std::string& root) {
    // '/' + 1 is '0': every path that starts with "root/" sorts in ["root/", "root0").
    q.bind(first, root).bind(first + 1, root + "/").bind(first + 2, root + "0");
}

constexpr const char* kUnder = "(path = ?1 OR (path >= ?2 AND path < ?3))";

} // namespace

IndexCache::IndexCache(StudyStore& store)
    : m_store(store) {}

void IndexCache::save(const std::vector<std::string>& roots, const StudyIndex& index) {
    sqlite3* db = m_store.handle();
    const std::string& path = m_store.path();
    sql::Transaction transaction(db, path);
    for (const std::string& given : roots) {
        const std::string root = canonicalRoot(given);
        sql::Statement remove(db, path, std::string("DELETE FROM indexed_file WHERE ") + kUnder);
        bindUnder(remove, 1, root);
        remove.run();
    }
    sql::Statement insert(db, path,
                          std::string("INSERT OR REPLACE INTO indexed_file (") + kColumns +
                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                              "?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)");
    for (const PatientEntry& patient : index.patients) {
        for (const StudyEntry& study : patient.studies) {
            for (const SeriesEntry& series : study.series) {
                for (const InstanceEntry& instance : series.instances) {
                    insert.reset();
                    insert.bind(1, instance.path)
                        .bind(2, patient.patientId)
                        .bind(3, patient.name)
                        .bind(4, patient.birthDate)
                        .bind(5, patient.sex)
                        .bind(6, study.studyInstanceUid)
                        .bind(7, study.description)
                        .bind(8, study.date)
                        .bind(9, study.time)
                        .bind(10, study.accessionNumber)
                        .bind(11, study.studyId)
                        .bind(12, series.seriesInstanceUid)
                        .bind(13, series.modality)
                        .bind(14, series.description)
                        .bind(15, series.bodyPart)
                        .bind(16, series.seriesNumber)
                        .bind(17, series.date)
                        .bind(18, series.time)
                        .bind(19, instance.sopInstanceUid)
                        .bind(20, instance.sopClassUid)
                        .bind(21, instance.instanceNumber)
                        .bind(22, instance.frames)
                        .bind(23, instance.rows)
                        .bind(24, instance.columns)
                        .run();
                }
            }
        }
    }
    sql::Statement root(db, path,
                        "INSERT OR REPLACE INTO indexed_root (path, indexed_ms, files) "
                        "VALUES (?1, ?2, ?3)");
    for (const std::string& given : roots) {
        root.reset();
        root.bind(1, canonicalRoot(given))
            .bind(2, nowMs())
            .bind(3, std::int64_t(index.instanceCount()))
            .run();
    }
    transaction.commit();
}

std::optional<StudyIndex> IndexCache::load(const std::vector<std::string>& roots) const {
    sqlite3* db = m_store.handle();
    const std::string& path = m_store.path();
    StudyTreeBuilder builder;
    std::size_t count = 0;
    for (const std::string& given : roots) {
        const std::string root = canonicalRoot(given);
        sql::Statement known(db, path, "SELECT 1 FROM indexed_root WHERE path = ?1");
        known.bind(1, root);
        if (!known.step()) {
            return std::nullopt;
        }
        sql::Statement query(
            db, path, std::string("SELECT ") + kColumns + " FROM indexed_file WHERE " + kUnder);
        bindUnder(query, 1, root);
        while (query.step()) {
            builder.add(readRecord(query));
            ++count;
        }
    }
    StudyIndex index = builder.finish();
    index.filesVisited = count;
    return index;
}

std::optional<InstanceRecord> IndexCache::instance(const std::string& sopInstanceUid) const {
    sql::Statement query(m_store.handle(), m_store.path(),
                         std::string("SELECT ") + kColumns +
                             " FROM indexed_file WHERE sop_uid = ?1 LIMIT 1");
    query.bind(1, sopInstanceUid);
    if (!query.step()) {
        return std::nullopt;
    }
    return readRecord(query);
}

std::optional<InstanceRecord> IndexCache::byPath(const std::string& path) const {
    sql::Statement query(m_store.handle(), m_store.path(),
                         std::string("SELECT ") + kColumns + " FROM indexed_file WHERE path = ?1");
    query.bind(1, path);
    if (!query.step()) {
        return std::nullopt;
    }
    return readRecord(query);
}

std::vector<InstanceRecord> IndexCache::instances(LabelLevel level, const std::string& uid) const {
    const char* column = level == LabelLevel::Image    ? "sop_uid"
                         : level == LabelLevel::Series ? "series_uid"
                                                       : "study_uid";
    sql::Statement query(m_store.handle(), m_store.path(),
                         std::string("SELECT ") + kColumns + " FROM indexed_file WHERE " + column +
                             " = ?1 ORDER BY series_number, series_uid, instance_number, path");
    query.bind(1, uid);
    std::vector<InstanceRecord> result;
    while (query.step()) {
        result.push_back(readRecord(query));
    }
    return result;
}

std::vector<InstanceRecord> IndexCache::all() const {
    sql::Statement query(m_store.handle(), m_store.path(),
                         std::string("SELECT ") + kColumns +
                             " FROM indexed_file ORDER BY study_date, study_time, study_uid, "
                             "series_number, series_uid, instance_number, path");
    std::vector<InstanceRecord> result;
    while (query.step()) {
        result.push_back(readRecord(query));
    }
    return result;
}

std::size_t IndexCache::size() const {
    sql::Statement query(m_store.handle(), m_store.path(), "SELECT count(*) FROM indexed_file");
    query.step();
    return std::size_t(query.int64(0));
}

} // namespace radiolens
