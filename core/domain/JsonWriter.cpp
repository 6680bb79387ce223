#include "core/domain/JsonWriter.h"

#include <cmath>
#include <cstdio>

namespace radiolens {

namespace {

/// Length of the valid UTF-8 sequence at text[i], or 0 when it is not valid.
std::size_t utf8Length(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) {
        return static_cast<unsigned char>(text[k]);
    };
    const unsigned char c = byte(i);
    std::size_t n = 0;
    unsigned min = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (i + n > text.size()) {
        return 0;
    }
    unsigned code = c & (0x7F >> n);
    for (std::size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) {
            return 0;
        }
        code = (code << 6) | (byte(i + k) & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
        return 0;
    }
    return n;
}

} // namespace

std::string jsonQuote(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (std::size_t i = 0; i < text.size();) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    char code[8];
                    std::snprintf(code, sizeof code, "\\u%04x", c);
                    out += code;
                } else {
                    out += char(c);
                }
            }
            ++i;
            continue;
        }
        const std::size_t n = utf8Length(text, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(text.substr(i, n));
            i += n;
        }
    }
    out += '"';
    return out;
}

JsonWriter::JsonWriter(std::ostream& out, bool pretty)
    : m_out(out)
    , m_pretty(pretty) {}

void JsonWriter::newline() {
    if (m_pretty) {
        m_out << '\n' << std::string(m_hasItems.size() * 2, ' ');
    }
}

void JsonWriter::separate() {
    if (m_afterKey) {
        m_afterKey = false;
        return;
    }
    if (!m_hasItems.empty()) {
        if (m_hasItems.back()) {
            m_out << ',';
        }
        m_hasItems.back() = true;
        newline();
    }
}

JsonWriter& JsonWriter::beginObject() {
    separate();
    m_out << '{';
    m_hasItems.push_back(false);
    return *this;
}

JsonWriter& JsonWriter::endObject() {
    const bool had = m_hasItems.back();
    m_hasItems.pop_back();
    if (had) {
        newline();
    }
    m_out << '}';
    if (m_hasItems.empty() && m_pretty) {
        m_out << '\n';
    }
    return *this;
}

JsonWriter& JsonWriter::beginArray() {
    separate();
    m_out << '[';
    m_hasItems.push_back(false);
    return *this;
}

JsonWriter& JsonWriter::endArray() {
    const bool had = m_hasItems.back();
    m_hasItems.pop_back();
    if (had) {
        newline();
    }
    m_out << ']';
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
    separate();
    m_out << jsonQuote(name) << (m_pretty ? ": " : ":");
    m_afterKey = true;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
    separate();
    m_out << jsonQuote(text);
    return *this;
}

JsonWriter& JsonWriter::value(double number) {
    separate();
    if (!std::isfinite(number)) {
        m_out << "null";
    } else {
        char text[32];
        std::snprintf(text, sizeof text, "%.10g", number);
        m_out << text;
    }
    return *this;
}

JsonWriter& JsonWriter::value(long long number) {
    separate();
    m_out << number;
    return *this;
}

JsonWriter& JsonWriter::value(bool flag) {
    separate();
    m_out << (flag ? "true" : "false");
    return *this;
}

JsonWriter& JsonWriter::null() {
    separate();
    m_out << "null";
    return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, const std::vector<double>& list) {
    key(name);
    return numbers(list);
}

JsonWriter& JsonWriter::field(std::string_view name,
                              const std::map<std::string, std::string>& texts) {
    key(name).beginObject();
    for (const auto& [k, v] : texts) {
        key(k).value(v);
    }
    return endObject();
}

JsonWriter& JsonWriter::numbers(const std::vector<double>& list) {
    const bool pretty = m_pretty;
    beginArray();
    m_pretty = false; // short numeric arrays on one line
    for (double v : list) {
        value(v);
    }
    endArray();
    m_pretty = pretty;
    return *this;
}

} // namespace radiolens
