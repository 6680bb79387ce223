#include "core/tasks/ThumbnailJob.h"

#include "core/dicom/SeriesLoader.h"

#include <algorithm>
#include <cmath>

namespace radiolens {

RenderedSlice shrinkToFit(const RenderedSlice& slice, int size) {
    const double scale = std::min(1.0, double(size) / double(std::max(slice.width, slice.height)));
    RenderedSlice out;
    out.channels = slice.channels;
    out.width = std::max(1, int(std::lround(slice.width * scale)));
    out.height = std::max(1, int(std::lround(slice.height * scale)));
    out.pixels.assign(std::size_t(out.width * out.height * out.channels), 0);
    for (int y = 0; y < out.height; ++y) {
        const int y0 = y * slice.height / out.height;
        const int y1 = std::max(y0 + 1, (y + 1) * slice.height / out.height);
        for (int x = 0; x < out.width; ++x) {
            const int x0 = x * slice.width / out.width;
            const int x1 = std::max(x0 + 1, (x + 1) * slice.width / out.width);
            for (int c = 0; c < slice.channels; ++c) {
                unsigned sum = 0;
                for (int sy = y0; sy < y1; ++sy) {
                    for (int sx = x0; sx < x1; ++sx) {
                        sum +=
                            slice.pixels[std::size_t((sy * slice.width + sx) * slice.channels + c)];
                    }
                }
                out.pixels[std::size_t((y * out.width + x) * out.channels + c)] =
                    std::uint8_t(sum / unsigned((y1 - y0) * (x1 - x0)));
            }
        }
    }
    return out;
}

ThumbnailJob::ThumbnailJob(QObject* parent)
    : BackgroundJob(parent) {
    qRegisterMetaType<RenderedSlice>();
}

void ThumbnailJob::start(std::shared_ptr<const StudyIndex> index, int size) {
    launch([this, index, size](const std::atomic<bool>& cancelled, const Post& post) {
        for (const SeriesEntry* series : index->allSeries()) {
            if (cancelled.load() || series->instances.empty()) {
                continue;
            }
            // The middle file: one image of a stack, or the whole of a multi-frame file.
            SeriesLoadOptions options;
            options.threads = 1;
            options.lowPriority = true;
            const std::string path = series->instances[series->instances.size() / 2].path;
            const SeriesLoadResult result = SeriesLoader(options).load({path});
            if (!result.ok()) {
                continue;
            }
            const Volume& v = *result.volume;
            const std::size_t k = v.size()[2] / 2;
            const RenderedSlice picture = shrinkToFit(renderSlice(v, k, defaultWindow(v, k)), size);
            const QString uid = QString::fromStdString(series->seriesInstanceUid);
            post([this, uid, picture] { Q_EMIT thumbnailReady(uid, picture); });
        }
    });
}

} // namespace radiolens
