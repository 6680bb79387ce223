#pragma once

#include "core/domain/StudyIndex.h"
#include "core/imaging/SliceRenderer.h"
#include "core/tasks/BackgroundJobs.h"

#include <QString>

#include <memory>

Q_DECLARE_METATYPE(radiolens::RenderedSlice)

namespace radiolens {

/// Makes a small picture of every series of an index in the background: the middle image
/// through its default window, fitted into `size` x `size` pixels. Series come in tree order;
/// one that cannot be decoded is skipped. Starting again cancels the previous run.
class ThumbnailJob : public BackgroundJob {
    Q_OBJECT
public:
    explicit ThumbnailJob(QObject* parent = nullptr);

    void start(std::shared_ptr<const StudyIndex> index, int size = 64);

Q_SIGNALS:
    void thumbnailReady(const QString& seriesInstanceUid, const radiolens::RenderedSlice& picture);
};

/// `slice` shrunk (box filter) to fit `size` x `size`, proportions kept.
RenderedSlice shrinkToFit(const RenderedSlice& slice, int size);

} // namespace radiolens
