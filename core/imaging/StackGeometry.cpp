#include "core/imaging/StackGeometry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

namespace radiolens {

namespace {

std::string format(const char* pattern, double a, double b = 0.0, double c = 0.0) {
    char text[256];
    std::snprintf(text, sizeof text, pattern, a, b, c);
    return text;
}

} // namespace

StackAnalysis analyseStack(const std::vector<Vec3>& positions, const Vec3& row, const Vec3& column,
                           double pixelSpacing) {
    StackAnalysis out;
    out.normal = normalized(cross(row, column));
    out.report.hasPatientGeometry = true;
    const std::size_t n = positions.size();
    std::vector<double> depth(n);
    for (std::size_t i = 0; i < n; ++i) {
        depth[i] = dot(positions[i], out.normal);
    }
    std::vector<std::size_t> sorted(n);
    std::iota(sorted.begin(), sorted.end(), std::size_t(0));
    // Stable: among repeated positions the earlier input (lower instance/frame) comes first.
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](std::size_t a, std::size_t b) { return depth[a] < depth[b]; });
    constexpr double kSamePosition = 1e-3; // mm
    for (std::size_t idx : sorted) {
        if (!out.order.empty() && depth[idx] - depth[out.order.back()] < kSamePosition) {
            out.repeated.push_back(idx);
        } else {
            out.order.push_back(idx);
        }
    }
    if (!out.repeated.empty()) {
        out.warnings.push_back(std::to_string(out.repeated.size()) +
                               " slices repeat positions of others (several phases or echoes "
                               "in one series); the first at each position is used");
    }
    const std::size_t m = out.order.size();
    if (m < 2) {
        return out;
    }

    // Gaps between consecutive planes along the normal.
    GeometryReport& report = out.report;
    for (std::size_t k = 1; k < m; ++k) {
        report.gaps.push_back(depth[out.order[k]] - depth[out.order[k - 1]]);
        report.steps.push_back(norm(positions[out.order[k]] - positions[out.order[k - 1]]));
    }
    report.minGap = *std::min_element(report.gaps.begin(), report.gaps.end());
    report.maxGap = *std::max_element(report.gaps.begin(), report.gaps.end());
    out.meanSpacing = (depth[out.order.back()] - depth[out.order.front()]) / double(m - 1);
    // Nominal gap: the most common one (to 0.01 mm); ties go to the smaller.
    std::map<long long, int> counts;
    for (double g : report.gaps) {
        ++counts[std::llround(g * 100.0)];
    }
    const auto mode =
        std::max_element(counts.begin(), counts.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    report.nominalGap = double(mode->first) / 100.0;
    const double tolerance = std::max(0.01, 0.01 * report.nominalGap);
    report.irregular = report.maxGap - report.minGap > tolerance;
    for (std::size_t k = 0; k + 1 < m; ++k) {
        if (report.nominalGap > 0.0 && report.gaps[k] > 1.9 * report.nominalGap) {
            report.missingAfter.push_back(int(k));
        }
    }

    // Tilt: the stack runs from the first slice to the last; compare with the normal.
    const Vec3 along = positions[out.order.back()] - positions[out.order.front()];
    const double angle = angleDegrees(along, out.normal);
    report.tiltDegrees = std::min(angle, 180.0 - angle);
    double shear = 0.0; // largest in-plane offset of a slice from the first (mm)
    const Vec3 first = positions[out.order.front()];
    for (std::size_t idx : out.order) {
        const Vec3 d = positions[idx] - first;
        shear = std::max(shear, std::hypot(dot(d, normalized(row)), dot(d, normalized(column))));
    }
    report.tilted = report.tiltDegrees > 0.01 && shear > 0.5 * pixelSpacing;

    if (report.tilted) {
        out.warnings.push_back(format(
            "gantry tilt: the slices are sheared by %.2f degrees (%.1f mm across the stack); each "
            "slice's position is exact, the regular grid is not - resample for a true grid",
            report.tiltDegrees, shear));
    }
    if (report.irregular) {
        out.warnings.push_back(format("irregular slice spacing: gaps from %.3f to %.3f mm "
                                      "(nominal %.3f mm)",
                                      report.minGap, report.maxGap, report.nominalGap));
    }
    for (int k : report.missingAfter) {
        const double gap = report.gaps[std::size_t(k)];
        out.warnings.push_back(
            format("gap of %.2f mm after slice %.0f where spacing is %.2f mm: slices missing?", gap,
                   double(k + 1), report.nominalGap));
    }
    return out;
}

} // namespace radiolens
