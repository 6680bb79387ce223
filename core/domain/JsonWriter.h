#pragma once

#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace radiolens {

/// Streams JSON with correct escaping; text that is not valid UTF-8 gets U+FFFD in place of
/// the bad bytes, so output always parses. Not thread-safe; one writer per stream.
class JsonWriter {
public:
    explicit JsonWriter(std::ostream& out, bool pretty = true);

    JsonWriter& beginObject();
    JsonWriter& endObject();
    JsonWriter& beginArray();
    JsonWriter& endArray();
    JsonWriter& key(std::string_view name);
    JsonWriter& value(std::string_view text);
    JsonWriter& value(const char* text) { return value(std::string_view(text)); }
    JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
    JsonWriter& value(double number);
    JsonWriter& value(long long number);
    JsonWriter& value(int number) { return value((long long)number); }
    JsonWriter& value(std::size_t number) { return value((long long)number); }
    JsonWriter& value(bool flag);
    JsonWriter& null();

    template <typename T>
    JsonWriter& field(std::string_view name, const T& v) {
        key(name);
        return value(v);
    }
    JsonWriter& field(std::string_view name, const std::vector<double>& list);
    /// An object of text values.
    JsonWriter& field(std::string_view name, const std::map<std::string, std::string>& texts);
    /// An array of numbers on one line.
    JsonWriter& numbers(const std::vector<double>& list);

private:
    void separate();
    void newline();

    std::ostream& m_out;
    bool m_pretty;
    std::vector<bool> m_hasItems; ///< per open container: something was written
    bool m_afterKey = false;
};

/// `text` as a quoted JSON string.
std::string jsonQuote(std::string_view text);

} // namespace radiolens
