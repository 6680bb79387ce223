#include "ui/PatientRiskWindow.h"

#include "core/domain/ClockTime.h"
#include "core/tasks/PatientListModel.h"

#include <QAreaSeries>
#include <QChart>
#include <QChartView>
#include <QEvent>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QMenuBar>
#include <QScatterSeries>
#include <QScrollArea>
#include <QSlider>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStatusBar>
#include <QTableView>
#include <QTableWidget>
#include <QValueAxis>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace radiolens {

namespace {

// Every chart's plot area starts and ends at the same x, so hours line up down the page.
constexpr int kPlotLeft = 100;
constexpr int kPlotRight = 28;
constexpr int kPlotTop = 10;
constexpr int kPlotBottom = 24;

/// Vital signs and bedside measurements first, in this order; labs follow in catalogue order.
const QStringList kVitals = {"HR",       "MAP",       "SysABP",   "DiasABP",  "NIMAP",
                             "NISysABP", "NIDiasABP", "RespRate", "Temp",     "SaO2",
                             "GCS",      "Urine",     "FiO2",     "MechVent", "Weight"};

QValueAxis* hoursAxis(int hours, bool labels) {
    auto* axis = new QValueAxis;
    axis->setRange(0, hours);
    axis->setTickCount(hours % 6 == 0 ? hours / 6 + 1 : 5);
    axis->setLabelFormat(QStringLiteral("%.0f h"));
    axis->setLabelsVisible(labels);
    return axis;
}

/// A chart without a legend or margins; `name` (kept as its object name) says what it shows.
QChart* newChart(const QString& name) {
    auto* chart = new QChart;
    chart->setObjectName(name);
    chart->legend()->hide();
    chart->setMargins(QMargins(0, 0, 0, 0));
    chart->setBackgroundRoundness(0);
    return chart;
}

/// A value axis titled with what it shows ("HR (bpm)"): the charts' names are on their axes, as
/// their titles would cost each chart a line of height.
QValueAxis* valueAxis(const QString& title) {
    auto* axis = new QValueAxis;
    axis->setTitleText(title);
    QFont font = axis->titleFont();
    font.setPointSizeF(font.pointSizeF() * 0.85);
    font.setBold(true);
    axis->setTitleFont(font);
    return axis;
}

QLineSeries* horizontal(double y, double hours) {
    auto* line = new QLineSeries;
    line->append(0, y);
    line->append(hours, y);
    return line;
}

/// `series` on `chart` against `x` and `y`.
void attach(QChart* chart, QAbstractSeries* series, QValueAxis* x, QValueAxis* y) {
    chart->addSeries(series);
    series->attachAxis(x);
    series->attachAxis(y);
}

/// The area between `upper` and `lower`, filled with `colour` without an outline.
void shade(QChart* chart, QLineSeries* upper, QLineSeries* lower, const QColor& colour,
           const QString& name, QValueAxis* x, QValueAxis* y) {
    auto* area = new QAreaSeries(upper, lower);
    area->setName(name);
    area->setBrush(colour);
    area->setPen(Qt::NoPen);
    attach(chart, area, x, y);
    // A QAreaSeries does not own its bounds (it starts as a child of `upper`); now that the
    // chart owns the area, the area owns them, so they go with the chart.
    upper->setParent(area);
    lower->setParent(area);
}

} // namespace

PatientRiskWindow::PatientRiskWindow(QWidget* parent)
    : QMainWindow(parent) {
    setWindowTitle(tr("Patient Risk Forecasts - Radiolens"));
    m_service = new ForecastService(this);
    m_model = new PatientListModel(this);
    m_sorted = new QSortFilterProxyModel(this);
    m_sorted->setSourceModel(m_model);
    m_sorted->setSortRole(Qt::UserRole);

    m_table = new QTableView;
    m_table->setModel(m_sorted);
    m_table->setSortingEnabled(true);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->sortByColumn(PatientListModel::Risk, Qt::DescendingOrder);

    m_slider = new QSlider(Qt::Horizontal);
    m_slider->setRange(1, 48);
    m_slider->setValue(48);
    m_slider->setEnabled(false);
    m_hourLabel = new QLabel(tr("Hour 48"));
    m_contributors = new QTableWidget(0, 3);
    m_contributors->setHorizontalHeaderLabels(
        {tr("What moved the risk"), tr("Effect"), tr("Mostly from")});
    m_contributors->verticalHeader()->hide();
    m_contributors->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_contributors->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_contributors->setMinimumHeight(150);
    m_summary = new QLabel;
    m_summary->setWordWrap(true);
    m_imaging = new QTableWidget(0, 5);
    m_imaging->setHorizontalHeaderLabels(
        {tr("Imaging study"), tr("Hour"), tr("Modalities"), tr("Description"), tr("AI result")});
    m_imaging->verticalHeader()->hide();
    m_imaging->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_imaging->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_imaging->setMaximumHeight(110);
    m_imaging->setToolTip(tr("Double-click a study to open it in the viewer"));
    connect(m_imaging, &QTableWidget::cellDoubleClicked, this, [this](int row) {
        const QString series = m_imaging->item(row, 0)->data(Qt::UserRole).toString();
        if (!series.isEmpty()) {
            Q_EMIT seriesRequested(series);
        }
    });

    m_chartsHost = new QWidget;
    m_chartsLayout = new QVBoxLayout(m_chartsHost);
    m_chartsLayout->setSpacing(0);
    m_chartsHost->installEventFilter(this);
    auto* scroll = new QScrollArea;
    scroll->setWidgetResizable(true);
    scroll->setWidget(m_chartsHost);

    auto* hourRow = new QHBoxLayout;
    hourRow->addWidget(m_hourLabel);
    hourRow->addWidget(m_slider, 1);
    auto* right = new QWidget;
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->addWidget(m_summary);
    rightLayout->addWidget(m_imaging);
    rightLayout->addWidget(scroll, 3);
    rightLayout->addLayout(hourRow);
    rightLayout->addWidget(m_contributors, 1);
    auto* split = new QSplitter;
    split->addWidget(m_table);
    split->addWidget(right);
    split->setStretchFactor(1, 3);
    split->setSizes({430, 850});
    setCentralWidget(split);
    resize(1280, 860);

    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open Patients and Model..."), this, &PatientRiskWindow::chooseAndOpen);
    file->addAction(tr("&Close"), this, &QWidget::close);

    connect(m_service, &ForecastService::progressed, this,
            [this](const QString& text) { statusBar()->showMessage(text); });
    connect(m_service, &ForecastService::opened, this, &PatientRiskWindow::showBoard);
    connect(m_service, &ForecastService::openFailed, this, [this](const QString& reason) {
        statusBar()->showMessage(reason);
        Q_EMIT openFailed(reason);
    });
    connect(m_service, &ForecastService::explained, this,
            [this](int index, int hour, std::shared_ptr<const RiskExplanation> e) {
                if (index == m_stay && hour == m_slider->value()) {
                    showExplanation(index, hour, *e);
                }
            });
    connect(m_service, &ForecastService::explainFailed, this,
            [this](int, int, const QString& reason) { statusBar()->showMessage(reason); });
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& current) {
                if (current.isValid()) {
                    showStay(m_sorted->mapToSource(current).row());
                }
            });
    connect(m_slider, &QSlider::valueChanged, this, &PatientRiskWindow::showHour);
}

PatientRiskWindow::~PatientRiskWindow() = default;

void PatientRiskWindow::open(const QStringList& dataPaths, const QStringList& outcomeFiles,
                             const QString& modelDir) {
    m_service->open(dataPaths, outcomeFiles, modelDir);
}

void PatientRiskWindow::chooseAndOpen() {
    const QString data =
        QFileDialog::getExistingDirectory(this, tr("Patients' records (a PhysioNet 2012 folder)"));
    if (data.isEmpty()) {
        return;
    }
    const QString model = QFileDialog::getExistingDirectory(
        this, tr("Forecaster (a folder written by 'radiolens-cli forecast train')"));
    if (!model.isEmpty()) {
        open({data}, {}, model);
    }
}

void PatientRiskWindow::showBoard(std::shared_ptr<const ForecastBoard> board) {
    m_board = board;
    m_model->setBoard(board);
    m_slider->setRange(1, board->card.hours);
    m_slider->setValue(board->card.hours);
    m_slider->setEnabled(true);
    statusBar()->showMessage(
        tr("%n patient(s) forecast by %1 version %2", nullptr, int(board->stays.size()))
            .arg(QString::fromStdString(board->card.id),
                 QString::fromStdString(board->card.version)));
    Q_EMIT boardShown(int(board->stays.size()));
    if (m_sorted->rowCount() > 0) {
        m_table->selectRow(0); // the patient at the highest risk
    }
}

QChartView* PatientRiskWindow::addChart(QChart* chart, int height) {
    auto* view = new QChartView(chart);
    view->setRenderHint(QPainter::Antialiasing);
    view->setMinimumHeight(height);
    view->setMaximumHeight(height);
    m_chartsLayout->addWidget(view);
    m_views.push_back(view);
    return view;
}

QStringList PatientRiskWindow::chartTitles() const {
    QStringList titles;
    for (const QChartView* v : m_views) {
        titles << v->chart()->objectName();
    }
    return titles;
}

void PatientRiskWindow::showStay(int index) {
    if (!m_board || index < 0 || index >= int(m_board->stays.size())) {
        return;
    }
    m_stay = index;
    for (QChartView* v : m_views) {
        m_chartsLayout->removeWidget(v);
        v->deleteLater();
    }
    m_views.clear();
    const PatientStay& stay = m_board->stays[std::size_t(index)];
    const RiskTrajectory& t = m_board->trajectories[std::size_t(index)];
    const ForecastCard& card = m_board->card;
    const int hours = card.hours;
    m_summary->setText(tr("<b>Patient %1</b>%2%3%4. Risk of %5 given the first %6 h: <b>%7%</b> "
                          "(band %8-%9%).%10")
                           .arg(QString::fromStdString(stay.id))
                           .arg(std::isnan(stay.age) ? QString() : tr(", %1 years").arg(stay.age))
                           .arg(std::isnan(stay.gender) ? QString()
                                : stay.gender > 0.5     ? tr(", male")
                                                        : tr(", female"))
                           .arg(PatientListModel::icuName(stay.icuType).isEmpty()
                                    ? QString()
                                    : tr(", %1 ICU").arg(PatientListModel::icuName(stay.icuType)))
                           .arg(QString::fromStdString(card.outcome))
                           .arg(hours)
                           .arg(100 * t.risk.back(), 0, 'f', 1)
                           .arg(100 * t.low.back(), 0, 'f', 1)
                           .arg(100 * t.high.back(), 0, 'f', 1)
                           .arg(stay.outcome < 0    ? QString()
                                : stay.outcome == 1 ? tr(" Outcome: died.")
                                                    : tr(" Outcome: survived.")));

    // The risk: line, band, alert threshold, the selected hour.
    QChart* risk = newChart(tr("Risk of %1 (%)").arg(QString::fromStdString(card.outcome)));
    auto* x = hoursAxis(hours, true);
    auto* y = valueAxis(tr("Risk (%)"));
    y->setRange(0, 100);
    y->setLabelFormat(QStringLiteral("%.0f"));
    risk->addAxis(x, Qt::AlignBottom);
    risk->addAxis(y, Qt::AlignLeft);
    auto* upper = new QLineSeries;
    auto* lower = new QLineSeries;
    auto* line = new QLineSeries;
    for (std::size_t h = 0; h < t.risk.size(); ++h) {
        upper->append(t.hours[h], 100 * t.high[h]);
        lower->append(t.hours[h], 100 * t.low[h]);
        line->append(t.hours[h], 100 * t.risk[h]);
    }
    shade(risk, upper, lower, QColor(214, 39, 40, 60), tr("ensemble band"), x, y);
    line->setPen(QPen(QColor(180, 20, 20), 2.5));
    attach(risk, line, x, y);
    auto* threshold = horizontal(100 * card.alertThreshold, hours);
    threshold->setName(tr("alert threshold"));
    threshold->setPen(QPen(QColor(230, 140, 0), 1.5, Qt::DashLine));
    attach(risk, threshold, x, y);
    m_hourLine = new QLineSeries;
    m_hourLine->setPen(QPen(QColor(40, 40, 40), 1, Qt::DotLine));
    attach(risk, m_hourLine, x, y);
    addChart(risk, 220);
    addImagingChart(showImaging(stay, hours), hours);

    // One chart per measured variable, normal range shaded.
    const auto& catalogue = clinicalVariables();
    std::vector<int> order;
    for (const QString& name : kVitals) {
        order.push_back(clinicalVariableIndex(name.toStdString()));
    }
    for (int v = 0; v < int(catalogue.size()); ++v) {
        if (!catalogue[std::size_t(v)].isStatic &&
            std::find(order.begin(), order.end(), v) == order.end()) {
            order.push_back(v);
        }
    }
    for (const int v : order) {
        if (v < 0) {
            continue;
        }
        auto* values = new QLineSeries;
        auto* points = new QScatterSeries;
        double lo = 1e300, hi = -1e300;
        for (const Observation& o : stay.observations) {
            if (o.variable == v && o.hours <= hours) {
                values->append(o.hours, o.value);
                points->append(o.hours, o.value);
                lo = std::min(lo, o.value);
                hi = std::max(hi, o.value);
            }
        }
        if (values->count() == 0) {
            delete values;
            delete points;
            continue;
        }
        const ClinicalVariable& variable = catalogue[std::size_t(v)];
        QChart* chart = newChart(QString::fromStdString(variable.name));
        chart->setToolTip(QStringLiteral("%1 (%2)").arg(
            QString::fromStdString(variable.description), QString::fromStdString(variable.unit)));
        auto* cx = hoursAxis(hours, false);
        auto* cy = valueAxis(QString::fromStdString(variable.name));
        cy->setLabelFormat(QStringLiteral("%.4g"));
        cy->setTickCount(3);
        const bool hasNormal = variable.normalHigh > variable.normalLow;
        if (hasNormal) {
            lo = std::min(lo, variable.normalLow);
            hi = std::max(hi, variable.normalHigh);
        }
        const double pad = std::max(1e-3, 0.08 * (hi - lo));
        cy->setRange(lo - pad, hi + pad);
        cy->applyNiceNumbers();
        chart->addAxis(cx, Qt::AlignBottom);
        chart->addAxis(cy, Qt::AlignLeft);
        if (hasNormal) {
            shade(chart, horizontal(variable.normalHigh, hours),
                  horizontal(variable.normalLow, hours), QColor(44, 160, 44, 45),
                  tr("normal range"), cx, cy);
        }
        values->setPen(QPen(QColor(31, 119, 180), 1.5));
        attach(chart, values, cx, cy);
        points->setMarkerSize(5);
        points->setColor(QColor(31, 119, 180));
        points->setBorderColor(QColor(31, 119, 180));
        attach(chart, points, cx, cy);
        addChart(chart, 112);
    }
    m_chartsLayout->addStretch(0);
    alignCharts();
    showHour(m_slider->value());
}

void PatientRiskWindow::setStudies(std::shared_ptr<const StudyIndex> index) {
    m_studies = std::move(index);
    if (m_stay >= 0) {
        showStay(m_stay);
    }
}

void PatientRiskWindow::setAiResult(const QString& seriesUid, const QString& text) {
    m_aiResults.insert(seriesUid, text);
    if (m_stay >= 0 && m_board) {
        showImaging(m_board->stays[std::size_t(m_stay)], m_board->card.hours);
    }
}

std::vector<double> PatientRiskWindow::showImaging(const PatientStay& stay, int hours) {
    m_imaging->setRowCount(0);
    const PatientEntry* patient = nullptr;
    if (m_studies) {
        for (const auto& p : m_studies->patients) {
            if (p.patientId == stay.id) {
                patient = &p;
            }
        }
    }
    m_imaging->setVisible(patient != nullptr);
    std::vector<double> markers;
    if (patient == nullptr) {
        return markers;
    }
    for (const StudyEntry& study : patient->studies) {
        double at = 0.0;
        const bool timed =
            parseDicomDateTime(study.date, study.time, at) && !std::isnan(stay.startTime);
        const double hour = at - stay.startTime;
        QStringList modalities, results;
        for (const SeriesEntry& series : study.series) {
            const QString modality = QString::fromStdString(series.modality);
            if (!modalities.contains(modality)) {
                modalities << modality;
            }
            const QString result =
                m_aiResults.value(QString::fromStdString(series.seriesInstanceUid));
            if (!result.isEmpty()) {
                results << result;
            }
        }
        const int row = m_imaging->rowCount();
        m_imaging->insertRow(row);
        const QString date = QString::fromStdString(study.date);
        m_imaging->setItem(row, 0,
                           new QTableWidgetItem(date.size() == 8
                                                    ? date.left(4) + "-" + date.mid(4, 2) + "-" +
                                                          date.mid(6, 2) + " " +
                                                          QString::fromStdString(study.time).left(4)
                                                    : date));
        // The study's largest series is the one a double-click opens.
        const SeriesEntry* largest = nullptr;
        for (const SeriesEntry& series : study.series) {
            if (largest == nullptr || series.instances.size() > largest->instances.size()) {
                largest = &series;
            }
        }
        if (largest != nullptr) {
            m_imaging->item(row, 0)->setData(Qt::UserRole,
                                             QString::fromStdString(largest->seriesInstanceUid));
        }
        m_imaging->setItem(
            row, 1,
            new QTableWidgetItem(timed ? QString::number(hour, 'f', 1) : tr("no common clock")));
        m_imaging->setItem(row, 2, new QTableWidgetItem(modalities.join(", ")));
        m_imaging->setItem(row, 3, new QTableWidgetItem(QString::fromStdString(study.description)));
        m_imaging->setItem(row, 4, new QTableWidgetItem(results.join("; ")));
        if (timed && hour >= 0 && hour <= hours) {
            markers.push_back(hour);
        }
    }
    return markers;
}

void PatientRiskWindow::addImagingChart(const std::vector<double>& at, int hours) {
    if (at.empty()) {
        return;
    }
    auto* markers = new QScatterSeries;
    for (const double hour : at) {
        markers->append(hour, 0.5);
    }
    QChart* chart = newChart(tr("Imaging"));
    auto* x = hoursAxis(hours, false);
    auto* y = new QValueAxis;
    y->setRange(0, 1);
    y->setLabelsVisible(false);
    y->setGridLineVisible(false);
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    markers->setMarkerShape(QScatterSeries::MarkerShapeRectangle);
    markers->setMarkerSize(12);
    markers->setColor(QColor(90, 60, 160));
    attach(chart, markers, x, y);
    addChart(chart, 64);
}

void PatientRiskWindow::showHour(int hour) {
    m_hourLabel->setText(tr("Hour %1").arg(hour));
    if (!m_board || m_stay < 0) {
        return;
    }
    if (m_hourLine != nullptr) {
        m_hourLine->replace(QList<QPointF>{QPointF(hour, 0), QPointF(hour, 100)});
    }
    m_contributors->setRowCount(0);
    m_service->explain(m_stay, hour);
}

void PatientRiskWindow::showExplanation(int index, int hour, const RiskExplanation& e) {
    const std::size_t top = std::min<std::size_t>(8, e.contributions.size());
    m_contributors->setRowCount(int(top));
    for (std::size_t i = 0; i < top; ++i) {
        const RiskContribution& c = e.contributions[i];
        QString when;
        if (!c.isStatic && !c.byHour.empty()) {
            const auto strongest =
                std::max_element(c.byHour.begin(), c.byHour.end(),
                                 [](double a, double b) { return std::abs(a) < std::abs(b); });
            when = tr("hour %1").arg(int(strongest - c.byHour.begin()));
        } else if (c.isStatic) {
            when = tr("admission");
        }
        auto* effect = new QTableWidgetItem(QStringLiteral("%1%2 points")
                                                .arg(c.total >= 0 ? "+" : "")
                                                .arg(100 * c.total, 0, 'f', 1));
        effect->setForeground(c.total >= 0 ? QColor(180, 20, 20) : QColor(30, 110, 40));
        m_contributors->setItem(int(i), 0,
                                new QTableWidgetItem(QString::fromStdString(c.variable)));
        m_contributors->setItem(int(i), 1, effect);
        m_contributors->setItem(int(i), 2, new QTableWidgetItem(when));
    }
    statusBar()->showMessage(tr("Hour %1: risk %2%, %3% with every value at the mean "
                                "(integrated gradients, %4 ms)")
                                 .arg(hour)
                                 .arg(100 * e.risk, 0, 'f', 1)
                                 .arg(100 * e.baselineRisk, 0, 'f', 1)
                                 .arg(1000 * e.seconds, 0, 'f', 0));
    Q_EMIT explanationShown(index, hour);
}

void PatientRiskWindow::alignCharts() {
    for (QChartView* v : m_views) {
        const int h = v->maximumHeight();
        const int w = std::max(200, m_chartsHost->width() - 24);
        v->chart()->setPlotArea(
            QRectF(kPlotLeft, kPlotTop, w - kPlotLeft - kPlotRight, h - kPlotTop - kPlotBottom));
    }
}

bool PatientRiskWindow::eventFilter(QObject* watched, QEvent* event) {
    if (watched == m_chartsHost && event->type() == QEvent::Resize) {
        alignCharts();
    }
    return QMainWindow::eventFilter(watched, event);
}

} // namespace radiolens
