#include "core/dicom/DicomdirReader.h"

#include "core/dicom/DcmtkBridge.h"
#include "core/dicom/DicomHeaderScanner.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdicdir.h"
#include "dcmtk/dcmdata/dcdirrec.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcdeftag.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

namespace fs = std::filesystem;

namespace radiolens {

namespace {

constexpr DicomTag kReferencedFileID = dicomTag(0x0004, 0x1500);
constexpr DicomTag kReferencedSOPClassUIDInFile = dicomTag(0x0004, 0x1510);
constexpr DicomTag kReferencedSOPInstanceUIDInFile = dicomTag(0x0004, 0x1511);

bool equalsIgnoringCase(const std::string& a, const std::string& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

/// Resolves the components of a ReferencedFileID under `root`, matching each component
/// without regard to case when the exact name is absent (media written on other systems).
/// Returns an empty text when the file is there, else why not, for "listed in DICOMDIR X but
/// ...". A File ID names a file below the DICOMDIR's folder (PS3.10 8.5: letters, digits and
/// '_'); a component such as ".." or "/etc" would reach outside the medium and is refused.
std::string resolveFile(const fs::path& root, const std::vector<std::string>& components,
                        fs::path& out) {
    for (const std::string& component : components) {
        if (component.empty() || component == "." || component == ".." ||
            component.find_first_of(std::string("/\0", 2)) != std::string::npos) {
            std::string fileId;
            for (const std::string& c : components) {
                fileId += (fileId.empty() ? "" : "\\") + c;
            }
            out = root / "DICOMDIR";
            return "its File ID '" + fileId +
                   "' does not name a file below the DICOMDIR's folder; not read";
        }
    }
    fs::path current = root;
    std::error_code error;
    for (const std::string& component : components) {
        fs::path exact = current / component;
        if (fs::exists(exact, error)) {
            current = exact;
            continue;
        }
        bool found = false;
        for (const auto& entry : fs::directory_iterator(current, error)) {
            if (equalsIgnoringCase(entry.path().filename().string(), component)) {
                current = entry.path();
                found = true;
                break;
            }
        }
        if (!found) {
            out = root;
            for (const auto& c : components) {
                out /= c;
            }
            return "missing";
        }
    }
    out = current;
    return fs::is_regular_file(current, error) ? "" : "missing";
}

DicomDataSet recordData(DcmItem& record) {
    DicomDataSet data;
    copyDcmtkItem(record, data);
    return data;
}

std::vector<std::string> fileIdComponents(const std::string& fileId) {
    std::vector<std::string> components;
    std::size_t start = 0;
    while (true) {
        const auto slash = fileId.find('\\', start);
        components.push_back(fileId.substr(start, slash - start));
        if (slash == std::string::npos) {
            return components;
        }
        start = slash + 1;
    }
}

bool complete(const DicomIdentity& id) {
    return !id.studyInstanceUid.empty() && !id.seriesInstanceUid.empty() &&
           !id.sopInstanceUid.empty();
}

} // namespace

bool isDicomdirName(const std::string& path) {
    return equalsIgnoringCase(fs::path(path).filename().string(), "DICOMDIR");
}

namespace {

void readDicomdirUnguarded(const std::string& path, std::vector<DicomdirEntry>& entries,
                           std::vector<Problem>& problems);

} // namespace

void readDicomdir(const std::string& path, std::vector<DicomdirEntry>& entries,
                  std::vector<Problem>& problems) {
    // DCMTK throws on some hostile DICOMDIRs; a damaged directory is a problem, not a crash.
    try {
        readDicomdirUnguarded(path, entries, problems);
    } catch (const std::exception& e) {
        problems.push_back({path, std::string("cannot read DICOMDIR: ") + e.what()});
    } catch (...) {
        problems.push_back({path, "cannot read DICOMDIR"});
    }
}

namespace {

void readDicomdirUnguarded(const std::string& path, std::vector<DicomdirEntry>& entries,
                           std::vector<Problem>& problems) {
    try {
        initialiseDcmtk();
    } catch (const std::exception& e) {
        problems.push_back({path, e.what()});
        return;
    }
    {
        // DcmDicomDir builds an empty directory from a file it cannot read; check first.
        DcmFileFormat file;
        const OFCondition status = file.loadFile(path.c_str());
        if (status.bad()) {
            problems.push_back({path, std::string("cannot read DICOMDIR: ") + status.text()});
            return;
        }
    }
    DcmDicomDir dir(path.c_str());
    if (dir.error().bad()) {
        problems.push_back({path, std::string("cannot read DICOMDIR: ") + dir.error().text()});
        return;
    }
    const fs::path root = fs::absolute(fs::path(path)).parent_path();
    DcmDirectoryRecord& top = dir.getRootRecord();
    std::set<std::string> linked;  ///< ReferencedFileIDs reached through the hierarchy
    std::set<std::string> missing; ///< ReferencedFileIDs whose file is absent

    // Walk the hierarchy by its links; levels that a DICOMDIR leaves out (no PATIENT record)
    // simply contribute nothing.
    struct Level {
        DicomIdentity patient, study, series;
    };
    const auto visit = [&](auto&& self, DcmDirectoryRecord& record, Level level) -> void {
        const E_DirRecType type = record.getRecordType();
        const DicomDataSet data = recordData(record);
        DicomIdentity id;
        try {
            id = readIdentity(data);
        } catch (const DicomValueError& e) {
            problems.push_back({path, std::string("DICOMDIR record: ") + e.what()});
            return;
        }
        if (type == ERT_Patient) {
            level.patient = id;
        } else if (type == ERT_Study) {
            level.study = id;
        } else if (type == ERT_Series) {
            level.series = id;
        }
        const std::string fileId = data.text(kReferencedFileID);
        if (!fileId.empty()) {
            fs::path file;
            if (const std::string why = resolveFile(root, fileIdComponents(fileId), file);
                !why.empty()) {
                problems.push_back({file.string(), "listed in DICOMDIR " + path + " but " + why});
                missing.insert(fileId);
            } else {
                DicomdirEntry entry;
                entry.path = file.string();
                DicomIdentity& out = entry.identity;
                out = id;
                out.patientId = level.patient.patientId;
                out.patientName = level.patient.patientName;
                out.patientBirthDate = level.patient.patientBirthDate;
                out.patientSex = level.patient.patientSex;
                out.studyInstanceUid = level.study.studyInstanceUid;
                out.studyDate = level.study.studyDate;
                out.studyTime = level.study.studyTime;
                out.studyDescription = level.study.studyDescription;
                out.accessionNumber = level.study.accessionNumber;
                out.studyId = level.study.studyId;
                out.seriesInstanceUid = level.series.seriesInstanceUid;
                out.seriesNumber = level.series.seriesNumber;
                out.seriesDescription = level.series.seriesDescription;
                out.seriesDate = level.series.seriesDate;
                out.seriesTime = level.series.seriesTime;
                out.modality = level.series.modality;
                out.sopInstanceUid = data.text(kReferencedSOPInstanceUIDInFile);
                out.sopClassUid = data.text(kReferencedSOPClassUIDInFile);
                if (complete(out)) {
                    linked.insert(fileId);
                    entries.push_back(std::move(entry));
                }
            }
        }
        for (unsigned long i = 0; i < record.cardSub(); ++i) {
            if (DcmDirectoryRecord* child = record.getSub(i)) {
                self(self, *child, level);
            }
        }
    };
    for (unsigned long i = 0; i < top.cardSub(); ++i) {
        if (DcmDirectoryRecord* child = top.getSub(i)) {
            visit(visit, *child, Level{});
        }
    }

    // Records the hierarchy did not reach, or reached without a study, series or instance UID
    // (damaged record types or links): their files are read directly, and the damage reported.
    std::size_t unlinked = 0;
    DcmSequenceOfItems* records = nullptr;
    if (dir.getDirFileFormat()
            .getDataset()
            ->findAndGetSequence(DCM_DirectoryRecordSequence, records)
            .good() &&
        records != nullptr) {
        for (unsigned long i = 0; i < records->card(); ++i) {
            const std::string fileId = recordData(*records->getItem(i)).text(kReferencedFileID);
            if (fileId.empty() || linked.count(fileId) != 0 || missing.count(fileId) != 0) {
                continue;
            }
            linked.insert(fileId);
            fs::path file;
            if (const std::string why = resolveFile(root, fileIdComponents(fileId), file);
                !why.empty()) {
                problems.push_back({file.string(), "listed in DICOMDIR " + path + " but " + why});
                continue;
            }
            ++unlinked;
            const DicomScanResult scan = DicomHeaderScanner::scan(file.string());
            if (!scan.ok()) {
                problems.push_back({file.string(), scan.reason});
                continue;
            }
            try {
                DicomdirEntry entry{readIdentity(scan.header.dataSet), file.string()};
                if (complete(entry.identity)) {
                    entries.push_back(std::move(entry));
                } else {
                    problems.push_back(
                        {file.string(), "not a usable DICOM instance: UIDs missing"});
                }
            } catch (const DicomValueError& e) {
                problems.push_back({file.string(), e.what()});
            }
        }
    }
    if (unlinked > 0) {
        problems.push_back({path, std::to_string(unlinked) +
                                      " records are not linked into the patient / study / "
                                      "series hierarchy (damaged record types or offsets); "
                                      "their files were read directly"});
    }
}

} // namespace

} // namespace radiolens
