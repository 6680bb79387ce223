#include "core/domain/JsonFields.h"

#include <algorithm>
#include <stdexcept>

namespace radiolens {

int JsonFields::wholeNumber(double value, double low, double high,
                            const std::string& message) const {
    if (!(value >= low && value <= high)) {
        fail(message);
    }
    return int(value);
}

bool JsonFields::isSha256(const std::string& text) {
    return text.size() == 64 &&
           text.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

void JsonFields::fail(const std::string& message) const {
    throw std::runtime_error(m_document + ": " + message);
}

const JsonValue& JsonFields::member(const JsonValue& object, const std::string& key,
                                    const std::string& where, JsonValue::Kind kind) const {
    const JsonValue* v = object.find(key);
    if (v == nullptr) {
        fail("'" + where + key + "' is missing");
    }
    if (v->kind() != kind) {
        fail("'" + where + key + "' has the wrong type");
    }
    return *v;
}

std::string JsonFields::text(const JsonValue& object, const std::string& key,
                             const std::string& where) const {
    return member(object, key, where, JsonValue::Kind::String).asString();
}

double JsonFields::number(const JsonValue& object, const std::string& key,
                          const std::string& where) const {
    return member(object, key, where, JsonValue::Kind::Number).asNumber();
}

std::vector<double> JsonFields::numbers(const JsonValue& object, const std::string& key,
                                        const std::string& where, std::size_t size) const {
    std::vector<double> out;
    for (const JsonValue& item : member(object, key, where, JsonValue::Kind::Array).items()) {
        if (!item.isNumber()) {
            fail("'" + where + key + "' must hold numbers");
        }
        out.push_back(item.asNumber());
    }
    if (size > 0 && out.size() != size) {
        fail("'" + where + key + "' has " + std::to_string(out.size()) + " numbers, not " +
             std::to_string(size));
    }
    return out;
}

std::vector<std::string> JsonFields::texts(const JsonValue& object, const std::string& key,
                                           const std::string& where) const {
    std::vector<std::string> out;
    for (const JsonValue& item : member(object, key, where, JsonValue::Kind::Array).items()) {
        if (!item.isString()) {
            fail("'" + where + key + "' must hold strings");
        }
        out.push_back(item.asString());
    }
    return out;
}

JsonValue JsonFields::parseObject(const std::string& text) const {
    JsonValue root;
    try {
        root = JsonValue::parse(text);
    } catch (const std::exception& e) {
        fail(e.what());
    }
    if (!root.isObject()) {
        fail("the document is not a JSON object");
    }
    return root;
}

std::map<std::string, std::string> JsonFields::textMap(const JsonValue& object,
                                                       const std::string& key) const {
    std::map<std::string, std::string> out;
    if (const JsonValue* t = object.find(key); t != nullptr && t->isObject()) {
        for (const auto& [k, v] : t->members()) {
            out[k] = v.isString() ? v.asString() : std::string();
        }
    }
    return out;
}

std::string JsonFields::optionalText(const JsonValue& object, const std::string& key) const {
    const JsonValue* v = object.find(key);
    return v != nullptr && v->isString() ? v->asString() : std::string();
}

double JsonFields::optionalNumber(const JsonValue& object, const std::string& key,
                                  double otherwise) const {
    const JsonValue* v = object.find(key);
    return v != nullptr && v->isNumber() ? v->asNumber() : otherwise;
}

std::string JsonFields::oneOf(const JsonValue& object, const std::string& key,
                              const std::vector<std::string>& allowed,
                              const std::string& otherwise) const {
    std::string value = otherwise.empty() ? text(object, key) : optionalText(object, key);
    if (value.empty()) {
        value = otherwise;
    }
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
        std::string choices;
        for (std::size_t i = 0; i < allowed.size(); ++i) {
            choices += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + allowed[i];
        }
        fail("'" + key + "' is '" + value + "' (" + choices + ")");
    }
    return value;
}

} // namespace radiolens
