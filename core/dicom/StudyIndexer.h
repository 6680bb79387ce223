#pragma once

#include "core/domain/Progress.h"
#include "core/domain/StudyIndex.h"

#include <string>
#include <vector>

namespace radiolens {

/// Builds the Patient -> Study -> Series -> Instance tree from files, folders (recursive) and
/// DICOMDIR files, reading headers only.
///
/// Cost is linear in the number of files: one header read per file (on all cores), grouping by
/// hash maps. Files that are not DICOM, are truncated or broken, and DICOMDIR entries whose
/// file is missing, become problems; they never stop the rest. Duplicate instances (same
/// SOPInstanceUID) are kept once and reported.
///
/// index() may be called from any thread. Progress is reported from the threads doing the work,
/// one report at a time, and can cancel: the partial index is returned with `cancelled` set.
class StudyIndexer {
public:
    /// `threads` 0 uses every core.
    explicit StudyIndexer(int threads = 0)
        : m_threads(threads) {}

    StudyIndex index(const std::vector<std::string>& paths, ProgressSink* progress = nullptr) const;

private:
    int m_threads;
};

} // namespace radiolens
