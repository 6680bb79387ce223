#include "core/domain/StudyIndex.h"

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

} // namespace radiolens
