// radiolens-cli export: de-identified copies of DICOM files for sharing (teaching, research,
// a second opinion), by the DICOM PS3.15 Basic Application Level Confidentiality Profile.

#include "app/cli/ExportCommands.h"

#include "app/cli/CliSupport.h"
#include "core/dicom/Deidentifier.h"
#include "core/dicom/DicomHeaderScanner.h"
#include "core/dicom/DicomTags.h"
#include "core/domain/JsonWriter.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <system_error>

namespace fs = std::filesystem;

namespace radiolens::cli {

const char* const kExportHelp =
    "  export --deidentify    de-identified copies of DICOM files (DICOM PS3.15 Basic Profile)\n";

namespace {

const char* const kHelp =
    R"(usage: radiolens-cli export --deidentify PATH... --to DIR [--patient-id ID]
                             [--patient-name NAME] [--keep-private] [--json]

Writes de-identified copies of the DICOM files under PATH (files or folders, searched
recursively) into DIR/<study>/<series>/<instance>.dcm, named by their new UIDs. The originals
are not changed. De-identification follows the DICOM PS3.15 Annex E Basic Application Level
Confidentiality Profile: identifying attributes are removed, emptied or replaced, private
attributes, curves and overlays are removed, and every UID is replaced by a new one, the same
new UID wherever the same original appears in this export, so the copies still refer to each
other. Pixel data and the transfer syntax are kept as they are: text burned into the pixels
is NOT removed, and files that may carry it are named in a warning.

Files that are not DICOM, and DICOMDIR files, are skipped with a message. A file that cannot
be exported is reported with the reason and the others are still exported; the exit code is
then 1.

  --to DIR            the folder for the copies (created if needed)
  --patient-id ID     the Patient ID of every copy (default: a pseudonym, "ANON" and 12 hex
                      digits, the same for one patient within this export, different in
                      another export)
  --patient-name NAME the Patient's Name of every copy (default ANONYMOUS)
  --keep-private      keep private attributes (the profile removes them; they may identify)
  --json              print JSON: {"files":[{"input","output","warnings":[text],"removed",
                      "emptied","replaced","uidsRemapped"}],"skipped":[{"input","reason"}],
                      "errors":[{"input","error"}],"uidsRemapped"}
)";

constexpr const char* kDicomdirClass = "1.2.840.10008.1.3.10";

struct Skipped {
    std::string input;
    std::string reason;
};

struct Failed {
    std::string input;
    std::string error;
};

/// Whether `file` lies inside `folder` (both made absolute and normal).
bool isInside(const std::string& file, const fs::path& folder) {
    const fs::path f = fs::absolute(file).lexically_normal();
    const auto mismatch = std::mismatch(folder.begin(), folder.end(), f.begin(), f.end());
    return mismatch.first == folder.end();
}

void writeJson(const std::vector<DeidentifyResult>& done, const std::vector<Skipped>& skipped,
               const std::vector<Failed>& failed, std::size_t uids) {
    JsonWriter json(std::cout);
    json.beginObject();
    json.key("files").beginArray();
    for (const DeidentifyResult& r : done) {
        json.beginObject();
        json.field("input", r.inputPath);
        json.field("output", r.outputPath);
        json.key("warnings").beginArray();
        for (const std::string& w : r.warnings) {
            json.value(w);
        }
        json.endArray();
        json.field("removed", r.removed);
        json.field("emptied", r.emptied);
        json.field("replaced", r.replaced);
        json.field("uidsRemapped", r.uidsRemapped);
        json.endObject();
    }
    json.endArray();
    json.key("skipped").beginArray();
    for (const Skipped& s : skipped) {
        json.beginObject().field("input", s.input).field("reason", s.reason).endObject();
    }
    json.endArray();
    json.key("errors").beginArray();
    for (const Failed& f : failed) {
        json.beginObject().field("input", f.input).field("error", f.error).endObject();
    }
    json.endArray();
    json.field("uidsRemapped", uids);
    json.endObject();
    std::cout << "\n";
}

} // namespace

int runExport(const std::vector<std::string>& argv) {
    const std::string command = "export";
    const Arguments args =
        parse(command, argv, {"--help", "--deidentify", "--keep-private", "--json"},
              {"--to", "--patient-id", "--patient-name"});
    if (args.has("--help")) {
        std::cout << kHelp;
        return 0;
    }
    if (!args.has("--deidentify")) {
        usageError(command, "export writes de-identified copies only: give --deidentify");
    }
    checkArguments(command, args, {"--to"}, true);
    if (args.positional.empty()) {
        usageError(command, "give the DICOM files or folders to export");
    }
    DeidentifyOptions options;
    options.patientId = args.get("--patient-id");
    options.patientName = args.get("--patient-name", options.patientName);
    options.keepPrivateTags = args.has("--keep-private");
    const std::string outputDir = args.get("--to");
    if (args.has("--patient-name") && options.patientName.empty()) {
        usageError(command, "--patient-name needs a name");
    }
    std::error_code error;
    fs::create_directories(outputDir, error);
    if (!fs::is_directory(outputDir)) {
        throw CliError{command + ": " + outputDir + ": cannot create the folder" +
                       (error ? ": " + error.message() : std::string())};
    }
    const fs::path outputFolder = fs::absolute(outputDir).lexically_normal();

    std::vector<Failed> failed;
    std::vector<Skipped> skipped;
    std::vector<DeidentifyResult> done;
    std::vector<std::pair<std::string, std::string>> unreadable;
    const std::vector<std::string> files = filesUnder(args.positional, unreadable);
    for (const auto& [path, reason] : unreadable) {
        failed.push_back({path, path + ": " + reason});
    }
    for (const Failed& f : failed) {
        std::fprintf(stderr, "%s: %s: %s\n", kProgram, command.c_str(), f.error.c_str());
    }
    Deidentifier deidentifier(options);
    for (const std::string& file : files) {
        if (isInside(file, outputFolder)) {
            continue; // an earlier export's copies
        }
        const DicomScanResult scan = DicomHeaderScanner::scan(file);
        if (scan.status == DicomScanResult::Status::NotDicom) {
            skipped.push_back({file, scan.reason});
        } else if (scan.ok() &&
                   scan.header.dataSet.text(tags::MediaStorageSOPClassUID) == kDicomdirClass) {
            skipped.push_back({file, "a DICOMDIR (it lists the original files; not exported)"});
        } else {
            try {
                done.push_back(deidentifier.deidentifyFile(file, outputDir));
            } catch (const std::exception& e) {
                failed.push_back({file, e.what()});
                std::fprintf(stderr, "%s: %s: %s\n", kProgram, command.c_str(), e.what());
                continue;
            }
            for (const std::string& warning : done.back().warnings) {
                std::fprintf(stderr, "warning: %s\n", warning.c_str());
            }
            continue;
        }
        std::fprintf(stderr, "skipped %s: %s\n", file.c_str(), skipped.back().reason.c_str());
    }
    const std::size_t uids = deidentifier.uidMap().size();
    if (args.has("--json")) {
        writeJson(done, skipped, failed, uids);
    } else {
        for (const DeidentifyResult& r : done) {
            std::printf("%s -> %s\n", r.inputPath.c_str(), r.outputPath.c_str());
        }
        std::printf("%zu file%s de-identified into %s (%zu UIDs replaced), %zu skipped, %zu "
                    "failed\n",
                    done.size(), done.size() == 1 ? "" : "s", outputDir.c_str(), uids,
                    skipped.size(), failed.size());
    }
    if (done.empty() && failed.empty()) {
        throw CliError{command + ": no DICOM files in the given paths"};
    }
    return failed.empty() ? 0 : 1;
}

} // namespace radiolens::cli
