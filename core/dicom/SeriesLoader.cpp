#include "core/dicom/SeriesLoader.h"

#include "core/dicom/DicomHeaderScanner.h"
#include "core/dicom/DicomInstance.h"
#include "core/dicom/FrameDecoder.h"
#include "core/domain/SystemResources.h"
#include "core/imaging/GridResampler.h"
#include "core/imaging/StackGeometry.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>

namespace radiolens {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Runs `body(i)` for i in [0, n) on `threads` threads, the calling thread included.
template <typename F>
void parallelFor(std::size_t n, unsigned threads, F&& body) {
    std::atomic<std::size_t> next{0};
    const auto work = [&] {
        for (std::size_t i = next++; i < n; i = next++) {
            body(i);
        }
    };
    std::vector<std::thread> helpers;
    for (unsigned t = 1; t < std::min<std::size_t>(threads, n); ++t) {
        helpers.emplace_back(work);
    }
    work();
    for (auto& helper : helpers) {
        helper.join();
    }
}

/// One frame of one file.
struct FrameRef {
    std::size_t image = 0;
    int frame = 0;
};

bool isColour(const PixelModule& p) {
    return p.samplesPerPixel == 3;
}

/// Frames of one volume share size, samples, bits, signedness, orientation (each cosine within
/// 1e-3, about 0.06 degrees: scanners write float noise) and pixel spacing (within 0.1%).
bool closeVectors(const std::optional<Vec3>& a, const std::optional<Vec3>& b) {
    if (a.has_value() != b.has_value()) {
        return false;
    }
    if (!a) {
        return true;
    }
    const Vec3 d = *a - *b;
    return std::max({std::abs(d.x), std::abs(d.y), std::abs(d.z)}) <= 1e-3;
}

bool closeSpacing(const std::optional<double>& a, const std::optional<double>& b) {
    if (a.has_value() != b.has_value()) {
        return false;
    }
    return !a || std::abs(*a - *b) <= 1e-3 * std::max(1.0, std::abs(*a));
}

/// Why frame `f` of `image` cannot join a volume made of frames like `ref`, or empty if it can.
std::string mismatchReason(const DicomImage& image, const FrameInfo& f, const DicomImage& reference,
                           const FrameInfo& ref) {
    const PixelModule& a = image.pixels;
    const PixelModule& b = reference.pixels;
    char text[200];
    if (a.rows != b.rows || a.columns != b.columns) {
        std::snprintf(text, sizeof text,
                      "left out: %d x %d pixels while the rest of the series is %d x %d", a.columns,
                      a.rows, b.columns, b.rows);
        return text;
    }
    if (a.samplesPerPixel != b.samplesPerPixel) {
        return "left out: colour and grey images mixed in one series";
    }
    if (a.bitsAllocated != b.bitsAllocated || a.pixelRepresentation != b.pixelRepresentation) {
        std::snprintf(text, sizeof text, "left out: %d-bit %s pixels while the rest are %d-bit %s",
                      a.bitsAllocated, a.pixelRepresentation ? "signed" : "unsigned",
                      b.bitsAllocated, b.pixelRepresentation ? "signed" : "unsigned");
        return text;
    }
    if (!closeVectors(f.rowDirection, ref.rowDirection) ||
        !closeVectors(f.columnDirection, ref.columnDirection)) {
        return "left out: orientation differs from the rest of the series (a localizer?)";
    }
    if (!closeSpacing(f.rowSpacing, ref.rowSpacing) ||
        !closeSpacing(f.columnSpacing, ref.columnSpacing)) {
        std::snprintf(text, sizeof text,
                      "left out: pixel spacing %.4g x %.4g mm while the rest is %.4g x %.4g mm",
                      f.columnSpacing.value_or(0.0), f.rowSpacing.value_or(0.0),
                      ref.columnSpacing.value_or(0.0), ref.rowSpacing.value_or(0.0));
        return text;
    }
    return {};
}

struct OutputChoice {
    PixelFormat format;
    bool identity = true;  ///< stored values are output values
    bool floating = false; ///< values are computed in floating point
};

ComponentType storedComponent(const PixelModule& p, DicomTag pixelTag) {
    if (pixelTag == tags::FloatPixelData) {
        return ComponentType::Float32;
    }
    if (pixelTag == tags::DoubleFloatPixelData) {
        return ComponentType::Float64;
    }
    const bool s = p.pixelRepresentation == 1;
    switch (p.bitsAllocated) {
    case 1:
    case 8:
        return s ? ComponentType::Int8 : ComponentType::UInt8;
    case 16:
        return s ? ComponentType::Int16 : ComponentType::UInt16;
    case 32:
        return s ? ComponentType::Int32 : ComponentType::UInt32;
    default:
        return ComponentType::Float64;
    }
}

bool isIntegral(double v) {
    return std::isfinite(v) && v == std::nearbyint(v) && std::abs(v) < 1e9;
}

/// The narrowest exact output type for the frames; `wide` asks for the fallback after values
/// overflowed the first choice.
OutputChoice chooseOutput(const std::vector<const DicomImage*>& images,
                          const std::vector<const FrameInfo*>& frames, bool wide) {
    const DicomImage& first = *images.front();
    const PixelModule& p = first.pixels;
    OutputChoice choice;
    const ComponentType stored = storedComponent(p, first.pixelDataTag);
    if (isColour(p)) {
        choice.format = {stored, 3};
        return choice;
    }
    bool identity = true;
    bool integral = true;
    for (const FrameInfo* f : frames) {
        identity = identity && f->slope == 1.0 && f->intercept == 0.0;
        // Integer arithmetic only where it cannot overflow: stored values < 2^32, so slope
        // <= 2^16 and |intercept| <= 2^31 keep every value below 2^48.
        integral = integral && isIntegral(f->slope) && isIntegral(f->intercept) &&
                   std::abs(f->slope) <= 65536.0 && std::abs(f->intercept) <= 2147483648.0;
    }
    const bool storedFloat = stored == ComponentType::Float32 || stored == ComponentType::Float64;
    if (identity || storedFloat) {
        choice.identity = identity;
        choice.floating = storedFloat;
        choice.format = {identity ? stored : ComponentType::Float64, 1};
        if (!identity && stored == ComponentType::Float32) {
            choice.format.component = ComponentType::Float32;
        }
        return choice;
    }
    choice.identity = false;
    if (integral) {
        const bool narrow = p.bitsAllocated <= 16;
        choice.format.component = narrow ? (wide ? ComponentType::Int32 : ComponentType::Int16)
                                         : (wide ? ComponentType::Float64 : ComponentType::Int32);
        choice.floating = choice.format.component == ComponentType::Float64;
        return choice;
    }
    choice.floating = true;
    choice.format.component =
        p.bitsAllocated <= 16 ? ComponentType::Float32 : ComponentType::Float64;
    return choice;
}

/// Running minimum, maximum and sum of written values.
struct SliceStats {
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    double sum = 0.0;
    std::size_t count = 0;

    void merge(const SliceStats& o) {
        min = std::min(min, o.min);
        max = std::max(max, o.max);
        sum += o.sum;
        count += o.count;
    }
};

/// Stored grey samples -> output values: BitsStored/HighBit masking, sign extension, rescale.
/// Returns false when an integer output type cannot hold a value (the caller widens).
template <typename S, typename O>
bool convertGrey(const S* in, std::size_t count, const PixelModule& p, const FrameInfo& frame,
                 const OutputChoice& choice, O* out, SliceStats& stats) {
    using U = std::make_unsigned_t<std::conditional_t<std::is_integral_v<S>, S, int>>;
    // Masks exist only for integer samples (float pixel data have no BitsStored).
    const int bits = int(sizeof(U) * 8);
    const int storedBits = std::is_integral_v<S> ? std::min(p.bitsStored, bits) : bits;
    const int shift =
        std::is_integral_v<S> ? std::clamp(p.highBit + 1 - storedBits, 0, bits - 1) : 0;
    const bool masked =
        std::is_integral_v<S> && (storedBits < bits || shift != 0) && p.bitsAllocated != 1;
    const U mask = storedBits >= bits ? U(~U(0)) : U((U(1) << storedBits) - 1);
    const U signBit = U(U(1) << (storedBits - 1));
    const bool isSigned = p.pixelRepresentation == 1;

    const auto stored = [&](std::size_t i) -> long long {
        if constexpr (std::is_integral_v<S>) {
            if (!masked) {
                return (long long)in[i];
            }
            U u = U(U(in[i]) >> shift) & mask;
            if (isSigned && (u & signBit)) {
                return (long long)u - ((long long)mask + 1);
            }
            return (long long)u;
        } else {
            return 0;
        }
    };

    if constexpr (std::is_floating_point_v<S>) {
        double lo = stats.min, hi = stats.max, sum = 0.0;
        for (std::size_t i = 0; i < count; ++i) {
            const double v =
                choice.identity ? double(in[i]) : double(in[i]) * frame.slope + frame.intercept;
            out[i] = O(v);
            lo = std::min(lo, double(out[i]));
            hi = std::max(hi, double(out[i]));
            sum += double(out[i]);
        }
        stats.min = lo;
        stats.max = hi;
        stats.sum += sum;
        stats.count += count;
        return true;
    } else if constexpr (std::is_floating_point_v<O>) {
        double lo = stats.min, hi = stats.max, sum = 0.0;
        for (std::size_t i = 0; i < count; ++i) {
            const double v = choice.identity ? double(stored(i))
                                             : double(stored(i)) * frame.slope + frame.intercept;
            const O o = O(v);
            out[i] = o;
            lo = std::min(lo, double(o));
            hi = std::max(hi, double(o));
            sum += double(o);
        }
        stats.min = lo;
        stats.max = hi;
        stats.sum += sum;
        stats.count += count;
        return true;
    } else {
        // Integer output: exact integer arithmetic, range checked once per slice.
        const long long slope = choice.identity ? 1 : (long long)frame.slope;
        const long long intercept = choice.identity ? 0 : (long long)frame.intercept;
        long long lo = std::numeric_limits<long long>::max();
        long long hi = std::numeric_limits<long long>::min();
        double sum = 0.0; // |v| < 2^48 (see chooseOutput), but a slice of them may not fit
        for (std::size_t i = 0; i < count; ++i) {
            const long long v = stored(i) * slope + intercept;
            out[i] = O(v);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sum += double(v);
        }
        if (count > 0 && (lo < (long long)std::numeric_limits<O>::lowest() ||
                          hi > (long long)std::numeric_limits<O>::max())) {
            return false;
        }
        if (count > 0) {
            stats.min = std::min(stats.min, double(lo));
            stats.max = std::max(stats.max, double(hi));
        }
        stats.sum += sum;
        stats.count += count;
        return true;
    }
}

std::uint8_t clampByte(double v) {
    return std::uint8_t(std::clamp(std::nearbyint(v), 0.0, 255.0));
}

/// Colour samples -> interleaved RGB of the same sample type: planes interleaved, YBR
/// converted (PS3.3 C.7.6.3.1.2), YBR_FULL_422 chroma shared by pixel pairs.
template <typename T>
void convertColour(const T* in, std::size_t pixels, std::size_t columns,
                   const DecodedFrameLayout& layout, T* out, SliceStats& stats) {
    const std::string& model = layout.colourModel;
    if (model == "YBR_FULL_422" && !layout.colourByPlane && sizeof(T) == 1) {
        // Y1 Y2 Cb Cr for each pair of pixels in a row.
        const std::size_t rows = pixels / columns;
        const T* p = in;
        for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t c = 0; c < columns; c += 2) {
                const double y[2] = {double(p[0]), double(p[1])};
                const double cb = double(p[2]) - 128.0;
                const double cr = double(p[3]) - 128.0;
                for (int k = 0; k < 2 && c + std::size_t(k) < columns; ++k) {
                    T* o = out + 3 * (r * columns + c + std::size_t(k));
                    o[0] = T(clampByte(y[k] + 1.402 * cr));
                    o[1] = T(clampByte(y[k] - 0.344136 * cb - 0.714136 * cr));
                    o[2] = T(clampByte(y[k] + 1.772 * cb));
                }
                p += 4;
            }
        }
    } else {
        for (std::size_t i = 0; i < pixels; ++i) {
            T s[3];
            for (int c = 0; c < 3; ++c) {
                s[c] = layout.colourByPlane ? in[std::size_t(c) * pixels + i]
                                            : in[3 * i + std::size_t(c)];
            }
            if (sizeof(T) == 1 && (model == "YBR_FULL" || model == "YBR_FULL_422")) {
                const double y = double(s[0]);
                const double cb = double(s[1]) - 128.0;
                const double cr = double(s[2]) - 128.0;
                s[0] = T(clampByte(y + 1.402 * cr));
                s[1] = T(clampByte(y - 0.344136 * cb - 0.714136 * cr));
                s[2] = T(clampByte(y + 1.772 * cb));
            }
            out[3 * i] = s[0];
            out[3 * i + 1] = s[1];
            out[3 * i + 2] = s[2];
        }
    }
    double lo = stats.min, hi = stats.max, sum = 0.0;
    for (std::size_t i = 0; i < pixels * 3; ++i) {
        const double v = double(out[i]);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        sum += v;
    }
    stats.min = lo;
    stats.max = hi;
    stats.sum += sum;
    stats.count += pixels * 3;
}

/// Decoded frame in `scratch` -> output slice. False when the values overflow the output type.
bool storeFrame(const DicomImage& image, const FrameInfo& frame, const DecodedFrameLayout& layout,
                const void* scratch, const OutputChoice& choice, void* slice, SliceStats& stats) {
    const PixelModule& p = image.pixels;
    const std::size_t pixels = std::size_t(p.rows) * std::size_t(p.columns);
    if (isColour(p)) {
        dispatchComponent(choice.format.component, [&](auto tag) {
            using T = decltype(tag);
            convertColour<T>(static_cast<const T*>(scratch), pixels, std::size_t(p.columns), layout,
                             static_cast<T*>(slice), stats);
        });
        return true;
    }
    const ComponentType stored =
        p.bitsAllocated == 1 ? ComponentType::UInt8 : storedComponent(p, image.pixelDataTag);
    bool fits = true;
    dispatchComponent(stored, [&](auto storedTag) {
        using S = decltype(storedTag);
        dispatchComponent(choice.format.component, [&](auto outTag) {
            using O = decltype(outTag);
            fits = convertGrey<S, O>(static_cast<const S*>(scratch), pixels, p, frame, choice,
                                     static_cast<O*>(slice), stats);
        });
    });
    return fits;
}

/// Middle slice first, then outwards: what a reader looks at first arrives first.
std::vector<std::size_t> middleOutOrder(std::size_t n) {
    std::vector<std::size_t> order;
    order.reserve(n);
    const std::size_t mid = n / 2;
    order.push_back(mid);
    for (std::size_t d = 1; order.size() < n; ++d) {
        if (mid + d < n) {
            order.push_back(mid + d);
        }
        if (d <= mid) {
            order.push_back(mid - d);
        }
    }
    return order;
}

void fillSlice(Volume& volume, std::size_t k, double value) {
    dispatchComponent(volume.format().component, [&](auto tag) {
        using T = decltype(tag);
        T* p = static_cast<T*>(volume.sliceData(k));
        const std::size_t n = volume.sliceBytes() / sizeof(T);
        std::fill(p, p + n, T(value));
    });
}

} // namespace

SeriesLoadResult SeriesLoader::load(const std::vector<std::string>& files,
                                    SeriesLoadObserver* observer) const {
    const Clock::time_point start = Clock::now();
    SeriesLoadObserver noObserver;
    SeriesLoadObserver& watch = observer != nullptr ? *observer : noObserver;
    SeriesLoadResult result;
    if (files.empty()) {
        result.error = "no files to load";
        return result;
    }
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const unsigned threads = m_options.threads > 0 ? unsigned(m_options.threads) : cores;

    // 1. Every header, in parallel.
    std::vector<std::optional<DicomImage>> images(files.size());
    std::vector<std::string> errors(files.size());
    parallelFor(files.size(), threads, [&](std::size_t i) {
        const DicomScanResult scan = DicomHeaderScanner::scan(files[i]);
        if (!scan.ok()) {
            errors[i] = scan.reason;
            return;
        }
        try {
            images[i] = readImage(scan.header, files[i]);
        } catch (const std::exception& e) {
            // DicomValueError for malformed headers; anything else (bad_alloc) is reported too.
            errors[i] = e.what();
        }
    });
    if (!watch.progress(0.02)) {
        result.cancelled = true;
        result.error = "cancelled";
        return result;
    }
    std::vector<std::string> imageWarnings;
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (!errors[i].empty()) {
            result.problems.push_back({files[i], errors[i]});
        } else {
            for (const auto& w : images[i]->warnings) {
                imageWarnings.push_back(files[i] + ": " + w);
            }
        }
    }

    // 2. Projection radiographs are separate images: load the one asked for (default the first
    //    by instance number) and say how many there are.
    std::vector<std::size_t> usable;
    for (std::size_t i = 0; i < images.size(); ++i) {
        if (images[i]) {
            usable.push_back(i);
        }
    }
    if (usable.empty()) {
        result.error =
            result.problems.size() == 1
                ? result.problems.front().path + ": " + result.problems.front().reason
                : "none of the " + std::to_string(files.size()) +
                      " files holds a usable image (first: " + result.problems.front().path + ": " +
                      result.problems.front().reason + ")";
        return result;
    }
    std::stable_sort(usable.begin(), usable.end(), [&](std::size_t a, std::size_t b) {
        return std::tie(images[a]->identity.instanceNumber, images[a]->path) <
               std::tie(images[b]->identity.instanceNumber, images[b]->path);
    });
    std::string projectionNote;
    if (isProjectionModality(images[usable.front()]->identity.modality) && usable.size() > 1) {
        const int wanted = m_options.instance < 0 ? 0 : m_options.instance;
        if (wanted >= int(usable.size())) {
            result.error = "the series holds " + std::to_string(usable.size()) +
                           " images; there is no image " + std::to_string(wanted + 1);
            return result;
        }
        projectionNote = "this series holds " + std::to_string(usable.size()) +
                         " projection images; image " + std::to_string(wanted + 1) +
                         " is shown (views are not stacked)";
        usable = {usable[std::size_t(wanted)]};
    } else if (m_options.instance >= 0) {
        if (m_options.instance >= int(usable.size())) {
            result.error = "the series holds " + std::to_string(usable.size()) +
                           " images; there is no image " + std::to_string(m_options.instance + 1);
            return result;
        }
        usable = {usable[std::size_t(m_options.instance)]};
    }

    // 3. Frames that fit together form groups (clustered with tolerances, so float noise in
    //    the headers does not split a series); the largest group is the volume.
    struct Group {
        FrameRef representative;
        std::vector<FrameRef> members;
    };
    std::vector<Group> groups;
    for (std::size_t i : usable) {
        for (int f = 0; f < images[i]->pixels.frames; ++f) {
            const FrameInfo& info = images[i]->frames[std::size_t(f)];
            Group* home = nullptr;
            for (Group& g : groups) {
                const DicomImage& rep = *images[g.representative.image];
                if (mismatchReason(*images[i], info, rep,
                                   rep.frames[std::size_t(g.representative.frame)])
                        .empty()) {
                    home = &g;
                    break;
                }
            }
            if (home == nullptr) {
                groups.push_back({{i, f}, {}});
                home = &groups.back();
            }
            home->members.push_back({i, f});
        }
    }
    const auto largest =
        std::max_element(groups.begin(), groups.end(), [](const Group& a, const Group& b) {
            return a.members.size() < b.members.size();
        });
    std::vector<FrameRef> frames = largest->members;
    const FrameRef reference = largest->representative;
    const DicomImage& referenceImage = *images[reference.image];
    const FrameInfo& referenceFrame = referenceImage.frames[std::size_t(reference.frame)];
    for (const Group& g : groups) {
        if (&g == &*largest) {
            continue;
        }
        std::map<std::size_t, int> firstFrame; // per file, its first frame in this group
        for (const FrameRef& f : g.members) {
            firstFrame.emplace(f.image, f.frame);
        }
        for (const auto& [imageIndex, frame] : firstFrame) {
            result.problems.push_back(
                {files[imageIndex],
                 mismatchReason(*images[imageIndex], images[imageIndex]->frames[std::size_t(frame)],
                                referenceImage, referenceFrame)});
        }
    }
    const auto frameInfo = [&](const FrameRef& f) -> const FrameInfo& {
        return images[f.image]->frames[std::size_t(f.frame)];
    };
    // Stable base order: instance number, file, frame; sorting by position refines it.
    std::stable_sort(frames.begin(), frames.end(), [&](const FrameRef& a, const FrameRef& b) {
        const DicomImage& ia = *images[a.image];
        const DicomImage& ib = *images[b.image];
        return std::tie(ia.identity.instanceNumber, ia.path, a.frame) <
               std::tie(ib.identity.instanceNumber, ib.path, b.frame);
    });

    // 4. Geometry: sort along the normal when every frame has a position.
    const DicomImage& first = *images[frames.front().image];
    const FrameInfo& firstInfo = frameInfo(frames.front());
    const double columnSpacing = firstInfo.columnSpacing.value_or(1.0);
    const double rowSpacing = firstInfo.rowSpacing.value_or(1.0);
    bool positioned = firstInfo.rowDirection.has_value();
    for (const FrameRef& f : frames) {
        positioned = positioned && frameInfo(f).position.has_value();
    }
    std::vector<FrameRef> ordered;
    StackAnalysis stack;
    if (positioned) {
        std::vector<Vec3> positions;
        for (const FrameRef& f : frames) {
            positions.push_back(*frameInfo(f).position);
        }
        stack = analyseStack(positions, *firstInfo.rowDirection, *firstInfo.columnDirection,
                             std::min(columnSpacing, rowSpacing));
        for (std::size_t idx : stack.order) {
            ordered.push_back(frames[idx]);
        }
    } else {
        ordered.assign(frames.begin(), frames.end());
    }
    const std::size_t depth = ordered.size();
    result.timing.headers = secondsSince(start);

    // 5. Output type and the one allocation.
    std::vector<const DicomImage*> groupImages;
    std::vector<const FrameInfo*> groupFrames;
    for (const FrameRef& f : ordered) {
        groupImages.push_back(&*images[f.image]);
        groupFrames.push_back(&frameInfo(f));
    }
    const PixelModule& pm = first.pixels;
    const std::array<std::size_t, 3> size{std::size_t(pm.columns), std::size_t(pm.rows), depth};

    const auto makeVolume = [&](const OutputChoice& choice) {
        auto volume = std::make_shared<Volume>(choice.format, size);
        volume->spacing = {columnSpacing, rowSpacing, 1.0};
        volume->seriesInstanceUid = first.identity.seriesInstanceUid;
        volume->description = first.identity.seriesDescription;
        volume->modality = first.identity.modality;
        volume->patientName = first.identity.patientName;
        volume->patientId = first.identity.patientId;
        volume->patientBirthDate = first.identity.patientBirthDate;
        volume->patientSex = first.identity.patientSex;
        volume->studyInstanceUid = first.identity.studyInstanceUid;
        volume->studyDescription = first.identity.studyDescription;
        volume->studyDate = first.identity.studyDate;
        volume->seriesNumber = first.identity.seriesNumber;
        for (const FrameRef& f : ordered) {
            volume->sliceFiles.push_back(images[f.image]->path);
            volume->sliceFrames.push_back(f.frame);
        }
        volume->pixelSpacingSource =
            firstInfo.rowSpacing ? first.pixelSpacingSource : "none (1 mm assumed)";
        if (isColour(pm)) {
            volume->photometric = Photometric::Rgb;
        } else {
            volume->photometric = pm.photometric == "MONOCHROME1" ? Photometric::Monochrome1
                                                                  : Photometric::Monochrome2;
        }
        if (volume->modality == "CT" && (first.rescaleType.empty() || first.rescaleType == "HU")) {
            volume->units = "HU";
        }
        const FrameInfo& middle = frameInfo(ordered[depth / 2]);
        volume->windows = middle.windows;
        if (positioned) {
            volume->direction = {*firstInfo.rowDirection, *firstInfo.columnDirection, stack.normal};
            volume->origin = *frameInfo(ordered.front()).position;
            volume->spacing.z =
                depth > 1 ? stack.meanSpacing
                          : first.spacingBetweenSlices.value_or(first.sliceThickness.value_or(1.0));
            volume->geometry = stack.report;
            for (const FrameRef& f : ordered) {
                volume->slicePositions.push_back(*frameInfo(f).position);
            }
        } else {
            if (firstInfo.rowDirection) {
                volume->direction = {
                    *firstInfo.rowDirection, *firstInfo.columnDirection,
                    normalized(cross(*firstInfo.rowDirection, *firstInfo.columnDirection))};
            }
            if (firstInfo.position) {
                volume->origin = *firstInfo.position;
            }
            volume->spacing.z =
                first.spacingBetweenSlices.value_or(first.sliceThickness.value_or(1.0));
        }
        if (!(volume->spacing.z > 0.0) || !std::isfinite(volume->spacing.z)) {
            volume->spacing.z = 1.0;
        }
        return volume;
    };

    OutputChoice choice = chooseOutput(groupImages, groupFrames, false);
    // What the headers declare is checked against the memory there is before anything is
    // allocated: a hostile or broken header must not take the workstation down.
    const std::uint64_t memoryLimit = m_options.memoryLimitBytes != 0
                                          ? m_options.memoryLimitBytes
                                          : availableMemoryBytes() / 10 * 9;
    {
        // The wider type a retry may need, so that the retry cannot fail where this passed.
        const std::uint64_t voxels = std::uint64_t(size[0]) * size[1] * size[2];
        const std::uint64_t bytes =
            voxels * std::max<std::uint64_t>(choice.format.bytesPerPixel(), 4 * pm.samplesPerPixel);
        const std::uint64_t frameBytes = FrameDecoder::decodedFrameBytes(first);
        if (memoryLimit != 0 && (bytes > memoryLimit || frameBytes > memoryLimit)) {
            result.error = "series " + first.identity.seriesInstanceUid + " (" + first.path + ", " +
                           std::to_string(pm.columns) + " x " + std::to_string(pm.rows) + " x " +
                           std::to_string(depth) + ") needs " + byteText(bytes) +
                           " of memory but only " + byteText(memoryLimit) +
                           " can be used now; it was not loaded";
            return result;
        }
    }
    std::shared_ptr<Volume> volume;
    try {
        volume = makeVolume(choice);
    } catch (const std::exception& e) {
        result.error = e.what();
        return result;
    }

    // 6. Decode, middle slice first, on every core. Each file's decoding time is counted
    // against the budget.
    struct TimeBudget {
        double limit;
        std::mutex mutex;
        std::map<std::string, double> seconds;
        double spent(const std::string& path) {
            std::lock_guard<std::mutex> lock(mutex);
            const auto it = seconds.find(path);
            return it == seconds.end() ? 0.0 : it->second;
        }
        double add(const std::string& path, double s) {
            std::lock_guard<std::mutex> lock(mutex);
            return seconds[path] += s;
        }
        std::string refusal(const std::string& path) const {
            char text[64];
            std::snprintf(text, sizeof text, "%.0f", limit);
            return path + ": decoding took longer than the budget of " + text +
                   " s per file; the frame was refused";
        }
    } budget{m_options.fileTimeBudgetSeconds, {}, {}};
    std::vector<std::size_t> priority = middleOutOrder(depth);
    std::mutex mutex;
    std::vector<std::string> sliceErrors(depth);
    std::atomic<bool> overflow{false};
    std::atomic<bool> stop{false};
    std::atomic<bool> firstDone{false};
    std::atomic<std::size_t> decoded{0};
    SliceStats total;
    const auto decodeAll = [&](std::shared_ptr<Volume> target, const OutputChoice& how) {
        std::atomic<std::size_t> next{0};
        const auto work = [&](bool reporter) {
            FrameDecoder decoder;
            std::vector<char> scratch(FrameDecoder::decodedFrameBytes(first) + 16);
            SliceStats mine;
            for (std::size_t slot = next++; slot < depth && !stop; slot = next++) {
                const std::size_t k = priority[slot];
                const FrameRef& ref = ordered[k];
                const DicomImage& image = *images[ref.image];
                bool ok = false;
                try {
                    const std::uint64_t frameBytes = FrameDecoder::decodedFrameBytes(image);
                    if (memoryLimit != 0 && frameBytes > memoryLimit) {
                        throw std::runtime_error(
                            image.path + ": a frame declares " + byteText(frameBytes) +
                            " of pixels, more than the " + byteText(memoryLimit) +
                            " that can be used now; it was not decoded");
                    }
                    if (budget.spent(image.path) > m_options.fileTimeBudgetSeconds &&
                        m_options.fileTimeBudgetSeconds > 0) {
                        throw std::runtime_error(budget.refusal(image.path));
                    }
                    if (scratch.size() < frameBytes + 1) {
                        scratch.resize(frameBytes + 1);
                    }
                    const auto frameStart = Clock::now();
                    const DecodedFrameLayout layout =
                        decoder.decode(image, ref.frame, scratch.data());
                    if (budget.add(image.path, secondsSince(frameStart)) >
                            m_options.fileTimeBudgetSeconds &&
                        m_options.fileTimeBudgetSeconds > 0) {
                        throw std::runtime_error(budget.refusal(image.path));
                    }
                    if (!storeFrame(image, frameInfo(ref), layout, scratch.data(), how,
                                    target->sliceData(k), mine)) {
                        overflow = true;
                        stop = true;
                        break;
                    }
                    ok = true;
                } catch (const std::exception& e) {
                    sliceErrors[k] = e.what();
                } catch (...) {
                    sliceErrors[k] = image.path + ": the decoder failed";
                }
                if (ok) {
                    if (!firstDone.exchange(true)) {
                        result.timing.firstSlice = secondsSince(start);
                    }
                    watch.sliceDecoded(k);
                } else {
                    watch.sliceFailed(k, sliceErrors[k]);
                }
                const std::size_t n = ++decoded;
                if (reporter && !watch.progress(0.05 + 0.95 * double(n) / double(depth))) {
                    stop = true;
                    result.cancelled = true;
                }
            }
            std::lock_guard<std::mutex> lock(mutex);
            total.merge(mine);
        };
        std::vector<std::thread> helpers;
        const unsigned count = unsigned(std::min<std::size_t>(threads, depth));
        if (m_options.lowPriority) {
            // Background loads yield the cores to the thread that draws what the reader sees:
            // every decoder is a fresh thread at nice +10 (the caller's thread keeps its
            // priority; an unprivileged thread could not get it back).
            for (unsigned t = 0; t < count; ++t) {
                helpers.emplace_back([&work, t] {
                    setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), 10);
                    work(t == 0);
                });
            }
        } else {
            for (unsigned t = 1; t < count; ++t) {
                helpers.emplace_back(work, false);
            }
            work(true);
        }
        for (auto& helper : helpers) {
            helper.join();
        }
    };

    if (!watch.progress(0.05)) {
        result.cancelled = true;
        return result;
    }
    watch.volumeStarted(volume);
    decodeAll(volume, choice);
    if (overflow && !result.cancelled) {
        // Values did not fit the narrow type: decode again into the wider one.
        choice = chooseOutput(groupImages, groupFrames, true);
        try {
            volume = makeVolume(choice);
        } catch (const std::exception& e) {
            result.error = e.what();
            return result;
        }
        overflow = false;
        stop = false;
        decoded = 0;
        total = SliceStats{};
        std::fill(sliceErrors.begin(), sliceErrors.end(), std::string());
        watch.volumeStarted(volume);
        decodeAll(volume, choice);
    }
    if (result.cancelled) {
        result.error = "cancelled";
        return result;
    }

    // 7. Slices that failed are reported and shown as the darkest value, not as zeros.
    std::size_t failed = 0;
    for (std::size_t k = 0; k < depth; ++k) {
        if (!sliceErrors[k].empty()) {
            ++failed;
            result.problems.push_back({images[ordered[k].image]->path, sliceErrors[k]});
        }
    }
    if (failed == depth) {
        result.error = sliceErrors.front();
        return result;
    }
    volume->statistics.min = total.min;
    volume->statistics.max = total.max;
    volume->statistics.count = total.count;
    volume->statistics.mean = total.count ? total.sum / double(total.count) : 0.0;
    if (failed > 0) {
        // The value shown darkest: the minimum, or the maximum for MONOCHROME1.
        const double darkest =
            volume->photometric == Photometric::Monochrome1 ? total.max : total.min;
        for (std::size_t k = 0; k < depth; ++k) {
            if (!sliceErrors[k].empty()) {
                fillSlice(*volume, k, darkest);
            }
        }
        volume->statistics = computeStatistics(*volume);
        volume->warnings.push_back(std::to_string(failed) + " of " + std::to_string(depth) +
                                   " slices could not be decoded and are blank");
    }

    // 8. Warnings a reader must see.
    if (!projectionNote.empty()) {
        volume->warnings.push_back(projectionNote);
    }
    for (const auto& w : stack.warnings) {
        volume->warnings.push_back(w);
    }
    if (first.gantryTilt && std::abs(*first.gantryTilt) > 0.01) {
        char text[128];
        std::snprintf(text, sizeof text, "GantryDetectorTilt in the file: %.2f degrees",
                      *first.gantryTilt);
        volume->warnings.push_back(text);
    }
    if (!firstInfo.rowSpacing) {
        volume->warnings.push_back("no pixel spacing in the file: 1 mm assumed, distances are "
                                   "not in true millimetres");
    } else if (first.pixelSpacingSource.rfind("ImagerPixelSpacing", 0) == 0) {
        volume->warnings.push_back("pixel spacing is at the detector (ImagerPixelSpacing): "
                                   "distances include the X-ray magnification");
    }
    if (!positioned && depth > 1) {
        volume->warnings.push_back("slices have no positions in the files: shown in instance "
                                   "order, distances between slices unknown");
    }
    const std::size_t excluded = result.problems.size();
    if (excluded > 0) {
        volume->warnings.push_back(std::to_string(excluded) +
                                   " file(s) left out or damaged; see problems");
    }
    for (const auto& w : imageWarnings) {
        volume->warnings.push_back(w);
    }

    if (m_options.resample && positioned && depth > 1 &&
        (volume->geometry.tilted || volume->geometry.irregular)) {
        try {
            volume = GridResampler(m_options.resampleSpacing).resample(*volume);
            volume->warnings.push_back("resampled onto a regular grid of " +
                                       std::to_string(volume->size()[2]) + " slices");
        } catch (const std::exception& e) {
            volume->warnings.push_back(std::string("not resampled: ") + e.what());
        }
    }
    watch.progress(1.0);
    result.volume = std::move(volume);
    result.timing.total = secondsSince(start);
    return result;
}

} // namespace radiolens
