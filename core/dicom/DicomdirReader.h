#pragma once

#include "core/dicom/DicomInstance.h"
#include "core/domain/StudyIndex.h"

#include <string>
#include <vector>

namespace radiolens {

/// One instance listed in a DICOMDIR, with its identity taken from the directory records.
struct DicomdirEntry {
    DicomIdentity identity;
    std::string path; ///< absolute path of the referenced file
};

/// Reads a DICOMDIR (PS3.10 media directory) through its record hierarchy (offsets, not file
/// order). Entries whose file is missing become problems. Throws nothing.
void readDicomdir(const std::string& path, std::vector<DicomdirEntry>& entries,
                  std::vector<Problem>& problems);

/// True when `path` is named DICOMDIR (any case).
bool isDicomdirName(const std::string& path);

/// SOP class of a Media Storage Directory (a DICOMDIR).
constexpr const char* kMediaStorageDirectoryClass = "1.2.840.10008.1.3.10";

} // namespace radiolens
