#pragma once

#include "core/domain/StudyIndex.h"
#include "core/imaging/Volume.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace radiolens {

struct SeriesLoadOptions {
    /// Resample a tilted or irregular stack onto a regular grid (GridResampler).
    bool resample = false;
    /// Slice spacing of the resampled grid in mm; 0 takes the median gap.
    double resampleSpacing = 0.0;
    /// Decoding threads; 0 uses every core.
    int threads = 0;
    /// Load only this image of the series (0-based, in instance order); -1 loads them all.
    /// Projection radiographs (CR, DX, MG, XA, ...) are never stacked: with -1 the first is
    /// loaded and a warning says how many there are.
    int instance = -1;
    /// Decode at a lower CPU priority (nice +10), so that a load in the background never
    /// slows the thread that paints the screen.
    bool lowPriority = false;
    /// The most memory the volume (and one decoded frame) may take, in bytes; 0: 90 % of what
    /// the system has available when the load starts. A series declaring more is refused
    /// before anything is allocated, saying how much it needs and how much there is.
    std::uint64_t memoryLimitBytes = 0;
    /// The longest a file's frames may take to decode, in seconds (0: no limit). Frames of a
    /// file past it are refused with the reason and the rest of the series is shown.
    double fileTimeBudgetSeconds = 60.0;
};

/// Follows a load. volumeStarted() is called on the loading thread, progress() on one thread at
/// a time (the loading thread, or a decoding thread of a low-priority load); sliceDecoded() and
/// sliceFailed() on decoding threads, possibly at the same time, so they must be thread-safe.
class SeriesLoadObserver {
public:
    virtual ~SeriesLoadObserver() = default;
    /// The volume exists with its geometry; its pixels arrive slice by slice, the middle first.
    virtual void volumeStarted(const std::shared_ptr<const Volume>& volume) {}
    /// Slice k holds its final values and may be read.
    virtual void sliceDecoded(std::size_t k) {}
    /// Slice k could not be decoded (`reason`); it is not to be shown. When the load ends it
    /// holds the darkest value and the volume's warnings say so.
    virtual void sliceFailed(std::size_t k, const std::string& reason) {}
    /// Fraction done in [0, 1]; return false to cancel.
    virtual bool progress(double fraction) { return true; }
};

/// Where the time of a load went, in seconds from the start of load().
struct SeriesLoadTiming {
    double headers = 0.0;    ///< every header read and the geometry known
    double firstSlice = 0.0; ///< the first (middle) slice decoded
    double total = 0.0;
};

struct SeriesLoadResult {
    std::shared_ptr<Volume> volume; ///< null when nothing could be loaded
    std::string error;              ///< why, when volume is null
    std::vector<Problem> problems;  ///< files or frames left out, with reasons
    bool cancelled = false;
    SeriesLoadTiming timing;

    bool ok() const { return volume != nullptr; }
};

/// Turns the files of one series into a Volume with exact values and true geometry.
///
/// Frames (of single- or multi-frame files, classic or enhanced) are sorted by position along
/// the slice normal; frames that do not fit the series (another size, orientation or pixel
/// type: localizers, stray files) are left out with a reason; the stack is checked for tilt,
/// irregular and missing slices. Stored values go through BitsStored/HighBit and the modality
/// rescale (HU for CT) into the narrowest exact type: int16 whenever the values fit, float32
/// for non-integer rescales. RGB and YBR become RGB.
///
/// The volume is allocated once and every frame is decoded straight into it, on all cores, the
/// middle slice first. Thread-safe: load() may run on any thread, several at once.
class SeriesLoader {
public:
    explicit SeriesLoader(SeriesLoadOptions options = {})
        : m_options(options) {}

    SeriesLoadResult load(const std::vector<std::string>& files,
                          SeriesLoadObserver* observer = nullptr) const;

private:
    SeriesLoadOptions m_options;
};

} // namespace radiolens
