#include "core/domain/ClockTime.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace radiolens {

namespace {

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil).
long daysFromCivil(long y, unsigned m, unsigned d) {
    y -= m <= 2;
    const long era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = unsigned(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + long(doe) - 719468;
}

} // namespace

bool parseIsoDateTime(const std::string& text, double& hours) {
    int y = 0;
    int mo = 0;
    int d = 0;
    int consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) != 3 || consumed != 10 ||
        mo < 1 || mo > 12 || d < 1 || d > 31) {
        return false;
    }
    hours = double(daysFromCivil(y, unsigned(mo), unsigned(d))) * 24.0;
    std::string rest = text.substr(10);
    if (rest.empty()) {
        return true;
    }
    if (rest[0] != 'T' && rest[0] != ' ') {
        return false;
    }
    int h = 0;
    int mi = 0;
    double s = 0.0;
    consumed = 0;
    if (std::sscanf(rest.c_str() + 1, "%2d:%2d%n", &h, &mi, &consumed) != 2 || consumed != 5 ||
        h > 23 || mi > 59) {
        return false;
    }
    rest = rest.substr(6);
    if (!rest.empty() && rest[0] == ':') {
        char* end = nullptr;
        s = std::strtod(rest.c_str() + 1, &end);
        if (end == rest.c_str() + 1 || s < 0 || s >= 61) {
            return false;
        }
        rest = end;
    }
    hours += h + mi / 60.0 + s / 3600.0;
    if (rest.empty() || rest == "Z") {
        return true;
    }
    int oh = 0;
    int om = 0;
    if ((rest[0] != '+' && rest[0] != '-') ||
        std::sscanf(rest.c_str() + 1, "%2d:%2d%n", &oh, &om, &consumed) != 2 || rest.size() != 6) {
        return false;
    }
    // Local time = UTC + offset.
    hours -= (rest[0] == '+' ? 1.0 : -1.0) * (oh + om / 60.0);
    return true;
}

bool parseDicomDateTime(const std::string& date, const std::string& time, double& hours) {
    int y = 0;
    int mo = 0;
    int d = 0;
    if (date.size() != 8 || std::sscanf(date.c_str(), "%4d%2d%2d", &y, &mo, &d) != 3 || mo < 1 ||
        mo > 12 || d < 1 || d > 31) {
        return false;
    }
    hours = double(daysFromCivil(y, unsigned(mo), unsigned(d))) * 24.0;
    // TM: HH[MM[SS[.F]]], possibly with the old colons.
    std::string digits;
    for (const char c : time) {
        if (c == '.') {
            break;
        }
        if (c >= '0' && c <= '9') {
            digits += c;
        }
    }
    const auto part = [&digits](std::size_t at) {
        return digits.size() >= at + 2 ? std::atoi(digits.substr(at, 2).c_str()) : 0;
    };
    const int h = part(0);
    const int mi = part(2);
    const int sec = part(4);
    if (h > 23 || mi > 59 || sec > 60) {
        return false;
    }
    hours += h + mi / 60.0 + sec / 3600.0;
    return true;
}

} // namespace radiolens
