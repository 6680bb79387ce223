#pragma once

#include "core/domain/Label.h"
#include "core/domain/StudyIndex.h"

#include <optional>
#include <string>
#include <vector>

namespace radiolens {

class StudyStore;

/// The study index kept in the store: every file the user indexed, by its place in the Patient /
/// Study / Series tree, so that reopening a folder shows its studies at once (the folder is read
/// again in the background to catch changes), and labels given to an instance, series or study
/// find their images. Files that could not be read are not kept (they are read again next
/// time). Thread-safety: as StudyStore.
class IndexCache {
public:
    explicit IndexCache(StudyStore& store);

    /// Replaces what the store knows of the files under `roots` (folders, files or DICOMDIRs as
    /// given to the indexer) by `index`, in one transaction, and remembers the roots as indexed.
    void save(const std::vector<std::string>& roots, const StudyIndex& index);

    /// The index saved for `roots`: every kept instance under them, as a tree sorted as the
    /// indexer sorts it (problems empty, filesVisited the number of instances). nullopt when
    /// one of the roots was never indexed.
    std::optional<StudyIndex> load(const std::vector<std::string>& roots) const;

    /// The instance with this SOP Instance UID; nullopt when no indexed file has it.
    std::optional<InstanceRecord> instance(const std::string& sopInstanceUid) const;
    /// The instance kept for the file `path` (as the indexer saw it: absolute, canonical);
    /// nullopt when that file was never indexed.
    std::optional<InstanceRecord> byPath(const std::string& path) const;
    /// Every instance of a series (level Series) or study (level Study), or the one instance
    /// (level Image), in tree order.
    std::vector<InstanceRecord> instances(LabelLevel level, const std::string& uid) const;
    /// Every kept instance, by study date, then study, series number and instance number.
    std::vector<InstanceRecord> all() const;
    /// Number of kept instances.
    std::size_t size() const;

private:
    StudyStore& m_store;
};

} // namespace radiolens
