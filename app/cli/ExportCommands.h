#pragma once
// radiolens-cli export: de-identified copies of DICOM files (ExportCommands.cpp).

#include <string>
#include <vector>

namespace radiolens::cli {

/// `export --deidentify PATH... --to DIR`: exit 0 when every DICOM file was exported, 1 when any
/// failed (each reported on stderr with its file; the rest are still exported), 2 on a usage
/// error.
int runExport(const std::vector<std::string>& argv);

/// The command's line in `radiolens-cli --help`.
extern const char* const kExportHelp;

} // namespace radiolens::cli
