#include "core/tasks/PacsService.h"

#include "core/dicom/StorageListener.h"
#include "core/dicom/StudyIndexer.h"
#include "core/dicom/StudyRetriever.h"
#include "core/store/IndexCache.h"
#include "core/store/RetrievalLog.h"
#include "core/store/StudyStore.h"

#include <QDir>
#include <QMetaObject>
#include <QPointer>

#include <chrono>
#include <filesystem>

namespace radiolens {

namespace {

/// Progress of one network job, posted to the service; cancels when the service's cancel
/// generation has moved past the job's (Cancel, or the service closing).
class RetrievalProgress final : public ProgressSink {
public:
    RetrievalProgress(std::shared_ptr<std::atomic<int>> generation, int job,
                      std::function<void(double)> post)
        : m_generation(std::move(generation))
        , m_job(job)
        , m_post(std::move(post)) {}
    bool report(double fraction) override {
        const auto now = std::chrono::steady_clock::now();
        if (fraction >= 1.0 || now - m_last > std::chrono::milliseconds(100)) {
            m_last = now;
            m_post(fraction);
        }
        return *m_generation == m_job;
    }

private:
    std::shared_ptr<std::atomic<int>> m_generation;
    int m_job;
    std::function<void(double)> m_post;
    std::chrono::steady_clock::time_point m_last{};
};

/// Keeps a study's arrived files in the store's index, so the browser and labels find them.
void indexStudyFolder(StudyStore& store, const std::string& folder) {
    if (std::filesystem::is_directory(folder)) {
        IndexCache(store).save({folder}, StudyIndexer().index({folder}));
    }
}

} // namespace

PacsService::PacsService(const QString& settingsPath, const QString& storePath, QObject* parent)
    : QObject(parent)
    , m_settingsPath(settingsPath.isEmpty() ? QString::fromStdString(NetworkSettings::defaultPath())
                                            : settingsPath)
    , m_storePath(storePath)
    , m_cancel(std::make_shared<std::atomic<int>>(0)) {
    m_retrievalPool.setMaxThreadCount(1);
    m_queryPool.setMaxThreadCount(2);
    try {
        m_settings = NetworkSettings::load(m_settingsPath.toStdString());
    } catch (const std::exception& e) {
        // A broken settings file is reported and left as it is; the defaults are used.
        QMetaObject::invokeMethod(
            this,
            [this, reason = QString::fromStdString(e.what())] {
                Q_EMIT listenerChanged(false, reason);
            },
            Qt::QueuedConnection);
    }
}

PacsService::~PacsService() {
    ++*m_cancel;
    stopListener();
    m_retrievalPool.waitForDone();
    m_queryPool.waitForDone();
}

QString PacsService::saveSettings(const NetworkSettings& settings) {
    try {
        settings.save(m_settingsPath.toStdString());
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
    const bool listenerChanged =
        settings.ownAeTitle != m_settings.ownAeTitle ||
        settings.listenPort != m_settings.listenPort ||
        settings.incomingFolder != m_settings.incomingFolder ||
        settings.listenerEnabled != m_settings.listenerEnabled ||
        settings.listenerTlsCertificateFile != m_settings.listenerTlsCertificateFile ||
        settings.listenerTlsKeyFile != m_settings.listenerTlsKeyFile ||
        settings.listenerTlsCaFile != m_settings.listenerTlsCaFile ||
        settings.listenerOnlyKnownNodes != m_settings.listenerOnlyKnownNodes ||
        settings.listenerOnlyKnownNodes; // then the nodes it accepts may have changed
    m_settings = settings;
    if (listenerChanged) {
        stopListener();
        if (m_settings.listenerEnabled) {
            return startListener();
        }
    }
    return {};
}

QString PacsService::incomingFolder() const {
    return QString::fromStdString(m_settings.incomingFolderOrDefault());
}

NetworkTimeouts PacsService::timeouts() const {
    NetworkTimeouts t;
    t.connectSeconds = m_settings.connectTimeoutSeconds;
    t.responseSeconds = m_settings.responseTimeoutSeconds;
    return t;
}

void PacsService::echo(const DicomNode& node) {
    const std::string own = m_settings.ownAeTitle;
    const NetworkTimeouts t = timeouts();
    QPointer<PacsService> self(this);
    m_queryPool.start([this, node, own, t] {
        bool ok = false;
        QString message;
        try {
            const double seconds = PacsClient(node, own, t).echo();
            ok = true;
            message = tr("%1 answered in %2 ms")
                          .arg(QString::fromStdString(node.address()))
                          .arg(seconds * 1000.0, 0, 'f', 0);
        } catch (const std::exception& e) {
            message = QString::fromStdString(e.what());
        }
        QMetaObject::invokeMethod(
            this,
            [this, name = QString::fromStdString(node.name), ok, message] {
                Q_EMIT echoed(name, ok, message);
            },
            Qt::QueuedConnection);
    });
}

void PacsService::search(const DicomNode& node, QueryLevel level, const QueryFilter& filter) {
    const int generation = ++m_searchGeneration;
    const std::string own = m_settings.ownAeTitle;
    const NetworkTimeouts t = timeouts();
    m_queryPool.start([this, node, own, t, level, filter, generation] {
        std::vector<QueryMatch> matches;
        QString error;
        try {
            matches = PacsClient(node, own, t).find(level, filter);
        } catch (const std::exception& e) {
            error = QString::fromStdString(e.what());
        }
        QMetaObject::invokeMethod(
            this,
            [this, matches = std::move(matches), error, generation] {
                if (generation == m_searchGeneration) {
                    Q_EMIT searched(matches, error);
                }
            },
            Qt::QueuedConnection);
    });
}

void PacsService::retrieve(const DicomNode& node, const QString& studyInstanceUid) {
    ++m_pending;
    RetrieveRequest request;
    request.studyInstanceUid = studyInstanceUid.toStdString();
    request.folder = m_settings.incomingFolderOrDefault();
    request.useMove = node.retrieveWithMove;
    const std::string own = m_settings.ownAeTitle;
    const NetworkTimeouts t = timeouts();
    const std::string storePath = m_storePath.toStdString();
    const auto cancel = m_cancel;
    const int job = *m_cancel; // a Cancel after this request cancels it, not later ones
    m_retrievalPool.start([this, node, own, t, request, storePath, cancel, job] {
        const QString study = QString::fromStdString(request.studyInstanceUid);
        const QString studyFolder = QDir(QString::fromStdString(request.folder)).filePath(study);
        auto post = [this](std::function<void()> f) {
            QMetaObject::invokeMethod(this, std::move(f), Qt::QueuedConnection);
        };
        Retrieval result;
        result.studyInstanceUid = request.studyInstanceUid;
        result.node = node.address();
        result.folder = request.folder;
        if (*cancel != job) {
            result.state = Retrieval::State::Cancelled;
            post([this, result] {
                --m_pending;
                Q_EMIT retrievalFinished(result);
            });
            return;
        }
        post([this, study, name = QString::fromStdString(node.address())] {
            Q_EMIT retrievalStarted(study, name);
        });
        try {
            std::unique_ptr<StudyStore> store;
            std::unique_ptr<RetrievalLog> log;
            if (!storePath.empty()) {
                store = std::make_unique<StudyStore>(storePath);
                log = std::make_unique<RetrievalLog>(*store);
            }
            RetrievalProgress progress(cancel, job, [post, study, this](double f) {
                post([this, study, f] { Q_EMIT retrievalProgressed(study, f); });
            });
            // Arrivals are announced at most a few times a second: each makes the browser
            // read the study again.
            auto lastArrival = std::chrono::steady_clock::time_point{};
            PacsClient client(node, own, t);
            result = retrieveStudy(
                client, own, request, &progress,
                [&](const Retrieval& r) {
                    if (log) {
                        log->record(r);
                    }
                },
                [&](const std::string&) {
                    const auto now = std::chrono::steady_clock::now();
                    if (now - lastArrival > std::chrono::milliseconds(700)) {
                        lastArrival = now;
                        post([this, study, studyFolder] {
                            Q_EMIT instanceArrived(study, studyFolder);
                        });
                    }
                });
            if (store) {
                indexStudyFolder(*store, studyFolder.toStdString());
            }
        } catch (const std::exception& e) {
            result.state = Retrieval::State::Incomplete;
            result.error = e.what();
        }
        post([this, result] {
            --m_pending;
            Q_EMIT retrievalFinished(result);
        });
    });
}

void PacsService::cancelRetrievals() {
    ++*m_cancel;
}

std::map<std::string, Retrieval> PacsService::retrievals() const {
    std::map<std::string, Retrieval> out;
    if (m_storePath.isEmpty()) {
        return out;
    }
    try {
        StudyStore store(m_storePath.toStdString());
        for (const Retrieval& r : RetrievalLog(store).all()) {
            out.emplace(r.studyInstanceUid, r);
        }
    } catch (const std::exception&) {
    }
    return out;
}

void PacsService::send(const DicomNode& node, const QStringList& files) {
    const std::string own = m_settings.ownAeTitle;
    const NetworkTimeouts t = timeouts();
    std::vector<std::string> paths;
    for (const QString& f : files) {
        paths.push_back(f.toStdString());
    }
    const auto cancel = m_cancel;
    const int job = *m_cancel;
    m_queryPool.start([this, node, own, t, paths, cancel, job] {
        std::vector<std::string> failures;
        int stored = 0;
        QString error;
        try {
            RetrievalProgress progress(cancel, job, [](double) {});
            stored = PacsClient(node, own, t).store(paths, &failures, &progress);
        } catch (const std::exception& e) {
            error = QString::fromStdString(e.what());
        }
        QStringList failed;
        for (const std::string& f : failures) {
            failed << QString::fromStdString(f);
        }
        QMetaObject::invokeMethod(
            this,
            [this, name = QString::fromStdString(node.address()), stored, failed, error] {
                Q_EMIT sent(name, stored, failed, error);
            },
            Qt::QueuedConnection);
    });
}

QString PacsService::startListener() {
    if (m_listener && m_listener->running()) {
        return {};
    }
    const ListenerOptions options = ListenerOptions::fromSettings(m_settings);
    const std::string storePath = m_storePath.toStdString();
    // Received studies are indexed into the store shortly after their last instance.
    auto received = [this, folder = options.folder](const ReceivedInstance& r) {
        const QString study = QString::fromStdString(r.studyInstanceUid);
        const QString studyFolder = QDir(QString::fromStdString(folder)).filePath(study);
        QMetaObject::invokeMethod(
            this,
            [this, study, studyFolder, caller = QString::fromStdString(r.callingAeTitle)] {
                Q_EMIT instanceReceived(study, studyFolder, caller);
            },
            Qt::QueuedConnection);
    };
    try {
        m_listener = std::make_unique<StorageListener>(options, received);
        m_listener->start();
    } catch (const std::exception& e) {
        m_listener.reset();
        const QString reason = QString::fromStdString(e.what());
        Q_EMIT listenerChanged(false, reason);
        return reason;
    }
    Q_EMIT listenerChanged(true, tr("Listening as %1 on port %2")
                                     .arg(QString::fromStdString(options.aeTitle))
                                     .arg(options.port));
    return {};
}

void PacsService::stopListener() {
    if (m_listener) {
        m_listener->stop();
        m_listener.reset();
        Q_EMIT listenerChanged(false, tr("The listener is stopped"));
    }
}

bool PacsService::listening() const {
    return m_listener && m_listener->running();
}

} // namespace radiolens
