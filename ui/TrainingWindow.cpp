#include "ui/TrainingWindow.h"

#include "core/store/ModelRegistry.h"
#include "core/store/StudyStore.h"
#include "core/tasks/TrainingJob.h"

#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QValueAxis>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace radiolens {

namespace {

QString duration(double seconds) {
    const int s = int(std::lround(std::max(0.0, seconds)));
    return s >= 3600 ? QObject::tr("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60)
           : s >= 60 ? QObject::tr("%1 min %2 s").arg(s / 60).arg(s % 60)
                     : QObject::tr("%1 s").arg(s);
}

} // namespace

TrainingWindow::TrainingWindow(const QString& storePath, QWidget* parent)
    : QWidget(parent, Qt::Window)
    , m_storePath(storePath)
    , m_job(new TrainingJob(this)) {
    setWindowTitle(tr("Radiolens - Train a New Model"));
    resize(900, 640);
    auto* layout = new QVBoxLayout(this);

    auto* form = new QFormLayout;
    m_start = new QComboBox;
    m_start->addItem(tr("Fine-tune the active model (a new model when there is none)"));
    m_start->addItem(tr("Train from scratch"));
    m_architecture = new QComboBox;
    for (const char* name : {"resnet18", "resnet34", "densenet121", "smallcnn"}) {
        m_architecture->addItem(QString::fromLatin1(name));
    }
    m_epochs = new QSpinBox;
    m_epochs->setRange(0, 1000);
    m_epochs->setSpecialValueText(tr("default (12, more for few labels)"));
    m_imageSize = new QSpinBox;
    m_imageSize->setRange(0, 1024);
    m_imageSize->setSpecialValueText(tr("default (224, or the dataset's)"));
    m_validation = new QDoubleSpinBox;
    m_validation->setRange(0.05, 0.5);
    m_validation->setSingleStep(0.05);
    m_validation->setValue(0.2);
    auto* extraRow = new QHBoxLayout;
    m_extra = new QLineEdit;
    m_extra->setPlaceholderText(tr("optional: MedMNIST .npz or a CSV of pictures"));
    auto* browse = new QPushButton(tr("Browse..."));
    extraRow->addWidget(m_extra, 1);
    extraRow->addWidget(browse);
    m_fresh = new QCheckBox(tr("Start over (do not go on from an interrupted run)"));
    form->addRow(tr("Start from"), m_start);
    form->addRow(tr("Architecture (from scratch)"), m_architecture);
    form->addRow(tr("Epochs (at most)"), m_epochs);
    form->addRow(tr("Image size (pixels)"), m_imageSize);
    form->addRow(tr("Validation patients (share)"), m_validation);
    form->addRow(tr("External dataset"), extraRow);
    form->addRow(QString(), m_fresh);
    layout->addLayout(form);

    auto* buttons = new QHBoxLayout;
    m_startButton = new QPushButton(tr("Start Training"));
    m_cancelButton = new QPushButton(tr("Cancel"));
    m_cancelButton->setEnabled(false);
    auto* models = new QPushButton(tr("Models..."));
    buttons->addWidget(m_startButton);
    buttons->addWidget(m_cancelButton);
    buttons->addStretch(1);
    buttons->addWidget(models);
    layout->addLayout(buttons);

    auto* progressRow = new QHBoxLayout;
    m_progress = new QProgressBar;
    m_progress->setRange(0, 1000);
    m_eta = new QLabel;
    progressRow->addWidget(m_progress, 1);
    progressRow->addWidget(m_eta);
    layout->addLayout(progressRow);

    m_chart = new QChart;
    m_chart->setTitle(tr("Training loss and validation AUC per epoch"));
    m_loss = new QLineSeries;
    m_loss->setName(tr("training loss"));
    m_loss->setPointsVisible(true);
    m_auc = new QLineSeries;
    m_auc->setName(tr("validation AUC"));
    m_auc->setPointsVisible(true);
    m_chart->addSeries(m_loss);
    m_chart->addSeries(m_auc);
    m_epochAxis = new QValueAxis;
    m_epochAxis->setTitleText(tr("epoch"));
    m_epochAxis->setLabelFormat(QStringLiteral("%d"));
    m_epochAxis->setRange(0, 12);
    m_lossAxis = new QValueAxis;
    m_lossAxis->setTitleText(tr("loss"));
    m_lossAxis->setRange(0, 1);
    auto* aucAxis = new QValueAxis;
    aucAxis->setTitleText(tr("AUC"));
    aucAxis->setRange(0.5, 1.0);
    m_chart->addAxis(m_epochAxis, Qt::AlignBottom);
    m_chart->addAxis(m_lossAxis, Qt::AlignLeft);
    m_chart->addAxis(aucAxis, Qt::AlignRight);
    m_loss->attachAxis(m_epochAxis);
    m_loss->attachAxis(m_lossAxis);
    m_auc->attachAxis(m_epochAxis);
    m_auc->attachAxis(aucAxis);
    auto* view = new QChartView(m_chart);
    view->setRenderHint(QPainter::Antialiasing);
    view->setMinimumHeight(260);
    layout->addWidget(view, 2);

    m_status = new QLabel(tr("Trains on the labels in the store: patients go whole to training "
                             "or validation, the epoch with the best validation AUC is kept, a "
                             "checkpoint is written after every epoch."));
    m_status->setWordWrap(true);
    layout->addWidget(m_status);
    // A run whose process was killed (or crashed, or the machine went down) is said so: the
    // same training goes on from its last checkpoint.
    try {
        StudyStore store(m_storePath.toStdString());
        for (const TrainingRun& run : ModelRegistry(store).runs(20)) {
            if (run.interrupted()) {
                m_status->setText(
                    tr("Run %1 of %2 was interrupted after epoch %3. Train with the same "
                       "settings (without \"Start over\") to go on from its last checkpoint.")
                        .arg(run.id)
                        .arg(QString::fromStdString(run.modelId))
                        .arg(run.epoch));
                break;
            }
        }
    } catch (const std::exception&) {
        // The store's own problem is shown by the main window.
    }
    m_log = new QPlainTextEdit;
    m_log->setReadOnly(true);
    m_log->setMaximumBlockCount(2000);
    layout->addWidget(m_log, 1);

    connect(browse, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("External Dataset"), QString(),
                                                          tr("Datasets (*.npz *.csv)"));
        if (!path.isEmpty()) {
            m_extra->setText(path);
        }
    });
    connect(m_startButton, &QPushButton::clicked, this, [this] { startTraining(); });
    connect(m_cancelButton, &QPushButton::clicked, this, &TrainingWindow::cancelTraining);
    connect(models, &QPushButton::clicked, this, &TrainingWindow::modelsRequested);
    connect(m_job, &TrainingJob::progressed, this, &TrainingWindow::onProgress);
    connect(m_job, &TrainingJob::epochEnded, this, &TrainingWindow::onEpoch);
    connect(m_job, &TrainingJob::noted, this, &TrainingWindow::log);
    connect(m_job, &TrainingJob::finished, this, &TrainingWindow::onFinished);
}

TrainingWindow::~TrainingWindow() {
    // The job outlives this body (a child); nothing it says may reach a window being destroyed.
    disconnect(m_job, nullptr, this, nullptr);
}

void TrainingWindow::startTraining(const QStringList& extraArguments) {
    QStringList args;
    if (m_start->currentIndex() == 1) {
        args << QStringLiteral("--scratch") << QStringLiteral("--arch")
             << m_architecture->currentText();
    }
    if (m_epochs->value() > 0) {
        args << QStringLiteral("--epochs") << QString::number(m_epochs->value());
    }
    if (m_imageSize->value() > 0) {
        args << QStringLiteral("--image-size") << QString::number(m_imageSize->value());
    }
    args << QStringLiteral("--validation") << QString::number(m_validation->value());
    if (!m_extra->text().trimmed().isEmpty()) {
        args << QStringLiteral("--data") << m_extra->text().trimmed();
    }
    if (m_fresh->isChecked()) {
        args << QStringLiteral("--fresh");
    }
    args << extraArguments;
    m_loss->clear();
    m_auc->clear();
    m_maxLoss = 0.0;
    m_startFraction = -1.0;
    m_progress->setValue(0);
    m_eta->clear();
    if (!m_job->start(m_storePath, args)) {
        return;
    }
    m_startButton->setEnabled(false);
    m_cancelButton->setEnabled(true);
    m_status->setText(tr("Reading the labelled images..."));
    log(tr("radiolens-cli retrain %1").arg(args.join(QLatin1Char(' '))));
}

void TrainingWindow::cancelTraining() {
    if (m_job->isRunning()) {
        m_status->setText(tr("Cancelling at the next batch; the checkpoint is kept..."));
        m_job->cancel();
    }
}

bool TrainingWindow::isTraining() const {
    return m_job->isRunning();
}

void TrainingWindow::onProgress(int epoch, int epochs, double fraction, double loss,
                                double seconds) {
    m_progress->setValue(int(std::lround(1000 * fraction)));
    if (m_startFraction < 0.0) {
        m_startFraction = fraction;
        m_startSeconds = seconds;
    }
    const double done = fraction - m_startFraction;
    if (done > 0.0 && seconds - m_startSeconds > 0.2) {
        const double left = (seconds - m_startSeconds) / done * (1.0 - fraction);
        m_eta->setText(tr("about %1 left").arg(duration(left)));
    }
    m_status->setText(
        tr("Epoch %1 of at most %2, training loss %3").arg(epoch).arg(epochs).arg(loss, 0, 'f', 4));
}

void TrainingWindow::onEpoch(int epoch, int epochs, double loss, double auc, double best,
                             bool replayed) {
    m_loss->append(epoch, loss);
    m_auc->append(epoch, auc);
    m_maxLoss = std::max(m_maxLoss, loss);
    m_lossAxis->setRange(0.0, std::max(0.1, m_maxLoss * 1.1));
    m_epochAxis->setRange(0, std::max(epochs, epoch));
    log(tr("epoch %1%2: loss %3, validation AUC %4 (best %5)")
            .arg(epoch)
            .arg(replayed ? tr(" (before the interruption)") : QString())
            .arg(loss, 0, 'f', 4)
            .arg(auc, 0, 'f', 4)
            .arg(best, 0, 'f', 4));
}

void TrainingWindow::onFinished(bool ok, const QString& message, const QByteArray& versionJson) {
    m_startButton->setEnabled(true);
    m_cancelButton->setEnabled(false);
    m_eta->clear();
    if (!ok) {
        m_status->setText(tr("No new model: %1").arg(message));
        log(message);
        Q_EMIT stopped(message);
        return;
    }
    m_progress->setValue(1000);
    const QJsonObject version = QJsonDocument::fromJson(versionJson).object();
    const QJsonObject validation = version.value(QStringLiteral("metrics"))
                                       .toObject()
                                       .value(QStringLiteral("validation"))
                                       .toObject();
    m_status->setText(
        tr("Published %1 version %2 (not active yet): validation AUC %3, accuracy %4, "
           "sensitivity %5, specificity %6, ECE %7 on %8 images. Compare it with the active "
           "model in Models... before you promote it.")
            .arg(version.value(QStringLiteral("model")).toString(),
                 version.value(QStringLiteral("version")).toString())
            .arg(validation.value(QStringLiteral("auc")).toDouble(), 0, 'f', 3)
            .arg(validation.value(QStringLiteral("accuracy")).toDouble(), 0, 'f', 3)
            .arg(validation.value(QStringLiteral("sensitivity")).toDouble(), 0, 'f', 3)
            .arg(validation.value(QStringLiteral("specificity")).toDouble(), 0, 'f', 3)
            .arg(validation.value(QStringLiteral("ece")).toDouble(), 0, 'f', 3)
            .arg(validation.value(QStringLiteral("n")).toInt()));
    log(m_status->text());
    Q_EMIT published(versionJson);
}

void TrainingWindow::log(const QString& text) {
    m_log->appendPlainText(text);
}

QString TrainingWindow::statusText() const {
    return m_status->text();
}

QString TrainingWindow::etaText() const {
    return m_eta->text();
}

int TrainingWindow::lossPoints() const {
    return int(m_loss->count());
}

int TrainingWindow::aucPoints() const {
    return int(m_auc->count());
}

int TrainingWindow::progressPercent() const {
    return m_progress->value() / 10;
}

} // namespace radiolens
