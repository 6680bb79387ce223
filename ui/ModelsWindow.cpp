#include "ui/ModelsWindow.h"

#include "core/domain/Label.h"
#include "core/domain/Paths.h"
#include "core/ml/MlRuntime.h"
#include "core/ml/Retraining.h"
#include "core/store/ModelRegistry.h"
#include "core/store/StudyStore.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QPushButton>
#include <QScatterSeries>
#include <QSplitter>
#include <QTableWidget>
#include <QTextBrowser>
#include <QValueAxis>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <cmath>
#include <filesystem>
#include <sstream>

namespace radiolens {

namespace {

const QColor kColours[] = {QColor(0x1f, 0x77, 0xb4), QColor(0xd6, 0x27, 0x28)};

QChart* unitChart(const QString& title, const QString& x, const QString& y) {
    auto* chart = new QChart;
    chart->setTitle(title);
    chart->legend()->setAlignment(Qt::AlignBottom);
    QFont small = chart->legend()->font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    chart->legend()->setFont(small);
    auto* xAxis = new QValueAxis;
    xAxis->setRange(0, 1);
    xAxis->setTitleText(x);
    auto* yAxis = new QValueAxis;
    yAxis->setRange(0, 1);
    yAxis->setTitleText(y);
    chart->addAxis(xAxis, Qt::AlignBottom);
    chart->addAxis(yAxis, Qt::AlignLeft);
    return chart;
}

void addSeries(QChart* chart, QXYSeries* series) {
    chart->addSeries(series);
    for (QAbstractAxis* axis : chart->axes()) {
        series->attachAxis(axis);
    }
}

/// A version as a chart legend has room for: the time of a time-stamp version ("T153838").
QString shortVersion(const std::string& version) {
    const std::size_t t = version.find('T');
    return QString::fromStdString(
        t != std::string::npos && version.size() - t <= 8 ? version.substr(t) : version);
}

QString figure(double v) {
    return std::isfinite(v) ? QString::number(v, 'f', 3) : QStringLiteral("-");
}

} // namespace

ModelsWindow::ModelsWindow(StudyStore& store, QWidget* parent)
    : QWidget(parent, Qt::Window)
    , m_store(store)
    , m_watcher(new QFutureWatcher<std::shared_ptr<ModelComparison>>(this)) {
    setWindowTitle(tr("Radiolens - Models"));
    resize(1280, 800);
    auto* layout = new QVBoxLayout(this);
    m_table = new QTableWidget(0, 8);
    m_table->setHorizontalHeaderLabels({tr("Active"), tr("Model"), tr("Version"), tr("Parent"),
                                        tr("Validation AUC"), tr("Labelled images"),
                                        tr("Label set"), tr("Published")});
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::MultiSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->hide();
    layout->addWidget(m_table, 1);

    auto* buttons = new QHBoxLayout;
    auto* promote = new QPushButton(tr("Promote Selected"));
    auto* rollback = new QPushButton(tr("Roll Back"));
    m_compare = new QPushButton(tr("Compare Two Selected"));
    m_threshold = new QDoubleSpinBox;
    m_threshold->setRange(0.01, 0.99);
    m_threshold->setSingleStep(0.05);
    m_threshold->setValue(0.5);
    m_threshold->setPrefix(tr("threshold "));
    m_set = new QComboBox;
    m_set->addItem(tr("on validation images"), QStringLiteral("val"));
    m_set->addItem(tr("on the datasets' test splits"), QStringLiteral("test"));
    m_set->setToolTip(tr("Validation: the store's validation patients and the validation splits "
                         "of the external datasets the newer version was trained on. Test: those "
                         "datasets' test splits, never used in training."));
    m_export = new QPushButton(tr("Export Report..."));
    m_export->setEnabled(false);
    buttons->addWidget(promote);
    buttons->addWidget(rollback);
    buttons->addStretch(1);
    buttons->addWidget(m_threshold);
    buttons->addWidget(m_set);
    buttons->addWidget(m_compare);
    buttons->addWidget(m_export);
    layout->addLayout(buttons);
    m_status = new QLabel(tr("Select two versions and compare them on the same images before "
                             "promoting one."));
    m_status->setWordWrap(true);
    layout->addWidget(m_status);

    auto* plots = new QSplitter(Qt::Horizontal);
    m_roc = unitChart(tr("ROC"), tr("1 - specificity"), tr("sensitivity"));
    m_reliability = unitChart(tr("Reliability"), tr("confidence"), tr("share right"));
    for (QChart* chart : {m_roc, m_reliability}) {
        auto* view = new QChartView(chart);
        view->setRenderHint(QPainter::Antialiasing);
        view->setMinimumSize(380, 320);
        plots->addWidget(view);
    }
    auto* side = new QWidget;
    auto* sideLayout = new QVBoxLayout(side);
    m_figures = new QTableWidget(0, 7);
    m_figures->setHorizontalHeaderLabels({tr("Version"), tr("AUC"), tr("Accuracy"),
                                          tr("Sensitivity"), tr("Specificity"), tr("ECE"),
                                          tr("n")});
    m_figures->verticalHeader()->hide();
    m_figures->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_confusion = new QTextBrowser;
    sideLayout->addWidget(m_figures);
    sideLayout->addWidget(m_confusion);
    plots->addWidget(side);
    layout->addWidget(plots, 2);

    connect(promote, &QPushButton::clicked, this, &ModelsWindow::promoteSelected);
    connect(rollback, &QPushButton::clicked, this, &ModelsWindow::rollBack);
    connect(m_compare, &QPushButton::clicked, this, [this] {
        const std::vector<int> rows = selectedRows();
        if (rows.size() != 2) {
            m_status->setText(tr("Select exactly two versions to compare"));
            return;
        }
        compareRows(rows[0], rows[1]);
    });
    connect(m_export, &QPushButton::clicked, this, [this] {
        const QString path =
            QFileDialog::getSaveFileName(this, tr("Export Evaluation Report"),
                                         QStringLiteral("comparison.html"), tr("HTML (*.html)"));
        if (!path.isEmpty()) {
            exportReport(path);
        }
    });
    connect(m_watcher, &QFutureWatcher<std::shared_ptr<ModelComparison>>::finished, this,
            &ModelsWindow::showComparison);
    refresh();
}

ModelsWindow::~ModelsWindow() {
    try {
        m_watcher->waitForFinished();
    } catch (...) {
        // a comparison that failed: nobody is left to show why
    }
}

void ModelsWindow::refresh() {
    std::vector<RegisteredModel> versions;
    try {
        versions = ModelRegistry(m_store).versions();
    } catch (const std::exception& e) {
        m_status->setText(QString::fromStdString(e.what()));
        return;
    }
    m_table->clearSelection();
    m_table->setRowCount(int(versions.size()));
    for (int row = 0; row < int(versions.size()); ++row) {
        const RegisteredModel& m = versions[std::size_t(row)];
        const auto validation = m.card.metrics.find("validation");
        const QStringList cells{
            m.active ? QStringLiteral("*") : QString(),
            QString::fromStdString(m.modelId),
            QString::fromStdString(m.version),
            QString::fromStdString(m.parentVersion.empty() ? "-" : m.parentVersion),
            validation == m.card.metrics.end() ? QStringLiteral("-")
                                               : figure(validation->second.auc),
            QString::number(m.labels),
            QString::fromStdString(m.labelSetSha256.substr(0, 12)),
            QString::fromStdString(isoTimeMs(m.createdMs))};
        for (int c = 0; c < cells.size(); ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            if (m.active) {
                QFont bold = item->font();
                bold.setBold(true);
                item->setFont(bold);
            }
            m_table->setItem(row, c, item);
        }
    }
    m_table->resizeColumnsToContents();
}

std::vector<int> ModelsWindow::selectedRows() const {
    std::vector<int> rows;
    for (const QModelIndex& index : m_table->selectionModel()->selectedRows()) {
        rows.push_back(index.row());
    }
    std::sort(rows.begin(), rows.end());
    return rows;
}

void ModelsWindow::promoteSelected() {
    const std::vector<int> rows = selectedRows();
    if (rows.size() != 1) {
        m_status->setText(tr("Select the one version to promote"));
        return;
    }
    const QString id = m_table->item(rows[0], 1)->text();
    const QString version = m_table->item(rows[0], 2)->text();
    try {
        ModelRegistry(m_store).promote(id.toStdString(), version.toStdString(), {});
        m_status->setText(tr("%1 %2 is active").arg(id, version));
    } catch (const std::exception& e) {
        m_status->setText(tr("Not promoted: %1").arg(QString::fromStdString(e.what())));
        return;
    }
    refresh();
    Q_EMIT activeModelChanged();
}

void ModelsWindow::rollBack() {
    const std::vector<int> rows = selectedRows();
    try {
        ModelRegistry registry(m_store);
        std::string id;
        if (rows.size() == 1) {
            id = m_table->item(rows[0], 1)->text().toStdString();
        } else if (const auto active = registry.active()) {
            id = active->modelId;
        }
        const RegisteredModel back = registry.rollback(id, {});
        m_status->setText(
            tr("%1 %2 is active again")
                .arg(QString::fromStdString(back.modelId), QString::fromStdString(back.version)));
    } catch (const std::exception& e) {
        m_status->setText(tr("Not rolled back: %1").arg(QString::fromStdString(e.what())));
        return;
    }
    refresh();
    Q_EMIT activeModelChanged();
}

void ModelsWindow::compareRows(int a, int b) {
    if (m_watcher->isRunning() || a < 0 || b < 0 || a >= rows() || b >= rows()) {
        return;
    }
    ModelRegistry registry(m_store);
    const auto first = registry.find(m_table->item(a, 1)->text().toStdString(),
                                     m_table->item(a, 2)->text().toStdString());
    const auto second = registry.find(m_table->item(b, 1)->text().toStdString(),
                                      m_table->item(b, 2)->text().toStdString());
    if (!first || !second) {
        return;
    }
    const std::string path = m_store.path();
    const double threshold = m_threshold->value();
    const std::string split = m_set->currentData().toString().toStdString();
    // The external datasets the newer version was trained on (their files, where still there).
    std::vector<std::string> extra;
    const RegisteredModel& newer = first->createdMs > second->createdMs ? *first : *second;
    const auto listed = newer.card.training.find("externalData");
    if (listed != newer.card.training.end()) {
        std::istringstream lines(listed->second);
        for (std::string line; std::getline(lines, line);) {
            if (std::filesystem::exists(line)) {
                extra.push_back(line);
            }
        }
    }
    m_compare->setEnabled(false);
    m_status->setText(
        tr("Measuring %1 and %2 on the same images...")
            .arg(QString::fromStdString(first->version), QString::fromStdString(second->version)));
    const RegisteredModel ra = *first, rb = *second;
    m_watcher->setFuture(QtConcurrent::run([path, ra, rb, threshold, extra, split] {
        StudyStore store(path);
        return std::make_shared<ModelComparison>(
            compareVersions(store, MlRuntime::engine(), ra, rb, extra, split, threshold));
    }));
}

void ModelsWindow::setComparisonSet(const QString& split) {
    const int index = m_set->findData(split);
    if (index >= 0) {
        m_set->setCurrentIndex(index);
    }
}

bool ModelsWindow::isComparing() const {
    return m_watcher->isRunning();
}

void ModelsWindow::showComparison() {
    m_compare->setEnabled(true);
    try {
        m_comparison = m_watcher->result();
    } catch (const std::exception& e) {
        m_status->setText(tr("Not compared: %1").arg(QString::fromStdString(e.what())));
        return;
    }
    const ModelComparison& c = *m_comparison;
    for (QChart* chart : {m_roc, m_reliability}) {
        chart->removeAllSeries();
    }
    auto* diagonal = new QLineSeries;
    diagonal->append(0, 0);
    diagonal->append(1, 1);
    diagonal->setPen(QPen(Qt::gray, 1, Qt::DashLine));
    diagonal->setName(QString());
    addSeries(m_roc, diagonal);
    for (QLegendMarker* marker : m_roc->legend()->markers(diagonal)) {
        marker->setVisible(false); // the dashed diagonal needs no legend
    }
    auto* perfect = new QLineSeries;
    perfect->append(0, 0);
    perfect->append(1, 1);
    perfect->setPen(QPen(Qt::gray, 1, Qt::DashLine));
    perfect->setName(QString());
    addSeries(m_reliability, perfect);
    for (QLegendMarker* marker : m_reliability->legend()->markers(perfect)) {
        marker->setVisible(false);
    }
    m_figures->setRowCount(int(c.models.size()));
    QString confusion;
    for (std::size_t i = 0; i < c.models.size(); ++i) {
        const ModelEvaluation& e = c.models[i];
        auto* roc = new QLineSeries;
        roc->setName(tr("%1 AUC %2").arg(shortVersion(e.version), figure(e.metrics.auc)));
        roc->setPen(QPen(kColours[i % 2], 2));
        for (const auto& [x, y] : e.roc) {
            roc->append(x, y);
        }
        addSeries(m_roc, roc);
        auto* reliability = new QLineSeries;
        reliability->setName(tr("%1 ECE %2").arg(shortVersion(e.version), figure(e.metrics.ece)));
        reliability->setPen(QPen(kColours[i % 2], 2));
        reliability->setPointsVisible(true);
        for (const CalibrationBin& bin : e.calibration) {
            if (bin.count > 0) {
                reliability->append(bin.meanConfidence, bin.accuracy);
            }
        }
        addSeries(m_reliability, reliability);
        const QStringList cells{QString::fromStdString(e.version), figure(e.metrics.auc),
                                figure(e.metrics.accuracy),        figure(e.metrics.sensitivity),
                                figure(e.metrics.specificity),     figure(e.metrics.ece),
                                QString::number(e.metrics.n)};
        for (int col = 0; col < cells.size(); ++col) {
            m_figures->setItem(int(i), col, new QTableWidgetItem(cells[col]));
        }
        confusion += QStringLiteral("<p><b>%1</b>: rows true, columns called</p><table border=1 "
                                    "cellpadding=3><tr><th></th>")
                         .arg(QString::fromStdString(e.version));
        for (const std::string& name : c.classNames) {
            confusion += QStringLiteral("<th>%1</th>").arg(QString::fromStdString(name));
        }
        confusion += QStringLiteral("</tr>");
        for (std::size_t t = 0; t < c.classNames.size(); ++t) {
            confusion +=
                QStringLiteral("<tr><th>%1</th>").arg(QString::fromStdString(c.classNames[t]));
            for (std::size_t p = 0; p < c.classNames.size(); ++p) {
                confusion += QStringLiteral("<td align=right>%1</td>").arg(e.confusion[t][p]);
            }
            confusion += QStringLiteral("</tr>");
        }
        confusion += QStringLiteral("</table>");
    }
    m_figures->resizeColumnsToContents();
    m_confusion->setHtml(confusion);
    m_export->setEnabled(true);
    m_status->setText(
        tr("On %1 (%2 images), threshold %3: AUC difference %4 (95 % interval %5 "
           "to %6)")
            .arg(QString::fromStdString(c.setDescription))
            .arg(c.labels.size())
            .arg(c.threshold, 0, 'f', 2)
            .arg(figure(c.aucDifference), figure(c.aucDifferenceLow), figure(c.aucDifferenceHigh)));
    Q_EMIT comparisonShown();
}

bool ModelsWindow::exportReport(const QString& path) {
    if (!m_comparison) {
        m_status->setText(tr("Compare two versions first"));
        return false;
    }
    try {
        writeFileAtomically(path.toStdString(),
                            comparisonReportHtml(*m_comparison, isoTimeMs(nowMs())));
    } catch (const std::exception& e) {
        m_status->setText(QString::fromStdString(e.what()));
        return false;
    }
    m_status->setText(tr("Report written to %1").arg(path));
    return true;
}

int ModelsWindow::rows() const {
    return m_table->rowCount();
}

QString ModelsWindow::statusText() const {
    return m_status->text();
}

} // namespace radiolens
