// The reading room's speed as a reader feels it, in the real application window:
//   1. first image of the 140-slice CT on screen after the series is chosen (page cache warm,
//      volume cache empty), median of 5;
//   2. scrolling the 512 x 512 CT: time from a wheel event to the painted frame, p50 / p99 of
//      300 events, alone and while another viewport keeps loading a series in the background;
//   3. scrolling a 2048 x 2048 radiograph stack: the same;
//   4. memory while ten series are opened one after another with a 100 MB cache limit;
//   5. scrolling the CT for 20 s while a model trains in the background (issue 6: the training
//      window's TrainingJob, `radiolens-cli retrain` of a ResNet-18 on PneumoniaMNIST, as the
//      GUI runs it), against scrolling alone in the same run.
// Prints a table and one JSON line. Run it under Xvfb for a real X window:
//   xvfb-run -a -s "-screen 0 1600x1000x24" build/bin/bench_viewer [DATA_DIR]

#include "core/dicom/DemoStudy.h"
#include "core/tasks/SeriesService.h"
#include "core/tasks/StudyTreeModel.h"
#include "core/tasks/TrainingJob.h"
#include "ui/MainWindow.h"
#include "ui/ViewerArea.h"
#include "ui/Viewport.h"
#include "ui/ViewportFrame.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, std::size_t(std::ceil(p * double(v.size())) - 1))];
}

long long rssKilobytes() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::atoll(line.c_str() + 6);
        }
    }
    return 0;
}

/// Waits (running the event loop) until `done` holds or `ms` pass.
bool waitFor(const std::function<bool()>& done, int ms = 30000) {
    QElapsedTimer timer;
    timer.start();
    while (!done()) {
        if (timer.elapsed() > ms) {
            return false;
        }
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    }
    return true;
}

/// Milliseconds from a wheel event to the frame it causes being painted, `count` times.
std::vector<double> scrollLatencies(Viewport& view, int count) {
    std::vector<double> out;
    int painted = 0;
    const auto c = QObject::connect(&view, &Viewport::painted, [&] { ++painted; });
    QCoreApplication::processEvents();
    int direction = -1;
    for (int i = 0; i < count; ++i) {
        if (view.currentSlice() <= 1) {
            direction = -1;
        } else if (view.currentSlice() >= view.sliceCount() - 2) {
            direction = 1;
        }
        const QPointF centre(view.width() / 2.0, view.height() / 2.0);
        QWheelEvent wheel(centre, view.mapToGlobal(centre), QPoint(), QPoint(0, 120 * direction),
                          Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
        const int before = painted;
        QElapsedTimer timer;
        timer.start();
        QApplication::sendEvent(&view, &wheel);
        waitFor([&] { return painted > before; }, 2000);
        out.push_back(double(timer.nsecsElapsed()) / 1e6);
    }
    QObject::disconnect(c);
    return out;
}

QString uidOf(MainWindow& window, const std::string& modality, std::size_t minInstances = 1) {
    for (const SeriesEntry* s : window.studyModel()->studyIndex()->allSeries()) {
        if (s->modality == modality && s->instances.size() >= minInstances) {
            return QString::fromStdString(s->seriesInstanceUid);
        }
    }
    return {};
}

} // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    // --only-loading: just the scroll-while-loading run (for profiling).
    bool onlyLoading = false;
    bool onlyTraining = false; // --only-training: just scrolling alone and while training
    std::string data = RADIOLENS_DATA_DIR;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--only-loading") {
            onlyLoading = true;
        } else if (std::string(argv[i]) == "--only-training") {
            onlyTraining = true;
        } else {
            data = argv[i];
        }
    }
    const fs::path ct = fs::path(data) / "dicom" / "ct-phantom-philips-140";
    const fs::path mr = fs::path(data) / "dicom" / "mr-phantom-ge-mprage-130";
    if (!fs::is_directory(ct) || !fs::is_directory(mr)) {
        std::fprintf(stderr, "bench_viewer: shared data not found under %s\n", data.c_str());
        return 77;
    }
    const fs::path scratch = fs::temp_directory_path() / "radiolens-bench-viewer";
    fs::remove_all(scratch);
    fs::create_directories(scratch);

    MainWindow window(nullptr, QString::fromStdString((scratch / "store.sqlite").string()));
    window.resize(1500, 950);
    window.show();
    QSignalSpy indexed(&window, &MainWindow::studiesIndexed);
    QSignalSpy loaded(&window, &MainWindow::seriesLoaded);
    window.openPaths({QString::fromStdString(ct.string()), QString::fromStdString(mr.string())});
    waitFor([&] { return indexed.count() > 0 && loaded.count() > 0; });
    const QString ctUid = uidOf(window, "CT", 100);
    const QString mrUid = uidOf(window, "MR", 100);
    Viewport* view = window.activeViewport();

    // 1. First image after choosing the series: the volume cache is emptied each time so the
    //    series is decoded again (the page cache stays warm).
    std::vector<double> firstImage;
    for (int run = 0; run < (onlyLoading || onlyTraining ? 0 : 6); ++run) {
        window.openSeries(mrUid);
        waitFor([&] {
            return view->volume() && view->volume()->modality == "MR" &&
                   view->isSliceReady(view->currentSlice());
        });
        waitFor([&] { return !window.seriesService()->isLoading(mrUid); });
        window.seriesService()->cache().clear();
        int painted = 0;
        const auto c = QObject::connect(view, &Viewport::painted, [&] {
            if (view->volume() && view->volume()->modality == "CT" &&
                view->isSliceReady(view->currentSlice())) {
                ++painted;
            }
        });
        QElapsedTimer timer;
        timer.start();
        window.openSeries(ctUid);
        waitFor([&] { return painted > 0; });
        const double ms = double(timer.nsecsElapsed()) / 1e6;
        QObject::disconnect(c);
        if (run > 0) { // the first run warms everything
            firstImage.push_back(ms);
        }
        waitFor([&] { return !window.seriesService()->isLoading(ctUid); });
    }

    // 2. Scrolling the CT, alone and while the MR keeps loading in a second viewport.
    waitFor([&] {
        return view->volume() && view->volume()->modality == "CT" &&
               !window.seriesService()->isLoading(ctUid);
    });
    const std::vector<double> scrollAlone = scrollLatencies(*view, onlyLoading ? 1 : 300);
    window.viewerArea()->setViewLayout(ViewerArea::Layout::OneByTwo);
    window.viewerArea()->setActiveFrame(window.viewerArea()->frames()[0]);
    ViewportFrame* second = window.viewerArea()->frames()[1];
    // Scroll only while the MR is actually loading in the second viewport: start a load, scroll
    // until it is done, and again, until 300 wheel events were measured during loads.
    std::vector<double> scrollLoading;
    int backgroundLoads = 0;
    while (scrollLoading.size() < 300) {
        window.seriesService()->cache().clear();
        window.openSeries(mrUid, {}, second);
        window.viewerArea()->setActiveFrame(window.viewerArea()->frames()[0]);
        ++backgroundLoads;
        while (window.seriesService()->isLoading(mrUid) && scrollLoading.size() < 300) {
            const std::vector<double> one = scrollLatencies(*view, 1);
            if (window.seriesService()->isLoading(mrUid)) {
                scrollLoading.push_back(one.front());
            }
        }
        waitFor([&] { return !window.seriesService()->isLoading(mrUid); });
    }

    if (onlyLoading) {
        std::printf("scroll while loading: p50 %.2f ms, p99 %.2f ms\n",
                    percentile(scrollLoading, 0.5), percentile(scrollLoading, 0.99));
        return 0;
    }

    // 2b. Scrolling the CT while a model trains: the training window's job, measured only while
    //     training batches run (after the data are read).
    window.viewerArea()->setViewLayout(ViewerArea::Layout::One);
    window.openSeries(ctUid);
    waitFor([&] {
        return view->volume() && view->volume()->modality == "CT" &&
               !window.seriesService()->isLoading(ctUid);
    });
    const fs::path npz = fs::path(data) / "medmnist" / "pneumoniamnist.npz";
    std::vector<double> scrollTraining;
    int trainingBatches = 0;
    {
        TrainingJob training;
        int progress = 0;
        bool ended = false;
        QObject::connect(&training, &TrainingJob::progressed, [&] { ++progress; });
        QObject::connect(&training, &TrainingJob::finished, [&] { ended = true; });
        training.start(QString::fromStdString((scratch / "training.sqlite").string()),
                       {QStringLiteral("--scratch"), QStringLiteral("--data"),
                        QString::fromStdString(npz.string()), QStringLiteral("--epochs"),
                        QStringLiteral("3")});
        waitFor([&] { return progress >= 3 || ended; }, 120000);
        const int before = progress;
        // 20 seconds of scrolling (thousands of wheel events, dozens of training batches).
        QElapsedTimer scrolling;
        scrolling.start();
        while (scrolling.elapsed() < 20000 && training.isRunning() && !ended) {
            const std::vector<double> one = scrollLatencies(*view, 1);
            scrollTraining.push_back(one.front());
        }
        trainingBatches = progress - before;
        training.cancel();
        waitFor([&] { return ended; }, 60000);
    }
    if (onlyTraining || scrollTraining.empty()) {
        std::printf("scroll alone: p50 %.2f ms, p99 %.2f ms; while training (%zu events, %d "
                    "progress reports): p50 %.2f ms, p99 %.2f ms\n",
                    percentile(scrollAlone, 0.5), percentile(scrollAlone, 0.99),
                    scrollTraining.size(), trainingBatches,
                    scrollTraining.empty() ? 0.0 : percentile(scrollTraining, 0.5),
                    scrollTraining.empty() ? 0.0 : percentile(scrollTraining, 0.99));
        if (onlyTraining) {
            return scrollTraining.empty() ? 1 : 0;
        }
    }
    window.viewerArea()->setViewLayout(ViewerArea::Layout::OneByTwo);
    // 3. A 2048 x 2048 radiograph stack (8 images), scrolled in a viewport of the same size.
    std::vector<double> scrollLarge;
    {
        auto big = std::make_shared<Volume>(PixelFormat{ComponentType::UInt16, 1},
                                            std::array<std::size_t, 3>{2048, 2048, 8});
        auto* p = static_cast<std::uint16_t*>(big->data());
        std::mt19937 random(7);
        for (std::size_t i = 0; i < big->voxelCount(); ++i) {
            p[i] = std::uint16_t((i % 2048) + (i / 2048 % 2048) + random() % 64);
        }
        big->spacing = {0.15, 0.15, 1.0};
        big->modality = "DX";
        big->windows = {{2048, 4096, ""}};
        big->statistics = computeStatistics(*big);
        Viewport* target = window.viewerArea()->frames()[1]->viewport();
        target->setVolume(big, true, QStringLiteral("large"));
        QCoreApplication::processEvents();
        scrollLarge = scrollLatencies(*target, 100);
    }

    // 4. Memory: ten series opened one after another, 100 MB cache limit.
    window.viewerArea()->setViewLayout(ViewerArea::Layout::One);
    const std::size_t limit = 100 * 1000 * 1000;
    window.seriesService()->cache().clear();
    window.seriesService()->cache().setLimit(limit);
    QStringList folders;
    for (int i = 0; i < 10; ++i) {
        DemoStudyOptions options;
        options.columns = options.rows = 256;
        options.slices = 128;
        const fs::path folder = scratch / ("study" + std::to_string(i));
        writeDemoStudy(folder.string(), options);
        folders << QString::fromStdString(folder.string());
    }
    indexed.clear();
    window.openPaths(folders);
    waitFor([&] { return indexed.count() > 0; });
    waitFor([&] { return !window.seriesService()->isLoading(window.currentSeriesUid()); });
    std::vector<long long> rss;
    long long volumeBytes = 0;
    for (const SeriesEntry* s : window.studyModel()->studyIndex()->allSeries()) {
        if (s->modality != "CT") {
            continue;
        }
        const QString uid = QString::fromStdString(s->seriesInstanceUid);
        loaded.clear();
        window.openSeries(uid);
        waitFor([&] { return loaded.count() > 0 && window.currentSeriesUid() == uid; });
        QCoreApplication::processEvents();
        volumeBytes = (long long)window.activeViewport()->volume()->byteSize();
        rss.push_back(rssKilobytes() * 1024);
    }
    const long long growth = *std::max_element(rss.begin(), rss.end()) - rss.front();

    const double first = percentile(firstImage, 0.5);
    std::printf("%-58s %9s %9s\n", "", "p50 ms", "p99 ms");
    std::printf("%-58s %9.1f %9s\n", "first CT image on screen after choosing the series", first,
                "");
    std::printf("%-58s %9.2f %9.2f\n", "scroll 512 x 512, wheel to painted frame",
                percentile(scrollAlone, 0.5), percentile(scrollAlone, 0.99));
    std::printf("%-58s %9.2f %9.2f\n", "  ... while another series loads in the background",
                percentile(scrollLoading, 0.5), percentile(scrollLoading, 0.99));
    std::printf("%-58s %9.2f %9.2f\n", "  ... while a model trains (retrain, ResNet-18)",
                percentile(scrollTraining, 0.5), percentile(scrollTraining, 0.99));
    std::printf("(%zu wheel events in 20 s of training; %d progress reports, one per 0.2 s)\n",
                scrollTraining.size(), trainingBatches);
    std::printf("%-58s %9.2f %9.2f\n", "scroll 2048 x 2048 radiograph stack",
                percentile(scrollLarge, 0.5), percentile(scrollLarge, 0.99));
    std::printf("(%d background loads of the 130-slice MR during the second run; wheel events\n"
                " measured only while a load was in progress)\n",
                backgroundLoads);
    std::printf("memory over ten %lld MB series with a %zu MB cache: RSS grew %.1f MB after the "
                "first (cache limit + one volume = %.1f MB)\n",
                volumeBytes / 1000000, limit / 1000000, double(growth) / 1e6,
                double(limit + std::size_t(volumeBytes)) / 1e6);
    std::printf("{\"bench\":\"viewer\",\"firstImageMs\":%.2f,\"scrollP99Ms\":%.3f,"
                "\"scrollLoadingP99Ms\":%.3f,\"scrollLargeP99Ms\":%.3f,\"memoryGrowthBytes\":%lld,"
                "\"cacheLimitBytes\":%zu,\"volumeBytes\":%lld,\"backgroundLoads\":%d,"
                "\"scrollTrainingP50Ms\":%.3f,\"scrollTrainingP99Ms\":%.3f}\n",
                first, percentile(scrollAlone, 0.99), percentile(scrollLoading, 0.99),
                percentile(scrollLarge, 0.99), growth, limit, volumeBytes, backgroundLoads,
                percentile(scrollTraining, 0.5), percentile(scrollTraining, 0.99));
    fs::remove_all(scratch);
    return 0;
}
