// radiolens: the Qt GUI. `radiolens [--demo] [PATH...]` opens the window at once; indexing and
// loading run in the background. The ML engine (LibTorch, a plugin) is opened only when
// something needs it, also in the background.

#include "core/domain/EventLog.h"
#include "core/tasks/SeriesService.h"
#include "ui/AiPanel.h"
#include "core/tasks/LabellingSession.h"
#include "ui/LabelPanel.h"
#include "ui/MainWindow.h"
#include "ui/ModelsWindow.h"
#include "ui/PatientRiskWindow.h"
#include "ui/Viewport.h"
#include "ui/ViewerArea.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPixmap>
#include <QScreen>
#include <QTimer>
#include <QWindow>

#include <algorithm>
#include <clocale>
#include <cstdio>

namespace {

/// Saves what the window system shows of `window` as PNG; says so on stderr when it cannot.
bool saveScreenshot(QWidget& window, const QString& file) {
    const QPixmap shot = window.screen()->grabWindow(window.winId());
    const bool saved = !shot.isNull() && shot.save(file, "PNG");
    if (!saved) {
        std::fprintf(stderr, "radiolens: could not save the screenshot to %s\n", qPrintable(file));
    }
    return saved;
}

} // namespace

int main(int argc, char** argv) {
    radiolens::installCrashReporter("radiolens");
    radiolens::logEvent("gui", "started");
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("Radiolens"));
    QApplication::setApplicationVersion(QStringLiteral("0.1.0"));
    // DICOM decimal strings are parsed with the C locale (Qt sets the user's locale above).
    std::setlocale(LC_NUMERIC, "C");

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Radiolens diagnostic imaging workstation"));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption demo(QStringLiteral("demo"),
                            QStringLiteral("Open the built-in demo study (written once into the "
                                           "user's data folder)."));
    QCommandLineOption screenshot(
        QStringLiteral("screenshot"),
        QStringLiteral("When the first series is shown, save the window as PNG to <file> and quit "
                       "(exit code 1 if nothing could be shown)."),
        QStringLiteral("file"));
    QCommandLineOption aiScreenshot(
        QStringLiteral("ai-screenshot"),
        QStringLiteral("When the first AI saliency overlay is drawn, save the window as PNG to "
                       "<file>, print the AI reading as JSON (series, class probabilities, the "
                       "overlay's peak in image pixels) and quit."),
        QStringLiteral("file"));
    QCommandLineOption cache(
        QStringLiteral("cache-mb"),
        QStringLiteral("Keep at most <mb> megabytes of recently closed series in memory "
                       "(default: a quarter of this machine's memory)."),
        QStringLiteral("mb"));
    QCommandLineOption mpr(QStringLiteral("mpr"),
                           QStringLiteral("Show the first series in MPR (axial, coronal, "
                                          "sagittal) once it has loaded."));
    QCommandLineOption patients(
        QStringLiteral("patients"),
        QStringLiteral(
            "Open patients' vitals and labs (a PhysioNet 2012 folder or record, a long "
            "CSV, a FHIR bundle; repeatable) in the risk window, with --forecast-model."),
        QStringLiteral("path"));
    QCommandLineOption outcomes(QStringLiteral("outcomes"),
                                QStringLiteral("Outcomes of those patients (repeatable)."),
                                QStringLiteral("file"));
    QCommandLineOption forecastModel(
        QStringLiteral("forecast-model"),
        QStringLiteral("The risk forecaster (a folder written by 'radiolens-cli forecast train')."),
        QStringLiteral("dir"));
    QCommandLineOption forecastScreenshot(
        QStringLiteral("forecast-screenshot"),
        QStringLiteral("When the risk window has explained its first patient, save it as PNG to "
                       "<file> and quit."),
        QStringLiteral("file"));
    QCommandLineOption storeOption(
        QStringLiteral("store"),
        QStringLiteral("The Radiolens store to use (labels, measurements, models; default: the "
                       "user's own)."),
        QStringLiteral("DB"));
    QCommandLineOption labelling(QStringLiteral("label"),
                                 QStringLiteral("Start in labelling mode (the worklist opens its "
                                                "first image)."));
    QCommandLineOption labelScreenshot(
        QStringLiteral("label-screenshot"),
        QStringLiteral("With --label: save the window once the worklist's first image is shown, "
                       "and quit."),
        QStringLiteral("FILE"));
    QCommandLineOption modelsScreenshot(
        QStringLiteral("models-screenshot"),
        QStringLiteral("Open the model registry, compare its two newest versions, save the "
                       "registry window and quit."),
        QStringLiteral("FILE"));
    QCommandLineOption compareOn(
        QStringLiteral("compare-on"),
        QStringLiteral("With --models-screenshot: val (validation images, the default) or test "
                       "(the external datasets' test splits)."),
        QStringLiteral("SET"));
    parser.addOption(modelsScreenshot);
    parser.addOption(compareOn);
    parser.addOption(storeOption);
    parser.addOption(labelling);
    parser.addOption(labelScreenshot);
    parser.addOption(patients);
    parser.addOption(outcomes);
    parser.addOption(forecastModel);
    parser.addOption(forecastScreenshot);
    parser.addOption(demo);
    parser.addOption(screenshot);
    parser.addOption(aiScreenshot);
    parser.addOption(mpr);
    parser.addOption(cache);
    parser.addPositionalArgument(QStringLiteral("paths"),
                                 QStringLiteral("DICOM files, folders or DICOMDIR files to open."),
                                 QStringLiteral("[PATH...]"));
    parser.process(app);

    radiolens::MainWindow window(nullptr, parser.value(storeOption));
    if (parser.isSet(cache)) {
        bool ok = false;
        const double megabytes = parser.value(cache).toDouble(&ok);
        if (!ok || megabytes < 0) {
            std::fprintf(stderr, "radiolens: --cache-mb takes a number of megabytes\n");
            return 2;
        }
        window.seriesService()->cache().setLimit(std::size_t(megabytes * 1e6));
    }
    window.show();

    bool mprPending = parser.isSet(mpr);
    if (mprPending) {
        QObject::connect(&window, &radiolens::MainWindow::seriesLoaded, &window,
                         [&window, &mprPending] {
                             if (mprPending && window.viewerArea()->setMprMode(true)) {
                                 mprPending = false;
                             }
                         });
    }
    if (parser.isSet(aiScreenshot)) {
        const QString file = parser.value(aiScreenshot);
        QObject::connect(
            window.aiPanel(), &radiolens::AiPanel::overlayShown, &window, [&window, file] {
                QTimer::singleShot(500, &window, [&window, file] {
                    const bool saved = saveScreenshot(window, file);
                    const radiolens::Viewport* view = window.activeViewport();
                    const auto& map = view->saliency();
                    std::size_t peak = 0;
                    if (map) {
                        peak =
                            std::size_t(std::max_element(map->values.begin(), map->values.end()) -
                                        map->values.begin());
                    }
                    QJsonObject reading;
                    reading[QStringLiteral("series")] = window.currentSeriesUid();
                    reading[QStringLiteral("probabilities")] =
                        QJsonArray::fromStringList(window.aiPanel()->probabilityRows());
                    reading[QStringLiteral("overlay")] = map ? map->title : QString();
                    reading[QStringLiteral("peak")] =
                        QJsonArray{map ? int(peak % std::size_t(map->width)) : -1,
                                   map ? int(peak / std::size_t(map->width)) : -1};
                    std::printf("%s\n",
                                QJsonDocument(reading).toJson(QJsonDocument::Compact).constData());
                    std::fflush(stdout);
                    QApplication::exit(saved ? 0 : 1);
                });
            });
        QObject::connect(window.aiPanel(), &radiolens::AiPanel::failed, &window,
                         [](const QString& reason) {
                             std::fprintf(stderr, "radiolens: %s\n", qPrintable(reason));
                         });
        QTimer::singleShot(600000, &window, [] {
            std::fprintf(stderr, "radiolens: no AI overlay was shown within 600 s\n");
            QApplication::exit(2);
        });
    }
    if (parser.isSet(screenshot)) {
        const QString file = parser.value(screenshot);
        QObject::connect(&window, &radiolens::MainWindow::seriesLoaded, &window, [&window, file] {
            // Let the final slice paint, then grab what the window system shows.
            QTimer::singleShot(500, &window, [&window, file] {
                QApplication::exit(saveScreenshot(window, file) ? 0 : 1);
            });
        });
        QObject::connect(&window, &radiolens::MainWindow::seriesFailed, &window,
                         [](const QString&, const QString& reason) {
                             std::fprintf(stderr, "radiolens: %s\n", qPrintable(reason));
                             QApplication::exit(1);
                         });
        QTimer::singleShot(120000, &window, [] {
            std::fprintf(stderr, "radiolens: nothing was shown within 120 s\n");
            QApplication::exit(2);
        });
    }

    if (parser.isSet(patients) != parser.isSet(forecastModel)) {
        std::fprintf(stderr, "radiolens: --patients and --forecast-model go together\n");
        return 2;
    }
    if (parser.isSet(patients)) {
        radiolens::PatientRiskWindow* risk = window.patientRisk(
            parser.values(patients), parser.values(outcomes), parser.value(forecastModel));
        QObject::connect(risk, &radiolens::PatientRiskWindow::openFailed, risk,
                         [](const QString& reason) {
                             std::fprintf(stderr, "radiolens: %s\n", qPrintable(reason));
                         });
        if (parser.isSet(forecastScreenshot)) {
            const QString file = parser.value(forecastScreenshot);
            QObject::connect(risk, &radiolens::PatientRiskWindow::openFailed, risk,
                             [] { QApplication::exit(1); });
            QObject::connect(risk, &radiolens::PatientRiskWindow::explanationShown, risk,
                             [risk, file] {
                                 QTimer::singleShot(500, risk, [risk, file] {
                                     QApplication::exit(saveScreenshot(*risk, file) ? 0 : 1);
                                 });
                             });
            QTimer::singleShot(300000, risk, [] {
                std::fprintf(stderr, "radiolens: no forecast was shown within 300 s\n");
                QApplication::exit(2);
            });
        }
    }
    if (parser.isSet(labelling) || parser.isSet(labelScreenshot)) {
        window.setLabellingMode(true);
        if (radiolens::LabelPanel* panel = window.labelPanel()) {
            // The first image of the worklist, as an annotator starts.
            QObject::connect(
                panel->session(), &radiolens::LabellingSession::worklistReady, panel,
                [panel] { panel->goToUnlabelled(1); }, Qt::SingleShotConnection);
            if (parser.isSet(labelScreenshot)) {
                const QString file = parser.value(labelScreenshot);
                QObject::connect(&window, &radiolens::MainWindow::seriesLoaded, &window,
                                 [&window, file] {
                                     QTimer::singleShot(800, &window, [&window, file] {
                                         QApplication::exit(saveScreenshot(window, file) ? 0 : 1);
                                     });
                                 });
                QTimer::singleShot(300000, &window, [] {
                    std::fprintf(stderr, "radiolens: no worklist image within 300 s\n");
                    QApplication::exit(2);
                });
            }
        }
    }
    if (parser.isSet(modelsScreenshot)) {
        radiolens::ModelsWindow* models = window.modelsWindow();
        if (models == nullptr || models->rows() < 2) {
            std::fprintf(stderr, "radiolens: the store has fewer than two model versions\n");
            return 1;
        }
        const QString file = parser.value(modelsScreenshot);
        models->show();
        QObject::connect(models, &radiolens::ModelsWindow::comparisonShown, models, [models, file] {
            QTimer::singleShot(800, models, [models, file] {
                QApplication::exit(saveScreenshot(*models, file) ? 0 : 1);
            });
        });
        if (parser.isSet(compareOn)) {
            models->setComparisonSet(parser.value(compareOn));
        }
        models->compareRows(models->rows() - 2, models->rows() - 1);
        QTimer::singleShot(300000, models, [] {
            std::fprintf(stderr, "radiolens: no comparison within 300 s\n");
            QApplication::exit(2);
        });
    }
    if (parser.isSet(demo)) {
        window.openDemoStudy();
    }
    if (!parser.positionalArguments().isEmpty()) {
        window.openPaths(parser.positionalArguments());
    }
    return app.exec();
}
