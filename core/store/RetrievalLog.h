#pragma once

#include "core/domain/Retrieval.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace radiolens {

class StudyStore;

/// The retrievals kept in the store, one row per study (the latest attempt), so a study cut off
/// by a dropped connection stays marked incomplete until a retry completes it. Thread-safety: as
/// StudyStore.
class RetrievalLog {
public:
    explicit RetrievalLog(StudyStore& store);

    /// Inserts or replaces the study's row; `updatedMs` 0 means now.
    void record(Retrieval retrieval);
    std::optional<Retrieval> find(const std::string& studyInstanceUid) const;
    /// Every row, most recently updated first.
    std::vector<Retrieval> all() const;

private:
    StudyStore& m_store;
};

} // namespace radiolens
