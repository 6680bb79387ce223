#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

class QChart;
class QLineSeries;
class QValueAxis;

namespace radiolens {

class TrainingJob;

/// Train a new model version from the store's labels, in the background: what to start from
/// (fine-tune the active model or train from scratch), architecture, epochs, image size,
/// external datasets; a progress bar with the time left, live charts of the training loss and
/// the validation AUC per epoch, and the messages of the run. Training runs in a process of its
/// own at a lower priority (TrainingJob): the viewer stays smooth, and closing or cancelling
/// keeps the run's checkpoint so that starting the same training again goes on from it. The
/// finished version is published in the registry, not active: its figures are shown, and the
/// Models window compares and promotes it. GUI thread only.
class TrainingWindow : public QWidget {
    Q_OBJECT
public:
    explicit TrainingWindow(const QString& storePath, QWidget* parent = nullptr);
    ~TrainingWindow() override;

    /// Starts training with the options shown (or `extraArguments` for radiolens-cli retrain
    /// added to them).
    void startTraining(const QStringList& extraArguments = {});
    void cancelTraining();
    bool isTraining() const;

    // For tests.
    QString statusText() const;
    QString etaText() const;
    int lossPoints() const;
    int aucPoints() const;
    int progressPercent() const;

Q_SIGNALS:
    /// A new version was published (its registry JSON).
    void published(const QByteArray& versionJson);
    /// The run ended without a new version (`reason`).
    void stopped(const QString& reason);
    void modelsRequested();

private:
    void onProgress(int epoch, int epochs, double fraction, double loss, double seconds);
    void onEpoch(int epoch, int epochs, double loss, double auc, double best, bool replayed);
    void onFinished(bool ok, const QString& message, const QByteArray& versionJson);
    void log(const QString& text);

    QString m_storePath;
    TrainingJob* m_job = nullptr;
    QComboBox* m_start = nullptr;
    QComboBox* m_architecture = nullptr;
    QSpinBox* m_epochs = nullptr;
    QSpinBox* m_imageSize = nullptr;
    QDoubleSpinBox* m_validation = nullptr;
    QLineEdit* m_extra = nullptr;
    QCheckBox* m_fresh = nullptr;
    QPushButton* m_startButton = nullptr;
    QPushButton* m_cancelButton = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_eta = nullptr;
    QLabel* m_status = nullptr;
    QPlainTextEdit* m_log = nullptr;
    QChart* m_chart = nullptr;
    QLineSeries* m_loss = nullptr;
    QLineSeries* m_auc = nullptr;
    QValueAxis* m_epochAxis = nullptr;
    QValueAxis* m_lossAxis = nullptr;
    double m_maxLoss = 0.0;
    double m_startFraction = -1.0; ///< where this process's part of the run began
    double m_startSeconds = 0.0;
};

} // namespace radiolens
