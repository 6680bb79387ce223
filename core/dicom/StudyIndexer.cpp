#include "core/dicom/StudyIndexer.h"

#include "core/dicom/DicomHeaderScanner.h"
#include "core/dicom/DicomInstance.h"
#include "core/dicom/DicomdirReader.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <filesystem>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace fs = std::filesystem;

namespace radiolens {

namespace {

/// Result of reading one file's header for the index.
struct FileOutcome {
    bool ok = false;
    bool skip = false; ///< not an instance (a DICOMDIR found while walking a folder)
    std::string reason;
    DicomIdentity identity;
};

FileOutcome indexFile(const std::string& path) {
    FileOutcome outcome;
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    if (!scan.ok()) {
        outcome.reason = scan.reason;
        return outcome;
    }
    try {
        outcome.identity = readIdentity(scan.header.dataSet);
    } catch (const DicomValueError& e) {
        outcome.reason = e.what();
        return outcome;
    }
    DicomIdentity& id = outcome.identity;
    if (id.sopClassUid == kMediaStorageDirectoryClass) {
        outcome.skip = true;
        return outcome;
    }
    for (const auto& [value, name] : {std::pair{&id.studyInstanceUid, "StudyInstanceUID"},
                                      std::pair{&id.seriesInstanceUid, "SeriesInstanceUID"},
                                      std::pair{&id.sopInstanceUid, "SOPInstanceUID"}}) {
        if (value->empty()) {
            outcome.reason = std::string("not a usable DICOM instance: ") + name + " is missing";
            return outcome;
        }
    }
    if (!id.hasPixelData && scan.header.dataSet.has(tags::Rows)) {
        outcome.reason = "image without pixel data (Rows/Columns present, PixelData absent)";
        return outcome;
    }
    outcome.ok = true;
    return outcome;
}

/// The identity read from a header as a flat record of the tree.
InstanceRecord toRecord(const DicomIdentity& id, const std::string& path) {
    InstanceRecord r;
    r.patientId = id.patientId;
    r.patientName = id.patientName;
    r.patientBirthDate = id.patientBirthDate;
    r.patientSex = id.patientSex;
    r.studyInstanceUid = id.studyInstanceUid;
    r.studyDate = id.studyDate;
    r.studyTime = id.studyTime;
    r.studyDescription = id.studyDescription;
    r.accessionNumber = id.accessionNumber;
    r.studyId = id.studyId;
    r.seriesInstanceUid = id.seriesInstanceUid;
    r.seriesDate = id.seriesDate;
    r.seriesTime = id.seriesTime;
    r.seriesDescription = id.seriesDescription;
    r.modality = id.modality;
    r.bodyPart = id.bodyPart;
    r.seriesNumber = id.seriesNumber;
    r.instance.sopInstanceUid = id.sopInstanceUid;
    r.instance.sopClassUid = id.sopClassUid;
    r.instance.path = path;
    r.instance.instanceNumber = id.instanceNumber;
    r.instance.frames = id.frames;
    r.instance.rows = id.rows;
    r.instance.columns = id.columns;
    return r;
}

} // namespace

StudyIndex StudyIndexer::index(const std::vector<std::string>& paths,
                               ProgressSink* progress) const {
    NullProgress noProgress;
    ProgressSink& sink = progress != nullptr ? *progress : noProgress;
    StudyTreeBuilder builder;
    std::vector<std::string> files;
    std::vector<std::string> dicomdirs;
    std::unordered_set<std::string> seenFiles;
    std::unordered_set<std::string> explicitFiles; ///< files named by the caller, not walked
    bool cancelled = !sink.report(0.0);

    // Paths are made canonical once per argument (a folder's walk yields canonical paths), so
    // the same file given twice is read once.
    const auto canonical = [](const fs::path& path) {
        std::error_code error;
        fs::path out = fs::weakly_canonical(fs::absolute(path, error), error);
        return error || out.empty() ? path : out;
    };
    const auto addFile = [&](std::string path) {
        if (seenFiles.insert(path).second) {
            files.push_back(std::move(path));
        }
    };

    for (const std::string& path : paths) {
        if (cancelled) {
            break;
        }
        std::error_code error;
        const fs::file_status status = fs::status(path, error);
        if (error || !fs::exists(status)) {
            builder.problem(path, "no such file or folder");
        } else if (fs::is_directory(status)) {
            // An explicit stack of folders: an error in one folder (EIO on a damaged disc, too
            // many open files, a folder removed meanwhile) is reported and the walk goes on.
            // Symbolic links to folders are not followed (no loops).
            std::vector<fs::path> folders{canonical(path)};
            std::size_t walked = 0;
            while (!folders.empty() && !cancelled) {
                const fs::path folder = std::move(folders.back());
                folders.pop_back();
                fs::directory_iterator it(folder, fs::directory_options::skip_permission_denied,
                                          error);
                if (error) {
                    builder.problem(folder.string(), "cannot read folder: " + error.message());
                    error.clear();
                    continue;
                }
                for (const fs::directory_iterator end; it != end; it.increment(error)) {
                    if (error) {
                        break;
                    }
                    const fs::directory_entry& entry = *it;
                    // Hidden files and folders (.DS_Store, .git, application sidecars) are not
                    // part of a study; files named DICOMDIR are found by the walk itself.
                    const std::string name = entry.path().filename().string();
                    if (name.rfind('.', 0) == 0) {
                        continue;
                    }
                    std::error_code kindError;
                    const fs::file_status kind = entry.symlink_status(kindError);
                    if (fs::is_directory(kind)) {
                        folders.push_back(entry.path());
                    } else if (entry.is_regular_file(kindError) && !isDicomdirName(name)) {
                        addFile(entry.path().string());
                    }
                    if (++walked % 256 == 0 && !sink.report(0.0)) {
                        cancelled = true;
                        break;
                    }
                }
                if (error) {
                    builder.problem(folder.string(),
                                    "stopped reading this folder: " + error.message());
                    error.clear();
                }
            }
        } else if (isDicomdirName(path)) {
            dicomdirs.push_back(canonical(path).string());
        } else {
            const std::string file = canonical(path).string();
            explicitFiles.insert(file);
            addFile(file);
        }
    }

    // Headers of plain files, on every core; outcomes land in file order. Whichever thread
    // finishes every 64th file reports progress (one report at a time), so a cancel stops the
    // work within a few files whatever the scheduling.
    std::vector<FileOutcome> outcomes(files.size());
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> done{0};
    std::atomic<bool> stop{cancelled};
    std::mutex reportMutex;
    const auto worker = [&] {
        while (!stop.load(std::memory_order_relaxed)) {
            const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
            if (i >= files.size()) {
                return;
            }
            outcomes[i] = indexFile(files[i]);
            const std::size_t finished = done.fetch_add(1, std::memory_order_acq_rel) + 1;
            if (finished % 64 == 0 && finished < files.size()) {
                std::lock_guard<std::mutex> lock(reportMutex);
                if (!stop && !sink.report(double(finished) / double(files.size()))) {
                    stop = true;
                }
            }
        }
    };
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const unsigned threads = unsigned(std::clamp<std::size_t>(
        m_threads > 0 ? std::size_t(m_threads) : cores, 1, std::max<std::size_t>(1, files.size())));
    std::vector<std::thread> helpers;
    for (unsigned t = 1; t < threads; ++t) {
        helpers.emplace_back(worker);
    }
    worker();
    for (auto& helper : helpers) {
        helper.join();
    }
    cancelled = stop.load();

    std::size_t detectedDicomdirs = 0;
    for (std::size_t i = 0; i < files.size(); ++i) {
        FileOutcome& outcome = outcomes[i];
        if (outcome.skip) {
            // A media directory given by name (whatever its file name) is read as one; found
            // while walking a folder, its files are indexed by the walk itself.
            if (explicitFiles.count(files[i]) != 0) {
                dicomdirs.push_back(files[i]);
                ++detectedDicomdirs;
            }
            continue;
        }
        if (outcome.ok) {
            builder.add(toRecord(outcome.identity, files[i]));
        } else if (!outcome.reason.empty()) {
            builder.problem(files[i], outcome.reason);
        }
    }
    const std::size_t namedDicomdirs = dicomdirs.size() - detectedDicomdirs;
    // DICOMDIR: the records give identities without opening each file.
    for (const std::string& dicomdir : dicomdirs) {
        std::vector<DicomdirEntry> entries;
        std::vector<Problem> problems;
        readDicomdir(dicomdir, entries, problems);
        for (auto& problem : problems) {
            builder.problem(problem.path, problem.reason);
        }
        for (auto& entry : entries) {
            if (seenFiles.insert(entry.path).second) {
                builder.add(toRecord(entry.identity, entry.path));
            }
        }
    }
    for (SeriesEntry* series :
         dicomdirs.empty() ? std::vector<SeriesEntry*>{} : builder.seriesWithoutDescription()) {
        // One header per such series fills in what DICOMDIR records left out.
        const DicomScanResult scan = DicomHeaderScanner::scan(series->instances.front().path);
        if (scan.ok()) {
            series->description = toUtf8(scan.header.dataSet.text(tags::SeriesDescription),
                                         scan.header.dataSet.text(tags::SpecificCharacterSet));
            if (series->bodyPart.empty()) {
                series->bodyPart = scan.header.dataSet.text(tags::BodyPartExamined);
            }
        }
    }
    StudyIndex index = builder.finish();
    index.filesVisited = files.size() + namedDicomdirs;
    index.cancelled = cancelled;
    if (!cancelled) {
        sink.report(1.0);
    }
    return index;
}

} // namespace radiolens
