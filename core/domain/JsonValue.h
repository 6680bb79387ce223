#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace radiolens {

/// A parsed JSON document (RFC 8259): null, boolean, number, string, array or object. Objects
/// keep their keys sorted; duplicate keys keep the last value. Values are immutable once parsed.
class JsonValue {
public:
    enum class Kind { Null, Bool, Number, String, Array, Object };

    JsonValue() = default;

    /// Parses `text`. Throws std::runtime_error with the line and column of the first error.
    static JsonValue parse(std::string_view text);

    Kind kind() const { return m_kind; }
    bool isNull() const { return m_kind == Kind::Null; }
    bool isObject() const { return m_kind == Kind::Object; }
    bool isArray() const { return m_kind == Kind::Array; }
    bool isString() const { return m_kind == Kind::String; }
    bool isNumber() const { return m_kind == Kind::Number; }

    bool asBool() const { return m_bool; }
    double asNumber() const { return m_number; }
    const std::string& asString() const { return m_string; }
    const std::vector<JsonValue>& items() const { return m_items; }
    const std::map<std::string, JsonValue>& members() const { return m_members; }

    /// The member `key` of an object, or nullptr (also when this is not an object).
    const JsonValue* find(const std::string& key) const;

private:
    Kind m_kind = Kind::Null;
    bool m_bool = false;
    double m_number = 0.0;
    std::string m_string;
    std::vector<JsonValue> m_items;
    std::map<std::string, JsonValue> m_members;

    friend class JsonParser;
};

} // namespace radiolens
