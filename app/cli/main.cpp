// radiolens-cli: headless Radiolens. Subcommands index, info, convert, demo, engine, train,
// evaluate, classify, demo-model and forecast; each has --help. Exit code 0 on success; otherwise 1
// (or 2 for a usage error) with a one-line reason on stderr. No Qt and no LibTorch are linked: the
// engine and ML commands open the ML plugin at run time.

#include "core/dicom/DemoStudy.h"
#include "core/dicom/SeriesLoader.h"
#include "core/dicom/StudyIndexer.h"
#include "core/domain/EventLog.h"
#include "core/domain/JsonWriter.h"
#include "core/domain/Paths.h"
#include "core/imaging/VolumeWriter.h"
#include "core/ml/MlRuntime.h"
#include "core/store/IndexCache.h"
#include "core/store/StudyStore.h"
#include "app/cli/CliSupport.h"
#include "app/cli/ExportCommands.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace radiolens;
using namespace radiolens::cli;

namespace {

// ---- process measurements for --timing -------------------------------------------------------

long long statusKilobytes(const char* field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    const std::size_t n = std::strlen(field);
    while (std::getline(status, line)) {
        if (line.compare(0, n, field) == 0) {
            return std::atoll(line.c_str() + n + 1);
        }
    }
    return 0;
}

struct ProcessClock {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    long long startRssKb = statusKilobytes("VmRSS");

    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
};

ProcessClock& processClock() {
    static ProcessClock clock;
    return clock;
}

/// Seconds from process start to the start of the series load (for --timing).
double& loadStartSeconds() {
    static double seconds = 0.0;
    return seconds;
}

// ---- text helpers ------------------------------------------------------------------------------

std::string vecText(const Vec3& v) {
    return fmt("(%.4f, %.4f, %.4f)", v.x, v.y, v.z);
}

std::string dateText(const std::string& d) {
    return d.size() == 8 ? d.substr(0, 4) + "-" + d.substr(4, 2) + "-" + d.substr(6, 2) : d;
}

/// Progress on stderr for interactive use: a percentage overwritten in place.
class TerminalProgress final : public ProgressSink {
public:
    explicit TerminalProgress(const char* label)
        : m_label(label)
        , m_enabled(isatty(2) != 0) {}
    ~TerminalProgress() override {
        if (m_enabled && m_shown) {
            std::fprintf(stderr, "\r%*s\r", 40, "");
        }
    }
    bool report(double fraction) override {
        const int percent = int(fraction * 100.0);
        if (m_enabled && percent != m_last) {
            std::fprintf(stderr, "\r%s %3d%%", m_label, percent);
            m_last = percent;
            m_shown = true;
        }
        return true;
    }

private:
    const char* m_label;
    bool m_enabled;
    bool m_shown = false;
    int m_last = -1;
};

StudyIndex indexPaths(const std::vector<std::string>& paths, int threads) {
    TerminalProgress progress("indexing");
    return StudyIndexer(threads).index(paths, &progress);
}

// ---- index -------------------------------------------------------------------------------------

const char* kIndexHelp = R"(usage: radiolens-cli index PATH... [--json] [--threads N] [--store DB]

Reads the headers of DICOM files, folders (recursively) and DICOMDIR files and prints the
Patient / Study / Series tree with the modality, description and number of instances of each
series, and every file that could not be used with the reason.

  --json        print JSON: {"patients":[{"patientId","name","studies":[{"studyInstanceUid",
                "description","series":[{"seriesInstanceUid","modality","description",
                "instances"}]}]}],"problems":[{"path","reason"}]}
  --threads N   header-reading threads (default: every core)
  --store DB    also keep the index in the Radiolens store DB, where labels find their images
                (and the application reopens these folders at once)
)";

void writeIndexJson(const StudyIndex& index, std::ostream& out) {
    JsonWriter json(out);
    json.beginObject();
    json.key("patients").beginArray();
    for (const auto& patient : index.patients) {
        json.beginObject();
        json.field("patientId", patient.patientId);
        json.field("name", patient.name);
        json.field("birthDate", patient.birthDate);
        json.field("sex", patient.sex);
        json.key("studies").beginArray();
        for (const auto& study : patient.studies) {
            json.beginObject();
            json.field("studyInstanceUid", study.studyInstanceUid);
            json.field("description", study.description);
            json.field("date", study.date);
            json.field("accessionNumber", study.accessionNumber);
            json.key("series").beginArray();
            for (const auto& series : study.series) {
                json.beginObject();
                json.field("seriesInstanceUid", series.seriesInstanceUid);
                json.field("modality", series.modality);
                json.field("description", series.description);
                json.field("seriesNumber", series.seriesNumber);
                json.field("instances", series.instances.size());
                json.endObject();
            }
            json.endArray();
            json.endObject();
        }
        json.endArray();
        json.endObject();
    }
    json.endArray();
    json.key("problems").beginArray();
    for (const auto& problem : index.problems) {
        json.beginObject();
        json.field("path", problem.path);
        json.field("reason", problem.reason);
        json.endObject();
    }
    json.endArray();
    json.field("filesVisited", index.filesVisited);
    json.endObject();
}

void writeIndexText(const StudyIndex& index, std::ostream& out) {
    for (const auto& patient : index.patients) {
        out << "Patient " << (patient.name.empty() ? "(no name)" : patient.name) << "  ID "
            << (patient.patientId.empty() ? "(none)" : patient.patientId) << "\n";
        for (const auto& study : patient.studies) {
            out << "  Study " << dateText(study.date) << "  "
                << (study.description.empty() ? "(no description)" : study.description) << "  "
                << study.studyInstanceUid << "\n";
            for (const auto& series : study.series) {
                out << "    Series " << series.seriesNumber << "  " << series.modality << "  "
                    << (series.description.empty() ? "(no description)" : series.description)
                    << "  " << series.instances.size() << " instance"
                    << (series.instances.size() == 1 ? "" : "s") << "  " << series.seriesInstanceUid
                    << "\n";
            }
        }
    }
    if (index.patients.empty()) {
        out << "No DICOM instances found.\n";
    }
    if (!index.problems.empty()) {
        out << "Problems (" << index.problems.size() << "):\n";
        for (const auto& problem : index.problems) {
            out << "  " << problem.path << ": " << problem.reason << "\n";
        }
    }
}

int runIndex(const std::vector<std::string>& argv) {
    const Arguments args = parse("index", argv, {"--json", "--help"}, {"--threads", "--store"});
    if (args.has("--help")) {
        std::cout << kIndexHelp;
        return 0;
    }
    if (args.positional.empty()) {
        usageError("index", "give at least one file or folder");
    }
    const int threads = parseThreads("index", args);
    const StudyIndex index = indexPaths(args.positional, threads);
    // Nothing usable at all is a failure: the reason on stderr, nothing on stdout.
    if (index.instanceCount() == 0 && !index.problems.empty()) {
        throw CliError{"index: no usable DICOM instance (" + index.problems.front().path + ": " +
                       index.problems.front().reason + ")"};
    }
    if (args.has("--store") && !index.cancelled) {
        try {
            StudyStore store(args.get("--store"));
            IndexCache(store).save(args.positional, index);
        } catch (const std::exception& e) {
            throw CliError{"index: " + std::string(e.what())};
        }
    }
    if (args.has("--json")) {
        writeIndexJson(index, std::cout);
    } else {
        writeIndexText(index, std::cout);
    }
    return 0;
}

// ---- info / convert: one series ----------------------------------------------------------------

/// The files of the series the user means: --series UID, or the only series under PATH.
const SeriesEntry& chooseSeries(const std::string& command, const StudyIndex& index,
                                const Arguments& args) {
    const std::string wanted = args.get("--series");
    if (!wanted.empty()) {
        if (const SeriesEntry* series = index.findSeries(wanted)) {
            return *series;
        }
        throw CliError{command + ": no series " + wanted + " under " + args.positional.front()};
    }
    const auto all = index.allSeries();
    if (all.empty()) {
        std::string reason = command + ": no DICOM series under " + args.positional.front();
        if (!index.problems.empty()) {
            reason +=
                " (" + index.problems.front().path + ": " + index.problems.front().reason + ")";
        }
        throw CliError{reason};
    }
    if (all.size() > 1) {
        throw CliError{
            command + ": " + args.positional.front() + " holds " + std::to_string(all.size()) +
            " series; choose one with --series UID (list them with '" + kProgram + " index')"};
    }
    return *all.front();
}

SeriesLoadResult loadChosen(const std::string& command, const Arguments& args, bool resample,
                            std::vector<Problem>& indexProblems) {
    // Options are checked before any work, so a typo is a usage error, not a failed load.
    SeriesLoadOptions options;
    options.resample = resample;
    options.threads = parseThreads(command, args);
    if (args.has("--spacing")) {
        options.resampleSpacing = parseNumber(command, "--spacing", args.get("--spacing"));
        if (options.resampleSpacing <= 0.0) {
            usageError(command, "--spacing takes a positive number of millimetres");
        }
    }
    if (args.has("--instance")) {
        const double n = parseNumber(command, "--instance", args.get("--instance"));
        if (n < 1 || n != std::floor(n)) {
            usageError(command, "--instance takes an image number from 1");
        }
        options.instance = int(n) - 1;
    }
    const StudyIndex index = indexPaths({args.positional.front()}, options.threads);
    indexProblems = index.problems;
    const SeriesEntry& series = chooseSeries(command, index, args);
    loadStartSeconds() = processClock().seconds();
    SeriesLoadResult result = SeriesLoader(options).load(series.paths());
    if (!result.ok()) {
        throw CliError{command + ": cannot load series " + series.seriesInstanceUid + ": " +
                       result.error};
    }
    return result;
}

void writeTiming(const SeriesLoadResult& result) {
    const ProcessClock& clock = processClock();
    std::fprintf(stderr,
                 "{\"timing\":{\"processSeconds\":%.4f,\"loadSeconds\":%.4f,"
                 "\"headersSeconds\":%.4f,\"firstSliceSeconds\":%.4f,"
                 "\"firstSliceSinceStartSeconds\":%.4f,\"startRssBytes\":%lld,"
                 "\"peakRssBytes\":%lld,\"volumeBytes\":%zu}}\n",
                 clock.seconds(), result.timing.total, result.timing.headers,
                 result.timing.firstSlice, loadStartSeconds() + result.timing.firstSlice,
                 clock.startRssKb * 1024, statusKilobytes("VmHWM") * 1024,
                 result.volume ? result.volume->byteSize() : 0);
}

const char* kInfoHelp =
    R"(usage: radiolens-cli info PATH [--series UID] [--instance N] [--json]
                          [--resample [--spacing MM]] [--threads N] [--timing]

Loads one series fully (PATH: a file, folder or DICOMDIR; --series picks one when PATH holds
several) and prints its size, spacing, origin, direction, pixel type, minimum / maximum / mean
(HU for CT) and warnings: gantry tilt, irregular gaps, missing slices.

  --series UID  the SeriesInstanceUID to load
  --instance N  only image N of the series (in instance order; radiographs are never stacked,
                the first is loaded unless N is given)
  --json        print JSON (adds slice positions and gaps in mm)
  --resample    resample a tilted or irregular series onto a regular grid first
  --spacing MM  slice spacing of the resampled grid (default: the median gap)
  --threads N   decoding threads (default: every core)
  --timing      print load time and memory as JSON on stderr
)";

void writeVolumeJson(const Volume& v, const std::vector<Problem>& problems, std::ostream& out) {
    JsonWriter json(out);
    json.beginObject();
    json.field("seriesInstanceUid", v.seriesInstanceUid);
    json.field("description", v.description);
    json.field("modality", v.modality);
    json.field("size",
               std::vector<double>{double(v.size()[0]), double(v.size()[1]), double(v.size()[2])});
    json.field("spacing", std::vector<double>{v.spacing.x, v.spacing.y, v.spacing.z});
    json.field("origin", std::vector<double>{v.origin.x, v.origin.y, v.origin.z});
    json.field("direction", std::vector<double>{v.direction.i.x, v.direction.i.y, v.direction.i.z,
                                                v.direction.j.x, v.direction.j.y, v.direction.j.z,
                                                v.direction.k.x, v.direction.k.y, v.direction.k.z});
    json.field("pixelType", toString(v.format()));
    json.field("photometric", toString(v.photometric));
    json.field("units", v.units);
    json.field("pixelSpacingSource", v.pixelSpacingSource);
    json.field("min", v.statistics.min);
    json.field("max", v.statistics.max);
    json.field("mean", v.statistics.mean);
    json.key("windows").beginArray();
    for (const auto& w : v.windows) {
        json.beginObject().field("center", w.center).field("width", w.width).field("name", w.name);
        json.endObject();
    }
    json.endArray();
    const GeometryReport& g = v.geometry;
    json.key("geometry").beginObject();
    json.field("hasPatientGeometry", g.hasPatientGeometry);
    json.field("tilted", g.tilted);
    json.field("tiltDegrees", g.tiltDegrees);
    json.field("irregular", g.irregular);
    json.field("minGap", g.minGap);
    json.field("maxGap", g.maxGap);
    json.field("nominalGap", g.nominalGap);
    json.field("gaps", g.gaps);
    json.field("steps", g.steps);
    json.key("missingAfter").beginArray();
    for (int k : g.missingAfter) {
        json.value(k);
    }
    json.endArray();
    json.field("resampled", g.resampled);
    json.endObject();
    json.key("slicePositions").beginArray();
    for (const Vec3& p : v.slicePositions) {
        json.numbers({p.x, p.y, p.z});
    }
    json.endArray();
    json.key("warnings").beginArray();
    for (const auto& w : v.warnings) {
        json.value(w);
    }
    json.endArray();
    json.key("problems").beginArray();
    for (const auto& problem : problems) {
        json.beginObject().field("path", problem.path).field("reason", problem.reason).endObject();
    }
    json.endArray();
    json.endObject();
}

void writeVolumeText(const Volume& v, const std::vector<Problem>& problems, std::ostream& out) {
    const auto& s = v.size();
    out << "Series      " << v.seriesInstanceUid << "\n";
    out << "Description " << (v.description.empty() ? "(none)" : v.description) << "\n";
    out << "Modality    " << v.modality << "\n";
    out << "Size        " << s[0] << " x " << s[1] << " x " << s[2]
        << (v.is2D() ? "  (2D image)" : "") << "\n";
    out << "Spacing     " << fmt("%.6g x %.6g x %.6g mm", v.spacing.x, v.spacing.y, v.spacing.z)
        << "  (in-plane from " << v.pixelSpacingSource << ")\n";
    out << "Origin      " << vecText(v.origin) << " mm (LPS)\n";
    out << "Direction   i " << vecText(v.direction.i) << " [" << orientationLetters(v.direction.i)
        << "]\n            j " << vecText(v.direction.j) << " ["
        << orientationLetters(v.direction.j) << "]\n            k " << vecText(v.direction.k)
        << " [" << orientationLetters(v.direction.k) << "]\n";
    out << "Pixel type  " << toString(v.format()) << "  " << toString(v.photometric)
        << (v.photometric == Photometric::Monochrome1 ? " (shown inverted)" : "") << "\n";
    const std::string units = v.units.empty() ? "" : " " + v.units;
    out << "Values      min " << fmt("%.6g", v.statistics.min) << units << "  max "
        << fmt("%.6g", v.statistics.max) << units << "  mean " << fmt("%.6g", v.statistics.mean)
        << units << "\n";
    for (const auto& w : v.windows) {
        out << "Window      " << fmt("C %.6g / W %.6g", w.center, w.width)
            << (w.name.empty() ? "" : "  " + w.name) << "\n";
    }
    const GeometryReport& g = v.geometry;
    if (!g.gaps.empty()) {
        out << "Slice gaps  "
            << fmt("%.4g to %.4g mm, nominal %.4g mm", g.minGap, g.maxGap, g.nominalGap)
            << (g.irregular ? "  IRREGULAR" : "") << "  (along the slice normal)\n";
        if (g.tilted && !g.steps.empty()) {
            out << "Steps       "
                << fmt("%.4g to %.4g mm between slice positions",
                       *std::min_element(g.steps.begin(), g.steps.end()),
                       *std::max_element(g.steps.begin(), g.steps.end()))
                << "\n";
        }
        out << "Tilt        " << fmt("%.3f degrees", g.tiltDegrees) << (g.tilted ? "  TILTED" : "")
            << (g.resampled ? "  (resampled)" : "") << "\n";
    }
    for (const auto& w : v.warnings) {
        out << "Warning     " << w << "\n";
    }
    for (const auto& p : problems) {
        out << "Problem     " << p.path << ": " << p.reason << "\n";
    }
}

int runInfo(const std::vector<std::string>& argv) {
    const Arguments args = parse("info", argv, {"--json", "--help", "--resample", "--timing"},
                                 {"--series", "--threads", "--spacing", "--instance"});
    if (args.has("--help")) {
        std::cout << kInfoHelp;
        return 0;
    }
    if (args.positional.size() != 1) {
        usageError("info", "give exactly one file, folder or DICOMDIR");
    }
    std::vector<Problem> problems;
    const SeriesLoadResult result = loadChosen("info", args, args.has("--resample"), problems);
    problems.insert(problems.end(), result.problems.begin(), result.problems.end());
    if (args.has("--json")) {
        writeVolumeJson(*result.volume, problems, std::cout);
    } else {
        writeVolumeText(*result.volume, problems, std::cout);
    }
    if (args.has("--timing")) {
        writeTiming(result);
    }
    return 0;
}

const char* kConvertHelp =
    R"(usage: radiolens-cli convert PATH OUT.{mha,nrrd,nii.gz} [--series UID] [--instance N]
                             [--no-resample] [--spacing MM] [--threads N]

Writes one series as a volume (or a 2D image as a one-slice volume) with its geometry (LPS
origin, spacing, direction; NIfTI gets RAS as its standard says) and its values unchanged (HU
for CT). A tilted or irregular series is resampled onto a regular grid, since these formats
cannot hold a sheared stack; --no-resample writes the slices as they are (approximate grid).

  --series UID    the SeriesInstanceUID to write
  --instance N    only image N of the series (in instance order)
  --no-resample   keep a tilted or irregular stack as it is
  --spacing MM    slice spacing of the resampled grid (default: the median gap)
  --threads N     decoding threads (default: every core)
)";

int runConvert(const std::vector<std::string>& argv) {
    const Arguments args =
        parse("convert", argv, {"--help", "--no-resample"}, {"--series", "--threads", "--spacing"});
    if (args.has("--help")) {
        std::cout << kConvertHelp;
        return 0;
    }
    if (args.positional.size() != 2) {
        usageError("convert", "give the input PATH and the output file");
    }
    const std::string output = args.positional[1];
    if (!isWritableVolumePath(output)) {
        usageError("convert", output + ": the output must end in .mha, .nrrd, .nii or .nii.gz");
    }
    std::vector<Problem> problems;
    const SeriesLoadResult result =
        loadChosen("convert", args, !args.has("--no-resample"), problems);
    try {
        writeVolume(*result.volume, output);
    } catch (const std::exception& e) {
        throw CliError{std::string("convert: ") + e.what()};
    }
    const Volume& v = *result.volume;
    std::cout << "Wrote " << output << ": " << v.size()[0] << " x " << v.size()[1] << " x "
              << v.size()[2] << " " << toString(v.format())
              << fmt(", spacing %.6g x %.6g x %.6g mm", v.spacing.x, v.spacing.y, v.spacing.z)
              << (v.geometry.resampled ? " (resampled onto a regular grid)" : "") << "\n";
    for (const auto& w : v.warnings) {
        std::cerr << "warning: " << w << "\n";
    }
    return 0;
}

// ---- demo --------------------------------------------------------------------------------------

const char* kDemoHelp =
    R"(usage: radiolens-cli demo [--out DIR] [--force] [--chests N] [--chest-size S]
                           [--truth FILE]

Writes the built-in demo study (a Shepp-Logan head phantom CT, a skull radiograph and synthetic
chest radiographs, made by Radiolens with DCMTK) into DIR (default: the user's data folder,
where 'radiolens --demo' looks) unless it is already there, and prints where it is.

  --out DIR         folder to write into
  --force           write it again even if it is there
  --chests N        N chest radiographs (default 8), one patient each, every other one with a
                    nodule; implies --force (a labelling exercise: see --truth)
  --chest-size S    their size in pixels (default 512)
  --truth FILE      write the chest radiographs' true classes as a label CSV (series,class:
                    nodule or no nodule, the demo classifier's classes), for 'radiolens-cli
                    label import'
)";

int runDemo(const std::vector<std::string>& argv) {
    const Arguments args = parse("demo", argv, {"--help", "--force"},
                                 {"--out", "--chests", "--chest-size", "--truth"});
    if (args.has("--help")) {
        std::cout << kDemoHelp;
        return 0;
    }
    if (!args.positional.empty()) {
        usageError("demo", "unexpected argument " + args.positional.front());
    }
    const std::string folder = args.get("--out", demoStudyFolder());
    TerminalProgress progress("writing demo");
    try {
        DemoStudyOptions options;
        options.chests = args.has("--chests") ? positiveInt("demo", args, "--chests", 0, 100000)
                                              : options.chests;
        options.chestSize = args.has("--chest-size")
                                ? positiveInt("demo", args, "--chest-size", 32, 4096)
                                : options.chestSize;
        const bool custom = args.has("--chests") || args.has("--chest-size");
        const DemoStudy demo = args.has("--force") || custom
                                   ? writeDemoStudy(folder, options, &progress)
                                   : ensureDemoStudy(folder, &progress);
        if (args.has("--truth")) {
            std::string truth = "series,class,annotator\n";
            for (const DemoStudy::Chest& chest : demo.chests) {
                // The demo classifier's class names, so that its suggestions compare.
                truth += chest.seriesInstanceUid + (chest.nodule ? ",nodule" : ",no nodule") +
                         ",truth\n";
            }
            writeFileAtomically(args.get("--truth"), truth);
        }
        std::cout << demo.folder << "\n";
    } catch (const std::exception& e) {
        throw CliError{std::string("demo: ") + e.what()};
    }
    return 0;
}

// ---- engine ------------------------------------------------------------------------------------

const char* kEngineHelp = R"(usage: radiolens-cli engine [--check] [--json]

Loads the machine-learning engine (the LibTorch plugin, opened only when a command needs it) and
prints its backend, threads and plugin path.

  --check   also time a 1024 x 1024 matrix product to confirm a fast BLAS is in use
  --json    print JSON
)";

int runEngine(const std::vector<std::string>& argv) {
    const Arguments args = parse("engine", argv, {"--help", "--check", "--json"}, {});
    if (args.has("--help")) {
        std::cout << kEngineHelp;
        return 0;
    }
    const auto start = std::chrono::steady_clock::now();
    MlEngine* engine = nullptr;
    try {
        engine = &MlRuntime::engine();
    } catch (const std::exception& e) {
        throw CliError{std::string("engine: ") + e.what()};
    }
    const double loadSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double gflops = args.has("--check") ? engine->matmulGflops(1024, 5) : 0.0;
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginObject();
        json.field("backend", engine->backendName());
        json.field("threads", engine->threads());
        json.field("plugin", MlRuntime::pluginPath());
        json.field("loadSeconds", loadSeconds);
        if (args.has("--check")) {
            json.field("matmulGflops", gflops);
        }
        json.endObject();
    } else {
        std::cout << "Backend   " << engine->backendName() << "\n";
        std::cout << "Threads   " << engine->threads() << "\n";
        std::cout << "Plugin    " << MlRuntime::pluginPath()
                  << fmt("  (loaded in %.2f s)", loadSeconds) << "\n";
        if (args.has("--check")) {
            std::cout << "Matmul    " << fmt("%.1f GFLOP/s (1024 x 1024 float32)", gflops) << "\n";
        }
    }
    return 0;
}

// ---- main --------------------------------------------------------------------------------------

const char* kHelp = R"(usage: radiolens-cli COMMAND [ARGS] [--help]

Radiolens without a window: read DICOM studies and series from scripts.

Commands:
  index PATH...          list the patients, studies and series under files, folders, DICOMDIR
  info PATH              load one series and print its geometry, values and warnings
  convert PATH OUT       write one series as .mha, .nrrd or .nii.gz with geometry and HU
  demo                   write the built-in demo study and print its folder
  engine                 load the machine-learning engine and print what it runs on
  forecast import PATH   import vitals and labs (PhysioNet 2012, long CSV, FHIR) and report
                         what the cleaning rules kept and dropped
%s%s%s%s%s
'radiolens-cli COMMAND --help' describes a command. Exit code 0 on success, 1 on failure,
2 on a usage error; the reason is printed on one line on stderr.
)";

} // namespace

int main(int argc, char** argv) {
    processClock();
    // DICOM decimal strings are parsed with the C locale whatever the user's locale.
    std::setlocale(LC_ALL, "");
    std::setlocale(LC_NUMERIC, "C");
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::fprintf(stderr, "%s: give a command (see '%s --help')\n", kProgram, kProgram);
        return 2;
    }
    if (args.front() == "--help" || args.front() == "-h" || args.front() == "help") {
        std::printf(kHelp, kMlCommandsHelp, kLabelCommandsHelp, kStoreCommandsHelp,
                    kPacsCommandsHelp, kExportHelp);
        return 0;
    }
    if (args.front() == "--version") {
        std::cout << "radiolens-cli 0.1.0\n";
        return 0;
    }
    const std::map<std::string, std::function<int(const std::vector<std::string>&)>> commands = {
        {"index", runIndex},       {"info", runInfo},         {"convert", runConvert},
        {"demo", runDemo},         {"engine", runEngine},     {"train", runTrain},
        {"evaluate", runEvaluate}, {"classify", runClassify}, {"demo-model", runDemoModel},
        {"forecast", runForecast}, {"label", runLabel},       {"audit", runAudit},
        {"models", runModels},     {"retrain", runRetrain},   {"pacs", runPacs},
        {"listen", runListen},     {"export", runExport},     {"store", runStore},
    };
    const auto command = commands.find(args.front());
    if (command == commands.end()) {
        std::fprintf(stderr, "%s: unknown command '%s' (see '%s --help')\n", kProgram,
                     args.front().c_str(), kProgram);
        return 2;
    }
    installCrashReporter(kProgram);
    // The log names the command and its subcommand (a short lowercase word), never its other
    // arguments: they may be paths, names or UIDs.
    const std::set<std::string> withSubcommands = {"label", "audit",    "models",
                                                   "pacs",  "forecast", "store"};
    const bool subcommand =
        withSubcommands.count(args.front()) != 0 && args.size() > 1 && args[1].size() <= 12 &&
        std::all_of(args[1].begin(), args[1].end(), [](char c) { return c >= 'a' && c <= 'z'; });
    const std::string what = args.front() + (subcommand ? " " + args[1] : std::string());
    logEvent("cli", what + ": started");
    try {
        const int code = command->second(std::vector<std::string>(args.begin() + 1, args.end()));
        logEvent("cli", what + ": exit " + std::to_string(code));
        return code;
    } catch (const CliError& e) {
        std::fprintf(stderr, "%s: %s\n", kProgram, e.message.c_str());
        logEvent("cli", what + ": exit " + std::to_string(e.code) + ": " + e.message);
        return e.code;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s: %s\n", kProgram, args.front().c_str(), e.what());
        logEvent("cli", what + ": exit 1: " + e.what());
        return 1;
    }
}
