// Scale (issue 9): indexing a folder of 100,000 instances stays linear and within memory, and
// the study browser stays responsive with 10,000 studies in the store.
//
// Generates 10,000 studies of 10 instances each (one patient per study; 8 x 8 pixels, real CT
// header fields) under a temporary folder, then, in one process:
//   - indexes 1,000 studies (10,000 instances) and all 10,000 (100,000), median of 3 each,
//     with the peak memory of the 100,000 index;
//   - keeps the big index in the store and opens it from the store again;
//   - shows it in the study browser (the application's tree model, search proxy and view, on
//     the offscreen platform): setting the index, typing a search, clearing it, scrolling to the
//     end and painting.
// Prints a table and one JSON line.
//
//   QT_QPA_PLATFORM=offscreen build/bin/bench_scale [--keep]

#include "core/dicom/StudyIndexer.h"
#include "core/store/IndexCache.h"
#include "core/store/StudyStore.h"
#include "core/tasks/StudyTreeModel.h"
#include "ui/StudyBrowserModel.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"

#include <QApplication>
#include <QTreeView>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

using Clock = std::chrono::steady_clock;

double seconds(const std::function<void()>& f) {
    const auto start = Clock::now();
    f();
    return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

long long statusKb(const char* field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field, 0) == 0) {
            return std::atoll(line.c_str() + std::strlen(field) + 1);
        }
    }
    return 0;
}

/// study s of `studies` under folder/part-(s / 1000)/s: 10 instances each.
void writeStudies(const fs::path& folder, int studies) {
    DcmFileFormat file;
    DcmDataset* ds = file.getDataset();
    ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
    ds->putAndInsertString(DCM_Modality, "CT");
    ds->putAndInsertString(DCM_StudyDescription, "HEAD");
    ds->putAndInsertString(DCM_SeriesDescription, "AXIAL 5mm");
    ds->putAndInsertUint16(DCM_Rows, 8);
    ds->putAndInsertUint16(DCM_Columns, 8);
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    ds->putAndInsertUint16(DCM_BitsAllocated, 16);
    ds->putAndInsertUint16(DCM_BitsStored, 16);
    ds->putAndInsertUint16(DCM_HighBit, 15);
    ds->putAndInsertUint16(DCM_PixelRepresentation, 1);
    ds->putAndInsertString(DCM_PixelSpacing, "0.5\\0.5");
    ds->putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
    std::vector<Uint16> pixels(64, 1000);
    ds->putAndInsertUint16Array(DCM_PixelData, pixels.data(), Uint32(pixels.size()));
    char uid[100];
    for (int s = 0; s < studies; ++s) {
        const fs::path dir = folder / ("part-" + std::to_string(s / 1000)) / std::to_string(s);
        fs::create_directories(dir);
        char text[64];
        std::snprintf(text, sizeof text, "SCALE^PATIENT%05d", s);
        ds->putAndInsertString(DCM_PatientName, text);
        std::snprintf(text, sizeof text, "SC%05d", s);
        ds->putAndInsertString(DCM_PatientID, text);
        std::snprintf(text, sizeof text, "2026%02d%02d", 1 + s % 12, 1 + s % 28);
        ds->putAndInsertString(DCM_StudyDate, text);
        ds->putAndInsertString(DCM_StudyInstanceUID,
                               dcmGenerateUniqueIdentifier(uid, SITE_STUDY_UID_ROOT));
        ds->putAndInsertString(DCM_SeriesInstanceUID,
                               dcmGenerateUniqueIdentifier(uid, SITE_SERIES_UID_ROOT));
        ds->putAndInsertString(DCM_SeriesNumber, "1");
        for (int i = 0; i < 10; ++i) {
            ds->putAndInsertString(DCM_SOPInstanceUID,
                                   dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
            ds->putAndInsertString(DCM_InstanceNumber, std::to_string(i + 1).c_str());
            std::snprintf(text, sizeof text, "0\\0\\%d", i * 5);
            ds->putAndInsertString(DCM_ImagePositionPatient, text);
            file.saveFile((dir / ("IM" + std::to_string(i) + ".dcm")).c_str(),
                          EXS_LittleEndianExplicit);
        }
    }
}

} // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    const bool keep = argc > 1 && std::string(argv[1]) == "--keep";
    const fs::path root = fs::temp_directory_path() / "radiolens-bench-scale";
    const fs::path folder = root / "studies";
    if (!fs::exists(folder / "part-9" / "9999" / "IM9.dcm")) {
        fs::remove_all(root);
        std::fprintf(stderr, "writing 100,000 files...\n");
        const double written = seconds([&] { writeStudies(folder, 10000); });
        std::fprintf(stderr, "written in %.0f s\n", written);
    }
    std::vector<std::string> tenth;
    tenth.push_back((folder / "part-0").string());

    // Indexing: 10,000 and 100,000 instances, median of 3, alternating.
    StudyIndexer indexer;
    std::vector<double> small, large;
    StudyIndex big;
    const long long rssBefore = statusKb("VmRSS");
    long long rssAfterBig = 0;
    for (int run = 0; run < 3; ++run) {
        small.push_back(seconds([&] {
            const StudyIndex index = indexer.index(tenth);
            if (index.instanceCount() != 10000) {
                std::fprintf(stderr, "10,000 expected, %zu indexed\n", index.instanceCount());
                std::exit(1);
            }
        }));
        large.push_back(seconds([&] { big = indexer.index({folder.string()}); }));
        if (big.instanceCount() != 100000 || !big.problems.empty()) {
            std::fprintf(stderr, "100,000 expected, %zu indexed, %zu problems\n",
                         big.instanceCount(), big.problems.size());
            return 1;
        }
        rssAfterBig = std::max(rssAfterBig, statusKb("VmRSS"));
    }
    const double smallSeconds = median(small);
    const double largeSeconds = median(large);

    // The store: keep the index, open it again (what reopening the folder shows at once).
    const std::string storePath = (root / "store.sqlite").string();
    fs::remove(storePath);
    fs::remove(storePath + "-wal");
    fs::remove(storePath + "-shm");
    double saveSeconds = 0, loadSeconds = 0, openSeconds = 0;
    std::shared_ptr<const StudyIndex> shown;
    {
        StudyStore store(storePath);
        saveSeconds = seconds([&] { IndexCache(store).save({folder.string()}, big); });
    }
    openSeconds = seconds([&] { StudyStore reopened(storePath); });
    {
        StudyStore store(storePath);
        loadSeconds = seconds([&] {
            shown = std::make_shared<StudyIndex>(*IndexCache(store).load({folder.string()}));
        });
    }

    // The study browser with 10,000 studies.
    StudyTreeModel tree;
    StudyBrowserModel browser;
    browser.setSourceModel(&tree);
    QTreeView view;
    view.setModel(&browser);
    view.resize(400, 900);
    view.show();
    QApplication::processEvents();
    const double setSeconds = seconds([&] {
        tree.setIndex(shown);
        view.expandToDepth(1);
        view.grab();
    });
    std::vector<double> searches, clears, scrolls;
    for (int run = 0; run < 5; ++run) {
        const QString id = QStringLiteral("SC%1").arg(1234 + run * 1111, 5, 10, QLatin1Char('0'));
        searches.push_back(seconds([&] {
            browser.setSearchText(id);
            view.expandToDepth(1);
            view.grab();
        }));
        if (browser.rowCount() != 1) {
            std::fprintf(stderr, "search for %s found %d patients\n", qPrintable(id),
                         browser.rowCount());
            return 1;
        }
        clears.push_back(seconds([&] {
            browser.setSearchText({});
            view.grab();
        }));
        scrolls.push_back(seconds([&] {
            view.scrollToBottom();
            view.grab();
            view.scrollToTop();
            view.grab();
        }));
    }
    const long long peakKb = statusKb("VmHWM");

    std::printf("100,000 instances in 10,000 studies (10 each), warm page cache\n");
    std::printf("%-52s %10s\n", "", "seconds");
    std::printf("%-52s %10.3f  (%.0f files/s)\n", "index 10,000 instances (median of 3)",
                smallSeconds, 10000 / smallSeconds);
    std::printf("%-52s %10.3f  (%.0f files/s)\n", "index 100,000 instances (median of 3)",
                largeSeconds, 100000 / largeSeconds);
    std::printf("%-52s %10.1fx  (linear: 10x)\n", "ratio 100,000 / 10,000",
                largeSeconds / smallSeconds);
    std::printf("%-52s %10.0f MB\n", "memory held after indexing 100,000 (RSS growth)",
                double(rssAfterBig - rssBefore) / 1024.0);
    std::printf("%-52s %10.3f\n", "keep the index in the store", saveSeconds);
    std::printf("%-52s %10.3f\n", "open the store (checks included)", openSeconds);
    std::printf("%-52s %10.3f\n", "load the index from the store", loadSeconds);
    std::printf("%-52s %10.3f\n", "browser: show 10,000 studies", setSeconds);
    std::printf("%-52s %10.3f\n", "browser: type a patient ID (median of 5)", median(searches));
    std::printf("%-52s %10.3f\n", "browser: clear the search (median of 5)", median(clears));
    std::printf("%-52s %10.3f\n", "browser: scroll to the end and back (median of 5)",
                median(scrolls));
    std::printf("%-52s %10.0f MB\n", "peak memory of the whole run", double(peakKb) / 1024.0);
    std::printf("{\"index10k\": %.4f, \"index100k\": %.4f, \"ratio\": %.2f, \"rssGrowthMb\": %.0f, "
                "\"storeSave\": %.3f, \"storeOpen\": %.3f, \"storeLoad\": %.3f, "
                "\"browserShow\": %.3f, \"browserSearch\": %.4f, \"browserClear\": %.4f, "
                "\"browserScroll\": %.4f, \"peakMb\": %.0f}\n",
                smallSeconds, largeSeconds, largeSeconds / smallSeconds,
                double(rssAfterBig - rssBefore) / 1024.0, saveSeconds, openSeconds, loadSeconds,
                setSeconds, median(searches), median(clears), median(scrolls),
                double(peakKb) / 1024.0);
    if (!keep) {
        fs::remove_all(root);
    }
    return 0;
}
