#pragma once

#include "core/domain/StudyIndex.h"
#include "core/imaging/Volume.h"
#include "core/tasks/Metatypes.h"
#include "core/tasks/VolumeCache.h"

#include <QObject>
#include <QString>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace radiolens {

class SeriesLoadJob;

/// What to load: the files of a series (all, or one image of it).
struct SeriesRequest {
    QString key; ///< identifies the request: series UID, plus the image
    QString seriesInstanceUid;
    std::vector<std::string> files;
};

/// Loads series for every viewport that asks, several at once, and keeps recent volumes in a
/// VolumeCache so that reopening is instant. Signals carry the request key; a viewport listens
/// to its own. GUI thread only.
class SeriesService : public QObject {
    Q_OBJECT
public:
    explicit SeriesService(QObject* parent = nullptr);
    ~SeriesService() override;

    /// The request for series `seriesUid` of `index`; `imagePath` non-empty asks for that image
    /// only (one view of a series of radiographs).
    static SeriesRequest requestFor(const StudyIndex& index, const QString& seriesUid,
                                    const QString& imagePath = {});

    /// Delivers the volume: from the cache (volumeStarted and loaded are emitted at once, in
    /// the next event loop turn), from a load already running for the same key, or from a new
    /// load.
    void open(const SeriesRequest& request);
    /// Stops the load for `key`, if one runs; its volume will not be delivered.
    void cancel(const QString& key);
    void cancelAll();
    bool isLoading(const QString& key) const;

    VolumeCache& cache() { return m_cache; }

Q_SIGNALS:
    void progressed(const QString& key, double fraction);
    void volumeStarted(const QString& key, std::shared_ptr<const radiolens::Volume> volume);
    void sliceDecoded(const QString& key, int k);
    void sliceFailed(const QString& key, int k, const QString& reason);
    void loaded(const QString& key, std::shared_ptr<const radiolens::Volume> volume,
                const std::vector<radiolens::Problem>& problems);
    void failed(const QString& key, const QString& reason);

private:
    VolumeCache m_cache;
    std::map<QString, SeriesLoadJob*> m_jobs; ///< loads in progress, by key
};

} // namespace radiolens
