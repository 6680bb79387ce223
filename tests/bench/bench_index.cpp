// Header indexing speed and linearity: 10 x 20 and 100 x 20 files in one folder, each file a
// real CT header (the Philips phantom's first file, new UIDs, a small 64 x 64 image). Warm page
// cache, median of 5 alternating runs. Then reopening the 2,000-file folder from the store's
// index (what the application shows at once) against reading its headers again, same run.
// Prints a table and one JSON line.
//
//   bench_index [DATA_DIR] [--threads N]

#include "core/dicom/StudyIndexer.h"
#include "core/store/IndexCache.h"
#include "core/store/StudyStore.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string uid() {
    char buffer[100];
    dcmGenerateUniqueIdentifier(buffer, SITE_INSTANCE_UID_ROOT);
    return buffer;
}

/// Writes `series` x `perSeries` files into `folder` from `templateFile`'s header.
void writeFolder(const fs::path& folder, const std::string& templateFile, int series,
                 int perSeries) {
    fs::remove_all(folder);
    fs::create_directories(folder);
    DcmFileFormat base;
    if (base.loadFile(templateFile.c_str()).bad()) {
        std::fprintf(stderr, "cannot read %s\n", templateFile.c_str());
        std::exit(1);
    }
    DcmDataset* ds = base.getDataset();
    ds->putAndInsertUint16(DCM_Rows, 64);
    ds->putAndInsertUint16(DCM_Columns, 64);
    std::vector<Uint16> pixels(64 * 64, 1000);
    ds->putAndInsertUint16Array(DCM_PixelData, pixels.data(), Uint32(pixels.size()));
    const std::string study = uid();
    for (int s = 0; s < series; ++s) {
        const std::string seriesUid = uid();
        for (int i = 0; i < perSeries; ++i) {
            ds->putAndInsertString(DCM_StudyInstanceUID, study.c_str());
            ds->putAndInsertString(DCM_SeriesInstanceUID, seriesUid.c_str());
            ds->putAndInsertString(DCM_SOPInstanceUID, uid().c_str());
            ds->putAndInsertString(DCM_SeriesNumber, std::to_string(s + 1).c_str());
            ds->putAndInsertString(DCM_InstanceNumber, std::to_string(i + 1).c_str());
            char name[64];
            std::snprintf(name, sizeof name, "IM_%03d_%03d.dcm", s, i);
            base.saveFile((folder / name).string().c_str(), EXS_LittleEndianExplicit);
        }
    }
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    std::string data = argc > 1 && argv[1][0] != '-' ? argv[1] : RADIOLENS_DATA_DIR;
    int threads = 0;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string(argv[i]) == "--threads") {
            threads = std::atoi(argv[i + 1]);
        }
    }
    const std::string templateFile = data + "/dicom/ct-phantom-philips-140/I10";
    if (!fs::exists(templateFile)) {
        std::fprintf(stderr, "bench_index: %s not found (pass the shared data folder)\n",
                     templateFile.c_str());
        return 77;
    }
    const fs::path root = fs::temp_directory_path() / "radiolens-bench-index";
    const fs::path small = root / "10x20";
    const fs::path large = root / "100x20";
    writeFolder(small, templateFile, 10, 20);
    writeFolder(large, templateFile, 100, 20);

    radiolens::StudyIndexer indexer(threads);
    const auto timeIndex = [&](const fs::path& folder, std::size_t expected) {
        const auto start = std::chrono::steady_clock::now();
        const radiolens::StudyIndex index = indexer.index({folder.string()});
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (index.instanceCount() != expected || !index.problems.empty()) {
            std::fprintf(stderr, "unexpected index of %s: %zu instances, %zu problems\n",
                         folder.c_str(), index.instanceCount(), index.problems.size());
            std::exit(1);
        }
        return seconds;
    };
    timeIndex(small, 200); // warm the page cache
    timeIndex(large, 2000);
    std::vector<double> smallTimes, largeTimes;
    for (int round = 0; round < 5; ++round) {
        smallTimes.push_back(timeIndex(small, 200));
        largeTimes.push_back(timeIndex(large, 2000));
    }
    const double ts = median(smallTimes);
    const double tl = median(largeTimes);

    // Reopening from the store: the index kept once, then loaded (alternating with indexing).
    radiolens::StudyStore store((root / "store.sqlite").string());
    radiolens::IndexCache cache(store);
    auto start = std::chrono::steady_clock::now();
    cache.save({large.string()}, indexer.index({large.string()}));
    const double saveSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::vector<double> reopenTimes, reindexTimes;
    for (int round = 0; round < 5; ++round) {
        start = std::chrono::steady_clock::now();
        const auto kept = cache.load({large.string()});
        reopenTimes.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        if (!kept || kept->instanceCount() != 2000) {
            std::fprintf(stderr, "the store did not give the 2000 instances back\n");
            return 1;
        }
        reindexTimes.push_back(timeIndex(large, 2000));
    }
    const double reopen = median(reopenTimes);
    const double reindex = median(reindexTimes);
    std::printf("%-22s %10s %12s\n", "folder", "median s", "files/s");
    std::printf("%-22s %10.4f %12.0f\n", "10 series x 20 files", ts, 200 / ts);
    std::printf("%-22s %10.4f %12.0f\n", "100 series x 20 files", tl, 2000 / tl);
    std::printf("ratio 100x20 / 10x20 = %.2f (linear: 10; target <= 11)\n", tl / ts);
    std::printf("reopen the 2000 files from the store: %.4f s, reading them again %.4f s "
                "(%.1fx); keeping the index took %.4f s once\n",
                reopen, reindex, reindex / reopen, saveSeconds);
    std::printf("{\"bench\":\"index\",\"smallSeconds\":%.5f,\"largeSeconds\":%.5f,"
                "\"filesPerSecond\":%.0f,\"ratio\":%.3f,\"reopenSeconds\":%.5f,"
                "\"reindexSeconds\":%.5f,\"saveSeconds\":%.5f}\n",
                ts, tl, 2000 / tl, tl / ts, reopen, reindex, saveSeconds);
    fs::remove_all(root);
    return 0;
}
