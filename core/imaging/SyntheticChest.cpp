#include "core/imaging/SyntheticChest.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace radiolens {

namespace {

std::uint64_t splitMix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/// Deterministic uniform numbers for one case.
class CaseRandom {
public:
    explicit CaseRandom(std::uint64_t seed)
        : m_state(splitMix64(seed ^ 0xC4E57C4E57ULL)) {}
    double uniform(double low, double high) {
        m_state = splitMix64(m_state);
        return low + (high - low) * double(m_state >> 11) / double(1ULL << 53);
    }

private:
    std::uint64_t m_state;
};

/// Normal noise for pixel `index` of case `seed` (Box-Muller on two hashed uniforms).
double pixelNoise(std::uint64_t seed, std::uint64_t index) {
    const std::uint64_t a = splitMix64(seed * 0x9E3779B97F4A7C15ULL + index);
    const std::uint64_t b = splitMix64(a);
    const double u1 = (double(a >> 11) + 0.5) / double(1ULL << 53);
    const double u2 = double(b >> 11) / double(1ULL << 53);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

/// Projected thickness of an ellipsoid seen along its third axis: sqrt(1 - r^2), 0 outside.
double dome(double dx, double dy, double ax, double ay) {
    const double r2 = (dx * dx) / (ax * ax) + (dy * dy) / (ay * ay);
    return r2 < 1.0 ? std::sqrt(1.0 - r2) : 0.0;
}

/// A smooth band of half-width `w` around distance 0 (a rib or clavicle seen edge-on).
double band(double distance, double w) {
    const double t = distance / w;
    return t * t < 1.0 ? std::sqrt(1.0 - t * t) : 0.0;
}

/// The anatomy of one case in normalised coordinates: x from -1 (image left, the patient's
/// right) to 1, y from -1 (top) to 1.
struct Anatomy {
    double cx, cy, rotation;           ///< patient position on the detector
    double bodyWidth, bodyHeight;      ///< semi-axes of the trunk
    double lungX, lungY, lungW, lungH; ///< right lung centre offset and semi-axes (mirrored)
    double leftLungScale;              ///< the left lung is a little smaller (the heart)
    double domeRight, domeLeft;        ///< diaphragm dome heights
    double heartX, heartY, heartW, heartH;
    double ribSpacing, ribCurve, ribPhase;
    double exposure, offset; ///< detector response
    double noduleX, noduleY, noduleR, noduleContrast;
};

/// Distance-like lung membership: < 1 inside the lung whose centre is (lx, ly).
double lungLevel(double x, double y, double lx, double ly, double w, double h, double domeHeight) {
    const double dx = (x - lx) / w;
    double dy = (y - ly) / h;
    // Domed base: the lower border rises towards the middle (diaphragm), the top is rounded.
    if (dy > 0.0) {
        dy *= 1.0 + domeHeight * (1.0 - std::min(1.0, std::abs(dx)));
    }
    return dx * dx + dy * dy;
}

/// Projected density (arbitrary units, about 0..1.6) at normalised point (x, y).
double density(const Anatomy& a, double x, double y, bool nodule) {
    // Into the patient's frame: shift and rotate.
    const double c = std::cos(a.rotation), s = std::sin(a.rotation);
    const double px = c * (x - a.cx) + s * (y - a.cy);
    const double py = -s * (x - a.cx) + c * (y - a.cy);

    const double body = dome(px, py - 0.1, a.bodyWidth, a.bodyHeight);
    if (body <= 0.0) {
        return 0.0;
    }
    double d = 0.75 * body;
    // Spine and mediastinum: a dense central column.
    d += 0.28 * band(px, 0.12) * (py > -0.9 ? 1.0 : 0.0);
    d += 0.10 * band(px, 0.06) * (0.5 + 0.5 * std::cos(py * 38.0));
    // Lungs: air replaces tissue.
    const double right = lungLevel(px, py, -a.lungX, a.lungY, a.lungW, a.lungH, a.domeRight);
    const double lw = a.lungW * a.leftLungScale;
    const double left =
        lungLevel(px, py, a.lungX + (a.lungW - lw) * 0.5, a.lungY, lw, a.lungH, a.domeLeft);
    const double lung = std::max(right < 1.0 ? std::sqrt(1.0 - right) : 0.0,
                                 left < 1.0 ? std::sqrt(1.0 - left) : 0.0);
    d -= 0.55 * std::pow(lung, 0.6);
    // Vessels fanning out from the hila: faint lung markings.
    if (lung > 0.0) {
        const double hx = px < 0.0 ? -0.18 : 0.18;
        const double angle = std::atan2(py - 0.0, px - hx);
        const double r = std::hypot(px - hx, py);
        d += 0.05 * lung * std::max(0.0, std::cos(angle * 9.0 + a.ribPhase)) * std::exp(-r * 2.2);
    }
    // Heart: on the patient's left (image right), over the medial left lung.
    d += 0.26 * dome(px - a.heartX, py - a.heartY, a.heartW, a.heartH);
    // Posterior ribs: curved bands across each hemithorax.
    if (std::abs(px) > 0.08 && py > -0.9 && py < 0.55) {
        const double ax = std::abs(px);
        const double curved = py - a.ribCurve * (ax - 0.15) * (ax - 0.15) + 0.25 * ax;
        const double phase = (curved + a.ribPhase * 0.05) / a.ribSpacing;
        const double nearest = std::round(phase);
        const double distance = (phase - nearest) * a.ribSpacing;
        d += 0.15 * band(distance, 0.026) * std::min(1.0, body * 2.5) *
             (ax < a.bodyWidth * 0.92 ? 1.0 : 0.0);
    }
    // Clavicles.
    for (double side : {-1.0, 1.0}) {
        const double t = std::clamp((side * px - 0.12) / 0.55, 0.0, 1.0);
        const double cyLine = -0.66 - 0.10 * t + 0.08 * t * t;
        if (side * px > 0.1 && side * px < 0.7) {
            d += 0.30 * band(py - cyLine, 0.035);
        }
    }
    if (nodule) {
        d += a.noduleContrast * dome(x - a.noduleX, y - a.noduleY, a.noduleR, a.noduleR);
    }
    return d;
}

Anatomy drawAnatomy(std::uint64_t seed, bool withNodule) {
    CaseRandom r(seed);
    Anatomy a{};
    a.cx = r.uniform(-0.04, 0.04);
    a.cy = r.uniform(-0.04, 0.04);
    a.rotation = r.uniform(-0.05, 0.05);
    a.bodyWidth = r.uniform(0.80, 0.95);
    a.bodyHeight = r.uniform(1.05, 1.25);
    a.lungX = r.uniform(0.36, 0.44);
    a.lungY = r.uniform(-0.22, -0.12);
    a.lungW = r.uniform(0.24, 0.30);
    a.lungH = r.uniform(0.58, 0.68);
    a.leftLungScale = r.uniform(0.88, 0.98);
    a.domeRight = r.uniform(0.2, 0.6);
    a.domeLeft = r.uniform(0.2, 0.6);
    a.heartX = r.uniform(0.12, 0.2);
    a.heartY = r.uniform(0.22, 0.32);
    a.heartW = r.uniform(0.30, 0.38);
    a.heartH = r.uniform(0.24, 0.30);
    a.ribSpacing = r.uniform(0.15, 0.18);
    a.ribCurve = r.uniform(0.8, 1.4);
    a.ribPhase = r.uniform(0.0, 6.28);
    a.exposure = r.uniform(0.85, 1.15);
    a.offset = r.uniform(-0.05, 0.05);
    // Nodule: radius 9-15 mm, wholly inside a lung field (checked on the lung shape, away from
    // the heart), faint to moderate contrast.
    a.noduleR = r.uniform(9.0, 15.0) / (kSyntheticChestFieldMm / 2.0);
    a.noduleContrast = r.uniform(0.16, 0.28);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        const double side = r.uniform(0.0, 1.0) < 0.5 ? -1.0 : 1.0;
        const double x = side * r.uniform(0.2, 0.75);
        const double y = r.uniform(-0.75, 0.45);
        // Into the patient's frame, then check the whole circle is in the lung.
        bool inside = true;
        for (int k = 0; k < 16 && inside; ++k) {
            const double angle = k * 6.283185307179586 / 16.0;
            const double qx = x + a.noduleR * 1.2 * std::cos(angle);
            const double qy = y + a.noduleR * 1.2 * std::sin(angle);
            const double c = std::cos(a.rotation), s = std::sin(a.rotation);
            const double px = c * (qx - a.cx) + s * (qy - a.cy);
            const double py = -s * (qx - a.cx) + c * (qy - a.cy);
            const double lw = a.lungW * a.leftLungScale;
            const double level =
                side < 0.0 ? lungLevel(px, py, -a.lungX, a.lungY, a.lungW, a.lungH, a.domeRight)
                           : lungLevel(px, py, a.lungX + (a.lungW - lw) * 0.5, a.lungY, lw, a.lungH,
                                       a.domeLeft);
            inside = level < 0.8 && dome(px - a.heartX, py - a.heartY, a.heartW, a.heartH) <= 0.0;
        }
        if (inside) {
            a.noduleX = x;
            a.noduleY = y;
            break;
        }
    }
    if (withNodule && a.noduleX == 0.0 && a.noduleY == 0.0) {
        throw std::logic_error("syntheticChest: no place for a nodule");
    }
    return a;
}

} // namespace

bool SyntheticChest::insideNodule(int column, int row) const {
    if (!hasNodule) {
        return false;
    }
    const double dx = column + 0.5 - noduleColumn;
    const double dy = row + 0.5 - noduleRow;
    return dx * dx + dy * dy <= noduleRadius * noduleRadius;
}

SyntheticChest syntheticChest(int size, std::uint64_t seed, bool withNodule) {
    if (size < 16 || size > 4096) {
        throw std::invalid_argument("syntheticChest: size must be 16-4096 pixels");
    }
    const Anatomy a = drawAnatomy(seed, withNodule);
    SyntheticChest chest;
    chest.size = size;
    chest.pixelSpacingMm = kSyntheticChestFieldMm / size;
    chest.hasNodule = withNodule;
    if (withNodule) {
        chest.noduleColumn = (a.noduleX + 1.0) * 0.5 * size;
        chest.noduleRow = (a.noduleY + 1.0) * 0.5 * size;
        chest.noduleRadius = a.noduleR * 0.5 * size;
    }
    chest.stored.resize(std::size_t(size) * std::size_t(size));
    // Detector noise of 1.2 % of the range at 512 pixels; averaging over bigger pixels lowers it
    // as it would on a binned detector.
    const double noise = 0.012 * 4095.0 * (size / 512.0);
    const double step = 2.0 / size;
    for (int row = 0; row < size; ++row) {
        for (int column = 0; column < size; ++column) {
            double sum = 0.0;
            for (int sy = 0; sy < 2; ++sy) {
                for (int sx = 0; sx < 2; ++sx) {
                    const double x = -1.0 + (column + 0.25 + 0.5 * sx) * step;
                    const double y = -1.0 + (row + 0.25 + 0.5 * sy) * step;
                    sum += density(a, x, y, withNodule);
                }
            }
            const std::size_t index = std::size_t(row) * std::size_t(size) + std::size_t(column);
            const double value = (0.08 + a.offset + a.exposure * 0.25 * sum * 0.62) * 4095.0 +
                                 noise * pixelNoise(seed, index);
            chest.stored[index] = std::uint16_t(std::clamp(std::lround(value), 0L, 4095L));
        }
    }
    return chest;
}

std::vector<std::uint8_t> chestDisplayPixels(const SyntheticChest& chest) {
    // As the viewer's renderer maps a window: (value - low) * 255 / width, rounded.
    const double low = kSyntheticChestWindowCenter - kSyntheticChestWindowWidth / 2.0;
    const double gain = 255.0 / kSyntheticChestWindowWidth;
    std::vector<std::uint8_t> out(chest.stored.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        const double g = std::clamp((double(chest.stored[i]) - low) * gain, 0.0, 255.0);
        out[i] = std::uint8_t(g + 0.5);
    }
    return out;
}

} // namespace radiolens
