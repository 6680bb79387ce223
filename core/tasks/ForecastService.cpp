#include "core/tasks/ForecastService.h"

#include "core/ml/ClinicalImport.h"
#include "core/ml/MlRuntime.h"

namespace radiolens {

namespace {

std::vector<std::string> toStd(const QStringList& list) {
    std::vector<std::string> out;
    for (const QString& s : list) {
        out.push_back(s.toStdString());
    }
    return out;
}

} // namespace

ForecastService::ForecastService(QObject* parent)
    : QObject(parent) {
    qRegisterMetaType<std::shared_ptr<const ForecastBoard>>();
    qRegisterMetaType<std::shared_ptr<const RiskExplanation>>();
    m_worker = std::make_unique<WorkerQueue>(QStringLiteral("Risk forecasts"), [this] {
        m_forecaster.reset();
        m_board.reset();
    });
}

ForecastService::~ForecastService() {
    ++m_explainGeneration;
    m_worker->stop(); // a running job may still ask m_worker whether to stop
}

void ForecastService::open(const QStringList& dataPaths, const QStringList& outcomeFiles,
                           const QString& modelDir) {
    m_worker->post([this, dataPaths, outcomeFiles, modelDir] {
        try {
            Q_EMIT progressed(tr("Reading %n input(s)...", nullptr, int(dataPaths.size())));
            ClinicalDataset data = importClinical(toStd(dataPaths), toStd(outcomeFiles));
            Q_EMIT progressed(tr("Loading the forecaster..."));
            auto forecaster = MlRuntime::engine().loadForecaster(modelDir.toStdString());
            Q_EMIT progressed(tr("Forecasting %n stay(s)...", nullptr, int(data.stays.size())));
            auto board = std::make_shared<ForecastBoard>();
            board->stays = std::move(data.stays);
            std::vector<const PatientStay*> stays;
            for (const auto& s : board->stays) {
                stays.push_back(&s);
            }
            board->trajectories = forecaster->forecast(stays);
            board->card = forecaster->card();
            board->modelDir = modelDir;
            board->importSummary = QString::fromStdString(data.report.summary());
            m_forecaster = std::move(forecaster);
            m_board = board;
            Q_EMIT opened(board);
        } catch (const std::exception& e) {
            Q_EMIT openFailed(QString::fromStdString(e.what()));
        }
    });
}

void ForecastService::explain(int index, int hour) {
    const unsigned generation = ++m_explainGeneration;
    m_worker->post([this, index, hour, generation] {
        if (generation != m_explainGeneration) {
            return; // a newer explanation was asked for
        }
        if (!m_forecaster || !m_board || index < 0 || index >= int(m_board->stays.size())) {
            Q_EMIT explainFailed(index, hour, tr("no patient is open"));
            return;
        }
        try {
            auto result = std::make_shared<const RiskExplanation>(
                m_forecaster->explain(m_board->stays[std::size_t(index)], hour));
            Q_EMIT explained(index, hour, result);
        } catch (const std::exception& e) {
            Q_EMIT explainFailed(index, hour, QString::fromStdString(e.what()));
        }
    });
}

} // namespace radiolens
