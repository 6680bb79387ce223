#include "core/tasks/TrainingJob.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>

#include <signal.h>

namespace radiolens {

TrainingJob::TrainingJob(QObject* parent)
    : QObject(parent)
    , m_process(new QProcess(this)) {
    m_process->setProcessChannelMode(QProcess::SeparateChannels);
    connect(m_process, &QProcess::readyReadStandardOutput, this, &TrainingJob::readLines);
    connect(m_process, &QProcess::readyReadStandardError, this,
            [this] { m_process->readAllStandardError(); }); // the same news, as text
    connect(m_process, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
        readLines();
        if (status == QProcess::NormalExit && code == 0 && !m_version.isEmpty()) {
            Q_EMIT finished(true, tr("published"), m_version);
        } else {
            Q_EMIT finished(false,
                            !m_error.isEmpty() ? m_error
                            : status == QProcess::CrashExit
                                ? tr("training stopped unexpectedly (killed or crashed); "
                                     "start it again to go on from its last checkpoint")
                                : tr("training failed (exit code %1)").arg(code),
                            {});
        }
    });
    connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart) {
            Q_EMIT finished(false, tr("%1 could not be started").arg(cliPath()), {});
        }
    });
}

TrainingJob::~TrainingJob() {
    m_process->disconnect(this);
    if (isRunning()) {
        // The window closes: ask training to stop at the next batch (its checkpoint stays,
        // and so does a run killed after this wait: the same training goes on from it).
        ::kill(pid_t(m_process->processId()), SIGTERM);
        m_process->waitForFinished(3000);
    }
}

QString TrainingJob::cliPath() {
    const QByteArray custom = qgetenv("RADIOLENS_CLI");
    if (!custom.isEmpty()) {
        return QString::fromLocal8Bit(custom);
    }
    return QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("radiolens-cli"));
}

bool TrainingJob::start(const QString& storePath, const QStringList& arguments) {
    if (isRunning()) {
        return false;
    }
    m_buffer.clear();
    m_error.clear();
    m_version.clear();
    QStringList args{QStringLiteral("retrain"), QStringLiteral("--store"), storePath,
                     QStringLiteral("--progress-json")};
    args << arguments;
    // nice: the viewer's thread keeps priority over training on a 2-core machine.
    m_process->setProgram(QStringLiteral("nice"));
    m_process->setArguments(QStringList{QStringLiteral("-n"), QStringLiteral("10"), cliPath()} +
                            args);
    m_process->start();
    return true;
}

void TrainingJob::cancel() {
    if (isRunning()) {
        // nice execs the program, so the process is radiolens-cli itself.
        ::kill(pid_t(m_process->processId()), SIGTERM);
    }
}

bool TrainingJob::isRunning() const {
    return m_process->state() != QProcess::NotRunning;
}

void TrainingJob::readLines() {
    m_buffer += m_process->readAllStandardOutput();
    int end = 0;
    while ((end = m_buffer.indexOf('\n')) >= 0) {
        const QByteArray line = m_buffer.left(end);
        m_buffer.remove(0, end + 1);
        const QJsonObject event = QJsonDocument::fromJson(line).object();
        const QString kind = event.value(QStringLiteral("event")).toString();
        if (kind == QStringLiteral("epoch")) {
            Q_EMIT epochEnded(event.value(QStringLiteral("epoch")).toInt(),
                              event.value(QStringLiteral("epochs")).toInt(),
                              event.value(QStringLiteral("loss")).toDouble(),
                              event.value(QStringLiteral("validationAuc")).toDouble(),
                              event.value(QStringLiteral("bestValidationAuc")).toDouble(),
                              event.value(QStringLiteral("replayed")).toBool());
        }
        if (kind == QStringLiteral("progress") || kind == QStringLiteral("epoch")) {
            Q_EMIT progressed(event.value(QStringLiteral("epoch")).toInt(),
                              event.value(QStringLiteral("epochs")).toInt(),
                              event.value(QStringLiteral("fraction")).toDouble(),
                              event.value(QStringLiteral("loss")).toDouble(),
                              event.value(QStringLiteral("seconds")).toDouble());
        } else if (kind == QStringLiteral("note")) {
            Q_EMIT noted(event.value(QStringLiteral("text")).toString());
        } else if (kind == QStringLiteral("error")) {
            m_error = event.value(QStringLiteral("text")).toString();
        } else if (kind == QStringLiteral("done")) {
            m_version = QJsonDocument(event.value(QStringLiteral("model")).toObject()).toJson();
        }
    }
}

} // namespace radiolens
