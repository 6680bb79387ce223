#pragma once

#include "core/domain/StudyIndex.h"
#include "core/tasks/ForecastService.h"

#include <QMainWindow>

#include <QHash>

#include <memory>
#include <vector>

class QChart;
class QChartView;
class QLabel;
class QLineSeries;
class QSlider;
class QSortFilterProxyModel;
class QTableView;
class QTableWidget;
class QVBoxLayout;

namespace radiolens {

class PatientListModel;

/// Patient risk forecasts beside the charts that explain them: a patient list sortable by
/// current risk (highest first), and for the selected patient, charts aligned on one time
/// axis: the risk of in-hospital death hour by hour with its uncertainty band and the alert
/// threshold, then every vital sign and lab the patient has (normal range shaded). A slider
/// picks an hour; the variables that moved the risk at that hour are listed (integrated
/// gradients, computed in the background). The patient's imaging studies (matched by patient
/// ID in the study browser's index) are listed with their AI results and, when the vitals came
/// with date-times, drawn on the same time axis. GUI thread only.
class PatientRiskWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit PatientRiskWindow(QWidget* parent = nullptr);
    ~PatientRiskWindow() override;

    /// Imports `dataPaths` with `outcomeFiles`, loads the forecaster in `modelDir` and shows
    /// every stay (in the background).
    void open(const QStringList& dataPaths, const QStringList& outcomeFiles,
              const QString& modelDir);

    /// The studies the imaging rows are matched in (the study browser's index).
    void setStudies(std::shared_ptr<const StudyIndex> index);
    /// The AI reading of series `seriesUid` in a few words ("nodule 87%"), shown with its study.
    void setAiResult(const QString& seriesUid, const QString& text);

    QTableView* patientTable() const { return m_table; }
    QTableWidget* imagingTable() const { return m_imaging; }
    QSlider* hourSlider() const { return m_slider; }
    QTableWidget* contributorTable() const { return m_contributors; }
    /// The stay shown (an index into the board), or -1.
    int shownStay() const { return m_stay; }
    /// What the charts of the patient shown show, top to bottom ("Risk of in-hospital death",
    /// "Imaging", "HR").
    QStringList chartTitles() const;

Q_SIGNALS:
    void boardShown(int stays);
    void openFailed(const QString& reason);
    void explanationShown(int stay, int hour);
    /// The user asked to see a series of the patient's imaging (double-click on a study).
    void seriesRequested(const QString& seriesInstanceUid);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void showBoard(std::shared_ptr<const ForecastBoard> board);
    void showStay(int index);
    void showHour(int hour);
    void showExplanation(int index, int hour, const RiskExplanation& e);
    /// Fills the imaging table for `stay`; returns the hours of the studies within 0..hours.
    std::vector<double> showImaging(const PatientStay& stay, int hours);
    void addImagingChart(const std::vector<double>& at, int hours);
    QChartView* addChart(QChart* chart, int height);
    void alignCharts();
    void chooseAndOpen();

    ForecastService* m_service = nullptr;
    PatientListModel* m_model = nullptr;
    QSortFilterProxyModel* m_sorted = nullptr;
    QTableView* m_table = nullptr;
    QWidget* m_chartsHost = nullptr;
    QVBoxLayout* m_chartsLayout = nullptr;
    std::vector<QChartView*> m_views;
    QLineSeries* m_hourLine = nullptr;
    QSlider* m_slider = nullptr;
    QLabel* m_hourLabel = nullptr;
    QLabel* m_summary = nullptr;
    QTableWidget* m_contributors = nullptr;
    QTableWidget* m_imaging = nullptr;
    std::shared_ptr<const StudyIndex> m_studies;
    QHash<QString, QString> m_aiResults; ///< by series UID
    std::shared_ptr<const ForecastBoard> m_board;
    int m_stay = -1;
};

} // namespace radiolens
