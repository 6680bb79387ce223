#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace radiolens {

/// A file that could not be used, and why, in words a user can act on.
struct Problem {
    std::string path;
    std::string reason;
};

/// One DICOM instance (a file) as the index knows it: enough to show it in the tree and to find
/// its file again. Pixel data are not read while indexing.
struct InstanceEntry {
    std::string sopInstanceUid;
    std::string sopClassUid;
    std::string path;       ///< absolute path of the file
    int instanceNumber = 0; ///< 0 when absent
    int frames = 1;         ///< NumberOfFrames
    int rows = 0;
    int columns = 0;
};

struct SeriesEntry {
    std::string seriesInstanceUid;
    std::string modality;
    std::string description;
    std::string bodyPart;
    int seriesNumber = 0;
    std::string date;                     ///< SeriesDate, YYYYMMDD, may be empty
    std::string time;                     ///< SeriesTime, HHMMSS.frac, may be empty
    std::vector<InstanceEntry> instances; ///< sorted by instance number, then path

    std::vector<std::string> paths() const;
};

struct StudyEntry {
    std::string studyInstanceUid;
    std::string description;
    std::string date; ///< StudyDate, YYYYMMDD
    std::string time;
    std::string accessionNumber;
    std::string studyId;
    std::vector<SeriesEntry> series; ///< sorted by series number, then date/time, then UID
};

struct PatientEntry {
    std::string patientId;
    std::string name; ///< DICOM person name, components separated by '^'
    std::string birthDate;
    std::string sex;
    std::vector<StudyEntry> studies; ///< sorted by date, then UID
};

/// True for projection radiography (CR, DX, MG, IO, PX, RG, XA, RF): each image is a view of
/// its own and is never stacked with the others of its series into a volume.
bool isProjectionModality(const std::string& modality);

/// Patient -> Study -> Series -> Instance tree of what was found, plus every file that could
/// not be used. A value type: cheap to move, safe to hand to another thread.
struct StudyIndex {
    std::vector<PatientEntry> patients;
    std::vector<Problem> problems;
    std::size_t filesVisited = 0;
    bool cancelled = false;

    std::size_t seriesCount() const;
    std::size_t instanceCount() const;
    /// The series with this UID, or nullptr.
    const SeriesEntry* findSeries(const std::string& seriesInstanceUid) const;
    /// All series, in tree order.
    std::vector<const SeriesEntry*> allSeries() const;
    /// True when `other` holds the same instances (SOP Instance UIDs) in the same files.
    bool sameInstancesAs(const StudyIndex& other) const;
    /// Puts the tree in its order: patients by name and ID, studies by date, time and UID,
    /// series by number, date, time and UID, instances by number and path; problems by path.
    void sortTree();
};

/// One instance with its place in the tree, flat: what the indexer reads from a header and the
/// store keeps of each indexed file.
struct InstanceRecord {
    std::string patientId, patientName, patientBirthDate, patientSex;
    std::string studyInstanceUid, studyDate, studyTime, studyDescription, accessionNumber, studyId;
    std::string seriesInstanceUid, seriesDate, seriesTime, seriesDescription, modality, bodyPart;
    int seriesNumber = 0;
    InstanceEntry instance; ///< SOP UIDs, path, instance number, frames, size
};

/// Groups records into the Patient / Study / Series / Instance tree with hash maps: one pass, no
/// pairwise comparisons. A study belongs to the patient (ID and name) it was first seen with; an
/// instance seen again (same SOPInstanceUID, another file) is kept once and the other file is
/// reported as a duplicate.
class StudyTreeBuilder {
public:
    void add(const InstanceRecord& record);
    void problem(const std::string& path, const std::string& reason);
    /// The tree, sorted (StudyIndex::sortTree); the builder is spent.
    StudyIndex finish();
    /// Series whose description is unknown (DICOMDIR records often leave it out).
    std::vector<SeriesEntry*> seriesWithoutDescription();

private:
    SeriesEntry& seriesFor(const InstanceRecord& record);

    StudyIndex m_index;
    std::unordered_map<std::string, std::size_t> m_patients;
    std::unordered_map<std::string, std::pair<std::size_t, std::size_t>> m_studies;
    std::unordered_map<std::string, std::size_t> m_series;
    std::unordered_map<std::string, std::string> m_instances;
};

} // namespace radiolens
