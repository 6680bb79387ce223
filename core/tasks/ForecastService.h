#pragma once

#include "core/domain/PatientSeries.h"
#include "core/ml/Forecaster.h"
#include "core/tasks/WorkerQueue.h"

#include <QObject>
#include <QString>
#include <QStringList>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace radiolens {

/// Patients' stays and their risk forecasts, as the patient list and the charts show them.
/// Immutable once published.
struct ForecastBoard {
    std::vector<PatientStay> stays;
    std::vector<RiskTrajectory> trajectories; ///< one per stay, in order
    ForecastCard card;
    QString modelDir;
    QString importSummary; ///< what the cleaning rules dropped (ImportReport::summary)
};

/// Imports patients' vitals and labs, loads a forecaster and forecasts every stay, and explains
/// one stay's risk at an hour, on one worker thread that owns the forecaster (WorkerQueue).
/// Requests return at once; results come back as signals on the GUI thread. An explanation
/// waiting behind a newer one is dropped. Methods: GUI thread only.
class ForecastService : public QObject {
    Q_OBJECT
public:
    explicit ForecastService(QObject* parent = nullptr);
    ~ForecastService() override;

    /// Imports `dataPaths` (PhysioNet folders or records, long CSVs, FHIR bundles) with
    /// `outcomeFiles` (may be empty), loads the forecaster in `modelDir` and forecasts every stay.
    void open(const QStringList& dataPaths, const QStringList& outcomeFiles,
              const QString& modelDir);
    /// What moved the risk of stay `index` of the last opened board at `hour` (1..hours).
    void explain(int index, int hour);

Q_SIGNALS:
    void progressed(const QString& text);
    void opened(std::shared_ptr<const radiolens::ForecastBoard> board);
    void openFailed(const QString& reason);
    void explained(int index, int hour, std::shared_ptr<const radiolens::RiskExplanation> result);
    void explainFailed(int index, int hour, const QString& reason);

private:
    std::unique_ptr<WorkerQueue> m_worker;
    std::atomic<unsigned> m_explainGeneration{0};
    std::unique_ptr<Forecaster> m_forecaster;     ///< worker thread only
    std::shared_ptr<const ForecastBoard> m_board; ///< worker thread only
};

} // namespace radiolens

Q_DECLARE_METATYPE(std::shared_ptr<const radiolens::ForecastBoard>)
Q_DECLARE_METATYPE(std::shared_ptr<const radiolens::RiskExplanation>)
