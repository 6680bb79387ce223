#include "core/domain/StudyIndex.h"

#include <algorithm>
#include <tuple>

namespace radiolens {

bool isProjectionModality(const std::string& modality) {
    for (const char* m : {"CR", "DX", "MG", "IO", "PX", "RG", "XA", "RF"}) {
        if (modality == m) {
            return true;
        }
    }
    return false;
}

std::vector<std::string> SeriesEntry::paths() const {
    std::vector<std::string> out;
    out.reserve(instances.size());
    for (const auto& instance : instances) {
        out.push_back(instance.path);
    }
    return out;
}

std::size_t StudyIndex::seriesCount() const {
    std::size_t n = 0;
    for (const auto& patient : patients) {
        for (const auto& study : patient.studies) {
            n += study.series.size();
        }
    }
    return n;
}

std::size_t StudyIndex::instanceCount() const {
    std::size_t n = 0;
    for (const SeriesEntry* series : allSeries()) {
        n += series->instances.size();
    }
    return n;
}

const SeriesEntry* StudyIndex::findSeries(const std::string& seriesInstanceUid) const {
    for (const SeriesEntry* series : allSeries()) {
        if (series->seriesInstanceUid == seriesInstanceUid) {
            return series;
        }
    }
    return nullptr;
}

std::vector<const SeriesEntry*> StudyIndex::allSeries() const {
    std::vector<const SeriesEntry*> out;
    for (const auto& patient : patients) {
        for (const auto& study : patient.studies) {
            for (const auto& series : study.series) {
                out.push_back(&series);
            }
        }
    }
    return out;
}

bool StudyIndex::sameInstancesAs(const StudyIndex& other) const {
    const auto files = [](const StudyIndex& index) {
        std::vector<std::pair<std::string, std::string>> out;
        for (const SeriesEntry* series : index.allSeries()) {
            for (const InstanceEntry& instance : series->instances) {
                out.emplace_back(instance.sopInstanceUid, instance.path);
            }
        }
        std::sort(out.begin(), out.end());
        return out;
    };
    return instanceCount() == other.instanceCount() && files(*this) == files(other);
}

void StudyIndex::sortTree() {
    for (auto& patient : patients) {
        for (auto& study : patient.studies) {
            for (auto& series : study.series) {
                std::sort(series.instances.begin(), series.instances.end(),
                          [](const InstanceEntry& a, const InstanceEntry& b) {
                              return std::tie(a.instanceNumber, a.path) <
                                     std::tie(b.instanceNumber, b.path);
                          });
            }
            std::sort(study.series.begin(), study.series.end(),
                      [](const SeriesEntry& a, const SeriesEntry& b) {
                          return std::tie(a.seriesNumber, a.date, a.time, a.seriesInstanceUid) <
                                 std::tie(b.seriesNumber, b.date, b.time, b.seriesInstanceUid);
                      });
        }
        std::sort(patient.studies.begin(), patient.studies.end(),
                  [](const StudyEntry& a, const StudyEntry& b) {
                      return std::tie(a.date, a.time, a.studyInstanceUid) <
                             std::tie(b.date, b.time, b.studyInstanceUid);
                  });
    }
    std::sort(patients.begin(), patients.end(), [](const PatientEntry& a, const PatientEntry& b) {
        return std::tie(a.name, a.patientId) < std::tie(b.name, b.patientId);
    });
    std::sort(problems.begin(), problems.end(),
              [](const Problem& a, const Problem& b) { return a.path < b.path; });
}

void StudyTreeBuilder::add(const InstanceRecord& record) {
    const auto [seen, inserted] =
        m_instances.emplace(record.instance.sopInstanceUid, record.instance.path);
    if (!inserted) {
        if (seen->second != record.instance.path) {
            m_index.problems.push_back(
                {record.instance.path,
                 "duplicate of " + seen->second + " (same SOPInstanceUID); skipped"});
        }
        return;
    }
    seriesFor(record).instances.push_back(record.instance);
}

void StudyTreeBuilder::problem(const std::string& path, const std::string& reason) {
    m_index.problems.push_back({path, reason});
}

StudyIndex StudyTreeBuilder::finish() {
    m_index.sortTree();
    return std::move(m_index);
}

std::vector<SeriesEntry*> StudyTreeBuilder::seriesWithoutDescription() {
    std::vector<SeriesEntry*> out;
    for (auto& patient : m_index.patients) {
        for (auto& study : patient.studies) {
            for (auto& series : study.series) {
                if (series.description.empty() && !series.instances.empty()) {
                    out.push_back(&series);
                }
            }
        }
    }
    return out;
}

SeriesEntry& StudyTreeBuilder::seriesFor(const InstanceRecord& r) {
    // Indices, not pointers: vectors grow.
    auto studyIt = m_studies.find(r.studyInstanceUid);
    if (studyIt == m_studies.end()) {
        const std::string patientKey = r.patientId + '\x1f' + r.patientName;
        auto patientIt = m_patients.find(patientKey);
        if (patientIt == m_patients.end()) {
            PatientEntry patient;
            patient.patientId = r.patientId;
            patient.name = r.patientName;
            patient.birthDate = r.patientBirthDate;
            patient.sex = r.patientSex;
            m_index.patients.push_back(std::move(patient));
            patientIt = m_patients.emplace(patientKey, m_index.patients.size() - 1).first;
        }
        PatientEntry& patient = m_index.patients[patientIt->second];
        StudyEntry study;
        study.studyInstanceUid = r.studyInstanceUid;
        study.description = r.studyDescription;
        study.date = r.studyDate;
        study.time = r.studyTime;
        study.accessionNumber = r.accessionNumber;
        study.studyId = r.studyId;
        patient.studies.push_back(std::move(study));
        studyIt = m_studies
                      .emplace(r.studyInstanceUid,
                               std::pair{patientIt->second, patient.studies.size() - 1})
                      .first;
    }
    StudyEntry& study = m_index.patients[studyIt->second.first].studies[studyIt->second.second];
    const std::string seriesKey = r.studyInstanceUid + '\x1f' + r.seriesInstanceUid;
    auto seriesIt = m_series.find(seriesKey);
    if (seriesIt == m_series.end()) {
        SeriesEntry series;
        series.seriesInstanceUid = r.seriesInstanceUid;
        series.modality = r.modality;
        series.description = r.seriesDescription;
        series.bodyPart = r.bodyPart;
        series.seriesNumber = r.seriesNumber;
        series.date = r.seriesDate;
        series.time = r.seriesTime;
        study.series.push_back(std::move(series));
        seriesIt = m_series.emplace(seriesKey, study.series.size() - 1).first;
    }
    return study.series[seriesIt->second];
}

} // namespace radiolens
