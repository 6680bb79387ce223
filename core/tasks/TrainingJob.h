#pragma once

#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>

namespace radiolens {

/// Retraining in the background, in a process of its own: `radiolens-cli retrain
/// --progress-json` at a lower CPU priority, so that the viewer keeps its core and stays
/// smooth, and a crash or a kill of training never takes the viewer (or a label) with it. Its
/// progress lines become signals. Cancel asks the process to stop at the next batch (its
/// checkpoint is kept and the same training started again goes on from it). GUI thread only.
class TrainingJob : public QObject {
    Q_OBJECT
public:
    explicit TrainingJob(QObject* parent = nullptr);
    ~TrainingJob() override;

    /// radiolens-cli next to the running program, or $RADIOLENS_CLI.
    static QString cliPath();

    /// Starts `retrain --store STORE --progress-json ARGUMENTS...`. False when one runs.
    bool start(const QString& storePath, const QStringList& arguments);
    /// Asks the run to stop (SIGTERM); finished() follows.
    void cancel();
    bool isRunning() const;

Q_SIGNALS:
    /// Within an epoch: `fraction` of the whole run, the epoch's mean loss so far, seconds
    /// since this process started training.
    void progressed(int epoch, int epochs, double fraction, double loss, double seconds);
    /// After an epoch (`replayed`: an epoch of a resumed run, done before).
    void epochEnded(int epoch, int epochs, double loss, double validationAuc, double best,
                    bool replayed);
    /// A message for the reader (resuming, images left out).
    void noted(const QString& text);
    /// The run ended: `ok` with the registered version's JSON, else the reason.
    void finished(bool ok, const QString& message, const QByteArray& versionJson);

private:
    void readLines();

    QProcess* m_process = nullptr;
    QByteArray m_buffer;
    QString m_error;
    QByteArray m_version;
};

} // namespace radiolens
