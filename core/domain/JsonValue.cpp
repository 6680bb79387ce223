#include "core/domain/JsonValue.h"

#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace radiolens {

class JsonParser {
public:
    explicit JsonParser(std::string_view text)
        : m_text(text) {}

    JsonValue document() {
        JsonValue v = value(0);
        skipSpace();
        if (m_pos != m_text.size()) {
            fail("unexpected text after the document");
        }
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& why) const {
        std::size_t line = 1;
        std::size_t column = 1;
        for (std::size_t i = 0; i < m_pos && i < m_text.size(); ++i) {
            if (m_text[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        throw std::runtime_error("JSON error at line " + std::to_string(line) + ", column " +
                                 std::to_string(column) + ": " + why);
    }

    void skipSpace() {
        while (m_pos < m_text.size() && (m_text[m_pos] == ' ' || m_text[m_pos] == '\t' ||
                                         m_text[m_pos] == '\n' || m_text[m_pos] == '\r')) {
            ++m_pos;
        }
    }

    bool literal(std::string_view word) {
        if (m_text.substr(m_pos, word.size()) == word) {
            m_pos += word.size();
            return true;
        }
        return false;
    }

    JsonValue value(int depth) {
        if (depth > 200) {
            fail("nested too deeply");
        }
        skipSpace();
        if (m_pos >= m_text.size()) {
            fail("unexpected end of the document");
        }
        JsonValue v;
        const char c = m_text[m_pos];
        if (c == '{') {
            v.m_kind = JsonValue::Kind::Object;
            ++m_pos;
            skipSpace();
            if (m_pos < m_text.size() && m_text[m_pos] == '}') {
                ++m_pos;
                return v;
            }
            while (true) {
                skipSpace();
                if (m_pos >= m_text.size() || m_text[m_pos] != '"') {
                    fail("expected a quoted key");
                }
                std::string key = string();
                skipSpace();
                if (m_pos >= m_text.size() || m_text[m_pos] != ':') {
                    fail("expected ':' after a key");
                }
                ++m_pos;
                v.m_members[key] = value(depth + 1);
                skipSpace();
                if (m_pos < m_text.size() && m_text[m_pos] == ',') {
                    ++m_pos;
                    continue;
                }
                if (m_pos < m_text.size() && m_text[m_pos] == '}') {
                    ++m_pos;
                    return v;
                }
                fail("expected ',' or '}' in an object");
            }
        }
        if (c == '[') {
            v.m_kind = JsonValue::Kind::Array;
            ++m_pos;
            skipSpace();
            if (m_pos < m_text.size() && m_text[m_pos] == ']') {
                ++m_pos;
                return v;
            }
            while (true) {
                v.m_items.push_back(value(depth + 1));
                skipSpace();
                if (m_pos < m_text.size() && m_text[m_pos] == ',') {
                    ++m_pos;
                    continue;
                }
                if (m_pos < m_text.size() && m_text[m_pos] == ']') {
                    ++m_pos;
                    return v;
                }
                fail("expected ',' or ']' in an array");
            }
        }
        if (c == '"') {
            v.m_kind = JsonValue::Kind::String;
            v.m_string = string();
            return v;
        }
        if (literal("true")) {
            v.m_kind = JsonValue::Kind::Bool;
            v.m_bool = true;
            return v;
        }
        if (literal("false")) {
            v.m_kind = JsonValue::Kind::Bool;
            return v;
        }
        if (literal("null")) {
            return v;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            const std::size_t start = m_pos;
            while (m_pos < m_text.size() &&
                   std::string_view("+-0123456789.eE").find(m_text[m_pos]) !=
                       std::string_view::npos) {
                ++m_pos;
            }
            const std::string number(m_text.substr(start, m_pos - start));
            char* end = nullptr;
            v.m_kind = JsonValue::Kind::Number;
            v.m_number = std::strtod(number.c_str(), &end);
            if (end != number.c_str() + number.size()) {
                m_pos = start;
                fail("bad number '" + number + "'");
            }
            if (!std::isfinite(v.m_number)) {
                // 1e999: no double holds it, and no JSON writer could write it back.
                m_pos = start;
                fail("number out of range '" + number + "'");
            }
            return v;
        }
        fail(std::string("unexpected character '") + c + "'");
    }

    void appendUtf8(std::string& out, unsigned code) {
        if (code < 0x80) {
            out += char(code);
        } else if (code < 0x800) {
            out += char(0xC0 | (code >> 6));
            out += char(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            out += char(0xE0 | (code >> 12));
            out += char(0x80 | ((code >> 6) & 0x3F));
            out += char(0x80 | (code & 0x3F));
        } else {
            out += char(0xF0 | (code >> 18));
            out += char(0x80 | ((code >> 12) & 0x3F));
            out += char(0x80 | ((code >> 6) & 0x3F));
            out += char(0x80 | (code & 0x3F));
        }
    }

    unsigned hex4() {
        if (m_pos + 4 > m_text.size()) {
            fail("truncated \\u escape");
        }
        unsigned code = 0;
        for (int i = 0; i < 4; ++i) {
            const char h = m_text[m_pos++];
            code <<= 4;
            if (h >= '0' && h <= '9') {
                code |= unsigned(h - '0');
            } else if (h >= 'a' && h <= 'f') {
                code |= unsigned(h - 'a' + 10);
            } else if (h >= 'A' && h <= 'F') {
                code |= unsigned(h - 'A' + 10);
            } else {
                fail("bad \\u escape");
            }
        }
        return code;
    }

    std::string string() {
        ++m_pos; // opening quote
        std::string out;
        while (true) {
            if (m_pos >= m_text.size()) {
                fail("unterminated string");
            }
            const char c = m_text[m_pos++];
            if (c == '"') {
                return out;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                fail("control character in a string");
            }
            if (c != '\\') {
                out += c;
                continue;
            }
            if (m_pos >= m_text.size()) {
                fail("unterminated string");
            }
            const char e = m_text[m_pos++];
            switch (e) {
            case '"':
                out += '"';
                break;
            case '\\':
                out += '\\';
                break;
            case '/':
                out += '/';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u': {
                unsigned code = hex4();
                if (code >= 0xD800 && code < 0xDC00 && m_text.substr(m_pos, 2) == "\\u") {
                    m_pos += 2;
                    const unsigned low = hex4();
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                }
                appendUtf8(out, code);
                break;
            }
            default:
                fail(std::string("bad escape \\") + e);
            }
        }
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
};

JsonValue JsonValue::parse(std::string_view text) {
    return JsonParser(text).document();
}

const JsonValue* JsonValue::find(const std::string& key) const {
    const auto it = m_members.find(key);
    return it == m_members.end() ? nullptr : &it->second;
}

} // namespace radiolens
