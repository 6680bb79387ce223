#include "core/domain/Geometry.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace radiolens {

Vec3 normalized(const Vec3& a) {
    const double n = norm(a);
    return n > 0.0 ? a * (1.0 / n) : Vec3{};
}

double angleDegrees(const Vec3& a, const Vec3& b) {
    const double na = norm(a);
    const double nb = norm(b);
    if (na == 0.0 || nb == 0.0) {
        return 0.0;
    }
    const double c = std::clamp(dot(a, b) / (na * nb), -1.0, 1.0);
    return std::acos(c) * 180.0 / M_PI;
}

std::string orientationLetters(const Vec3& v) {
    const double n = norm(v);
    if (n == 0.0) {
        return {};
    }
    std::vector<std::pair<double, char>> parts = {
        {std::abs(v.x) / n, v.x > 0 ? 'L' : 'R'},
        {std::abs(v.y) / n, v.y > 0 ? 'P' : 'A'},
        {std::abs(v.z) / n, v.z > 0 ? 'H' : 'F'},
    };
    std::stable_sort(parts.begin(), parts.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::string out;
    for (const auto& [weight, letter] : parts) {
        if (weight >= 0.3) {
            out += letter;
        }
    }
    return out;
}

bool directionFromLetters(const std::string& letters, Vec3& out) {
    Vec3 v;
    bool any = false;
    for (char c : letters) {
        switch (c) {
        case 'L':
            v.x += 1;
            any = true;
            break;
        case 'R':
            v.x -= 1;
            any = true;
            break;
        case 'P':
            v.y += 1;
            any = true;
            break;
        case 'A':
            v.y -= 1;
            any = true;
            break;
        case 'H':
            v.z += 1;
            any = true;
            break;
        case 'F':
            v.z -= 1;
            any = true;
            break;
        default:
            break;
        }
    }
    if (!any || norm(v) == 0.0) {
        return false;
    }
    out = normalized(v);
    return true;
}

} // namespace radiolens
