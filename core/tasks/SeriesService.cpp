#include "core/tasks/SeriesService.h"

#include "core/tasks/BackgroundJobs.h"

#include <QTimer>

namespace radiolens {

SeriesService::SeriesService(QObject* parent)
    : QObject(parent)
    , m_cache(VolumeCache::defaultLimit()) {
    registerTaskMetatypes();
}

SeriesService::~SeriesService() {
    cancelAll();
}

SeriesRequest SeriesService::requestFor(const StudyIndex& index, const QString& seriesUid,
                                        const QString& imagePath) {
    SeriesRequest request;
    request.seriesInstanceUid = seriesUid;
    request.key = imagePath.isEmpty() ? seriesUid : seriesUid + QLatin1Char('|') + imagePath;
    if (!imagePath.isEmpty()) {
        request.files = {imagePath.toStdString()};
    } else if (const SeriesEntry* series = index.findSeries(seriesUid.toStdString())) {
        request.files = series->paths();
    }
    return request;
}

bool SeriesService::isLoading(const QString& key) const {
    return m_jobs.count(key) != 0;
}

void SeriesService::open(const SeriesRequest& request) {
    if (std::shared_ptr<const Volume> cached = m_cache.find(request.key.toStdString())) {
        const QString key = request.key;
        QTimer::singleShot(0, this, [this, key, cached] {
            Q_EMIT volumeStarted(key, cached);
            Q_EMIT loaded(key, cached, {});
        });
        return;
    }
    if (isLoading(request.key)) {
        return; // the running load will deliver it
    }
    if (request.files.empty()) {
        const QString key = request.key;
        QTimer::singleShot(0, this,
                           [this, key] { Q_EMIT failed(key, tr("no files for this series")); });
        return;
    }
    auto* job = new SeriesLoadJob(this);
    const QString key = request.key;
    m_jobs[key] = job;
    connect(job, &SeriesLoadJob::progressed, this,
            [this, key](double f) { Q_EMIT progressed(key, f); });
    connect(job, &SeriesLoadJob::volumeStarted, this,
            [this, key](std::shared_ptr<const Volume> v, const QString&) {
                Q_EMIT volumeStarted(key, v);
            });
    connect(job, &SeriesLoadJob::sliceDecoded, this,
            [this, key](int k) { Q_EMIT sliceDecoded(key, k); });
    connect(job, &SeriesLoadJob::sliceFailed, this,
            [this, key](int k, const QString& reason) { Q_EMIT sliceFailed(key, k, reason); });
    const auto finish = [this, key, job] {
        m_jobs.erase(key);
        job->deleteLater();
    };
    connect(job, &SeriesLoadJob::loaded, this,
            [this, key, finish](std::shared_ptr<const Volume> v, const QString&,
                                const std::vector<Problem>& problems) {
                m_cache.insert(key.toStdString(), v);
                finish();
                Q_EMIT loaded(key, v, problems);
            });
    connect(job, &SeriesLoadJob::failed, this,
            [this, key, finish](const QString&, const QString& reason) {
                finish();
                Q_EMIT failed(key, reason);
            });
    job->start(request.files, request.seriesInstanceUid);
}

void SeriesService::cancel(const QString& key) {
    const auto it = m_jobs.find(key);
    if (it != m_jobs.end()) {
        SeriesLoadJob* job = it->second;
        m_jobs.erase(it);
        job->cancel();
        job->deleteLater(); // its destructor waits for the run to stop
    }
}

void SeriesService::cancelAll() {
    while (!m_jobs.empty()) {
        cancel(m_jobs.begin()->first);
    }
}

} // namespace radiolens
