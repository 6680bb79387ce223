#pragma once

#include "core/dicom/PacsClient.h"
#include "core/domain/DicomNode.h"
#include "core/domain/Retrieval.h"

#include <QMetaType>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QThreadPool>

#include <atomic>
#include <map>
#include <memory>
#include <vector>

namespace radiolens {

class StorageListener;

/// DICOM networking for the application: queries, retrievals (one at a time, in the order
/// asked), sending, and the background C-STORE listener, all off the GUI thread. Retrievals are
/// recorded in the store and what arrives is indexed there, so the study browser can show a
/// study while it arrives and mark it incomplete when it was cut off.
///
/// Signals are emitted on the thread that owns the service (the GUI thread). The destructor
/// cancels the retrievals and waits for the running network call to end (at most the response
/// timeout). GUI thread only.
class PacsService : public QObject {
    Q_OBJECT
public:
    /// `settingsPath`: the network settings file (NetworkSettings::defaultPath() when empty);
    /// `storePath`: the local store.
    PacsService(const QString& settingsPath, const QString& storePath, QObject* parent = nullptr);
    ~PacsService() override;

    const NetworkSettings& settings() const { return m_settings; }
    QString settingsPath() const { return m_settingsPath; }
    /// Saves the settings (and restarts the listener when its settings changed). Returns the
    /// reason when the file cannot be written, else an empty string.
    QString saveSettings(const NetworkSettings& settings);
    /// The folder retrieved and received studies go to.
    QString incomingFolder() const;

    /// C-ECHO in the background; echoed() tells the outcome.
    void echo(const DicomNode& node);
    /// C-FIND in the background; searched() tells the outcome. A newer search replaces an older
    /// one's results.
    void search(const DicomNode& node, QueryLevel level, const QueryFilter& filter);
    /// Queues the retrieval of a study (C-GET, or C-MOVE to our listener when the node is set
    /// so; the listener must be running then).
    void retrieve(const DicomNode& node, const QString& studyInstanceUid);
    /// Cancels the running retrieval and drops the queued ones (and stops a send under way);
    /// retrievals asked for afterwards run.
    void cancelRetrievals();
    int pendingRetrievals() const { return m_pending; }
    /// The retrievals kept in the store, by study.
    std::map<std::string, Retrieval> retrievals() const;

    /// C-STORE `files` to `node` in the background; sent() tells the outcome.
    void send(const DicomNode& node, const QStringList& files);

    /// Starts the listener with the settings' AE title, port and incoming folder. Returns the
    /// reason when it cannot (the port is taken), else an empty string.
    QString startListener();
    void stopListener();
    bool listening() const;

Q_SIGNALS:
    void echoed(const QString& node, bool ok, const QString& message);
    void searched(const std::vector<radiolens::QueryMatch>& matches, const QString& error);
    void retrievalStarted(const QString& studyInstanceUid, const QString& node);
    /// `fraction` of the study is on disk.
    void retrievalProgressed(const QString& studyInstanceUid, double fraction);
    /// An instance of a retrieved study is on disk (`studyFolder` is its study's folder).
    void instanceArrived(const QString& studyInstanceUid, const QString& studyFolder);
    /// The retrieval ended: complete, incomplete (with the reason) or cancelled.
    void retrievalFinished(const radiolens::Retrieval& retrieval);
    void sent(const QString& node, int stored, const QStringList& failures, const QString& error);
    /// The listener filed an instance pushed to us.
    void instanceReceived(const QString& studyInstanceUid, const QString& studyFolder,
                          const QString& callingAeTitle);
    void listenerChanged(bool running, const QString& message);

private:
    NetworkTimeouts timeouts() const;

    QString m_settingsPath;
    QString m_storePath;
    NetworkSettings m_settings;
    QThreadPool m_retrievalPool; ///< one thread: retrievals in order
    QThreadPool m_queryPool;
    /// Raised by Cancel and by the destructor: jobs started under an older value stop.
    std::shared_ptr<std::atomic<int>> m_cancel;
    std::atomic<int> m_searchGeneration{0};
    int m_pending = 0;
    std::unique_ptr<StorageListener> m_listener;
};

} // namespace radiolens

Q_DECLARE_METATYPE(radiolens::Retrieval)
Q_DECLARE_METATYPE(std::vector<radiolens::QueryMatch>)
