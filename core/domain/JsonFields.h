#pragma once

#include "core/domain/JsonValue.h"

#include <map>
#include <string>
#include <vector>

namespace radiolens {

/// Typed reading of the fields of a parsed JSON document (a model card, a forecast card), with
/// errors that name the document and the field: "model card: 'input.size' is missing".
class JsonFields {
public:
    /// `document` starts every error message ("model card").
    explicit JsonFields(std::string document)
        : m_document(std::move(document)) {}

    /// The member `key` of `object`, which must exist and be of `kind`; `where` is the path of
    /// `object` for messages ("input.").
    const JsonValue& member(const JsonValue& object, const std::string& key,
                            const std::string& where, JsonValue::Kind kind) const;
    std::string text(const JsonValue& object, const std::string& key,
                     const std::string& where = {}) const;
    double number(const JsonValue& object, const std::string& key,
                  const std::string& where = {}) const;
    /// An array of numbers; with `size` > 0 it must have exactly that many.
    std::vector<double> numbers(const JsonValue& object, const std::string& key,
                                const std::string& where = {}, std::size_t size = 0) const;
    /// An array of strings.
    std::vector<std::string> texts(const JsonValue& object, const std::string& key,
                                   const std::string& where = {}) const;
    /// The text or number `key`, or `otherwise` when it is absent or of another type.
    std::string optionalText(const JsonValue& object, const std::string& key) const;
    double optionalNumber(const JsonValue& object, const std::string& key, double otherwise) const;
    /// The text `key`, which must be one of `allowed`. Absent: `otherwise`, or an error naming
    /// the field when `otherwise` is empty (the field is required).
    std::string oneOf(const JsonValue& object, const std::string& key,
                      const std::vector<std::string>& allowed,
                      const std::string& otherwise = {}) const;
    /// Parses `text`, which must be a JSON object.
    JsonValue parseObject(const std::string& text) const;
    /// The object `key` of text values as a map (other values as empty text); empty when absent.
    std::map<std::string, std::string> textMap(const JsonValue& object,
                                               const std::string& key) const;
    /// `value` (a JSON number) as an int when it lies in [low, high]; otherwise fails with
    /// `message`. Checked before the conversion, which is undefined for 1e999 or -1e300.
    int wholeNumber(double value, double low, double high, const std::string& message) const;
    /// True for 64 hexadecimal digits (a SHA-256 as cards hold it).
    static bool isSha256(const std::string& text);
    /// Throws std::runtime_error("<document>: <message>").
    [[noreturn]] void fail(const std::string& message) const;

private:
    std::string m_document;
};

} // namespace radiolens
