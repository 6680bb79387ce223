#include "core/domain/DicomNode.h"

#include "core/domain/JsonFields.h"
#include "core/domain/JsonWriter.h"
#include "core/domain/Paths.h"

#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace radiolens {

namespace {

int parsePort(const std::string& text, const std::string& what) {
    std::size_t used = 0;
    int port = 0;
    try {
        port = std::stoi(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (text.empty() || used != text.size() || port < 1 || port > 65535) {
        throw std::invalid_argument(what + ": the port '" + text + "' is not a number in 1-65535");
    }
    return port;
}

void checkPort(int port, const std::string& field) {
    if (port < 1 || port > 65535) {
        throw std::runtime_error("network settings: '" + field + "' must be in 1-65535");
    }
}

/// The file name `key` of `object`: absent gives "", present it must be text.
std::string optionalFile(const JsonValue& object, const std::string& key,
                         const std::string& where) {
    const JsonValue* value = object.find(key);
    if (value == nullptr || value->isNull()) {
        return {};
    }
    if (!value->isString()) {
        throw std::runtime_error("network settings: '" + where + key + "' must be a file name");
    }
    return value->asString();
}

/// A certificate needs its private key and the reverse; the error names the missing field.
void checkTlsFiles(const std::string& where, const std::string& certificateKey,
                   const std::string& certificate, const std::string& keyKey,
                   const std::string& key) {
    if (certificate.empty() != key.empty()) {
        const std::string& missing = certificate.empty() ? certificateKey : keyKey;
        const std::string& present = certificate.empty() ? keyKey : certificateKey;
        throw std::runtime_error("network settings: '" + where + missing + "' is needed with '" +
                                 where + present + "'");
    }
}

void writeIfSet(JsonWriter& json, const char* key, const std::string& value) {
    if (!value.empty()) {
        json.field(key, value);
    }
}

} // namespace

void checkAeTitle(const std::string& aeTitle) {
    if (aeTitle.empty() || aeTitle.size() > 16) {
        throw std::invalid_argument("the AE title '" + aeTitle + "' must have 1-16 characters");
    }
    for (const char c : aeTitle) {
        if (c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            throw std::invalid_argument("the AE title '" + aeTitle +
                                        "' has a backslash or a control character");
        }
    }
}

std::string DicomNode::address() const {
    return aeTitle + "@" + host + ":" + std::to_string(port);
}

DicomNode DicomNode::parse(const std::string& address) {
    const std::size_t at = address.find('@');
    const std::size_t colon = address.rfind(':');
    if (at == std::string::npos || colon == std::string::npos || colon < at) {
        throw std::invalid_argument("'" + address + "' is not AET@HOST:PORT");
    }
    DicomNode node;
    node.aeTitle = address.substr(0, at);
    node.host = address.substr(at + 1, colon - at - 1);
    checkAeTitle(node.aeTitle);
    if (node.host.empty()) {
        throw std::invalid_argument("'" + address + "' has no host (AET@HOST:PORT)");
    }
    node.port = parsePort(address.substr(colon + 1), "'" + address + "'");
    node.name = node.aeTitle;
    return node;
}

std::string NetworkSettings::incomingFolderOrDefault() const {
    return incomingFolder.empty() ? userDataFolder() + "/incoming" : incomingFolder;
}

std::string NetworkSettings::toJson() const {
    std::ostringstream out;
    JsonWriter json(out);
    json.beginObject();
    json.field("ownAeTitle", ownAeTitle);
    json.field("listenPort", listenPort);
    json.field("listenerEnabled", listenerEnabled);
    json.field("listenerOnlyKnownNodes", listenerOnlyKnownNodes);
    writeIfSet(json, "listenerTlsCertificateFile", listenerTlsCertificateFile);
    writeIfSet(json, "listenerTlsKeyFile", listenerTlsKeyFile);
    writeIfSet(json, "listenerTlsCaFile", listenerTlsCaFile);
    json.field("incomingFolder", incomingFolder);
    json.field("connectTimeoutSeconds", connectTimeoutSeconds);
    json.field("responseTimeoutSeconds", responseTimeoutSeconds);
    json.key("nodes").beginArray();
    for (const DicomNode& node : nodes) {
        json.beginObject();
        json.field("name", node.name);
        json.field("aeTitle", node.aeTitle);
        json.field("host", node.host);
        json.field("port", node.port);
        json.field("retrieve", std::string(node.retrieveWithMove ? "move" : "get"));
        writeIfSet(json, "tlsCaFile", node.tlsCaFile);
        writeIfSet(json, "tlsCertificateFile", node.tlsCertificateFile);
        writeIfSet(json, "tlsKeyFile", node.tlsKeyFile);
        json.endObject();
    }
    json.endArray();
    json.endObject();
    out << "\n";
    return out.str();
}

NetworkSettings NetworkSettings::fromJson(const std::string& text) {
    const JsonValue root = JsonValue::parse(text);
    const JsonFields fields("network settings");
    if (!root.isObject()) {
        throw std::runtime_error("network settings: not a JSON object");
    }
    NetworkSettings settings;
    settings.ownAeTitle = fields.optionalText(root, "ownAeTitle");
    if (settings.ownAeTitle.empty()) {
        settings.ownAeTitle = "RADIOLENS";
    }
    try {
        checkAeTitle(settings.ownAeTitle);
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(std::string("network settings: 'ownAeTitle': ") + e.what());
    }
    settings.listenPort = int(fields.optionalNumber(root, "listenPort", settings.listenPort));
    checkPort(settings.listenPort, "listenPort");
    if (const JsonValue* enabled = root.find("listenerEnabled")) {
        settings.listenerEnabled = enabled->asBool();
    }
    if (const JsonValue* known = root.find("listenerOnlyKnownNodes")) {
        settings.listenerOnlyKnownNodes = known->asBool();
    }
    settings.listenerTlsCertificateFile = optionalFile(root, "listenerTlsCertificateFile", "");
    settings.listenerTlsKeyFile = optionalFile(root, "listenerTlsKeyFile", "");
    settings.listenerTlsCaFile = optionalFile(root, "listenerTlsCaFile", "");
    checkTlsFiles("", "listenerTlsCertificateFile", settings.listenerTlsCertificateFile,
                  "listenerTlsKeyFile", settings.listenerTlsKeyFile);
    if (!settings.listenerTlsCaFile.empty() && settings.listenerTlsCertificateFile.empty()) {
        throw std::runtime_error("network settings: 'listenerTlsCaFile' needs "
                                 "'listenerTlsCertificateFile' and 'listenerTlsKeyFile' (the "
                                 "listener's own TLS certificate)");
    }
    settings.incomingFolder = fields.optionalText(root, "incomingFolder");
    settings.connectTimeoutSeconds =
        int(fields.optionalNumber(root, "connectTimeoutSeconds", settings.connectTimeoutSeconds));
    settings.responseTimeoutSeconds =
        int(fields.optionalNumber(root, "responseTimeoutSeconds", settings.responseTimeoutSeconds));
    if (settings.connectTimeoutSeconds < 1 || settings.responseTimeoutSeconds < 1) {
        throw std::runtime_error("network settings: timeouts must be at least 1 second");
    }
    if (const JsonValue* list = root.find("nodes")) {
        int index = 0;
        for (const JsonValue& item : list->items()) {
            const std::string where = "nodes[" + std::to_string(index++) + "].";
            DicomNode node;
            node.aeTitle = fields.text(item, "aeTitle", where);
            node.host = fields.text(item, "host", where);
            node.port = int(fields.number(item, "port", where));
            node.name = fields.optionalText(item, "name");
            if (node.name.empty()) {
                node.name = node.aeTitle;
            }
            node.retrieveWithMove =
                fields.oneOf(item, "retrieve", {"get", "move"}, "get") == "move";
            node.tlsCaFile = optionalFile(item, "tlsCaFile", where);
            node.tlsCertificateFile = optionalFile(item, "tlsCertificateFile", where);
            node.tlsKeyFile = optionalFile(item, "tlsKeyFile", where);
            checkTlsFiles(where, "tlsCertificateFile", node.tlsCertificateFile, "tlsKeyFile",
                          node.tlsKeyFile);
            if (!node.tlsCertificateFile.empty() && node.tlsCaFile.empty()) {
                throw std::runtime_error("network settings: '" + where +
                                         "tlsCaFile' is needed with '" + where +
                                         "tlsCertificateFile' (TLS needs the CA that vouches "
                                         "for the node)");
            }
            try {
                checkAeTitle(node.aeTitle);
            } catch (const std::invalid_argument& e) {
                throw std::runtime_error("network settings: '" + where + "aeTitle': " + e.what());
            }
            checkPort(node.port, where + "port");
            settings.nodes.push_back(node);
        }
    }
    return settings;
}

std::string NetworkSettings::defaultPath() {
    return userDataFolder() + "/network.json";
}

NetworkSettings NetworkSettings::load(const std::string& path) {
    if (!std::filesystem::exists(path)) {
        return {};
    }
    try {
        return fromJson(readTextFile(path));
    } catch (const std::exception& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

void NetworkSettings::save(const std::string& path) const {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
        std::filesystem::create_directories(parent);
    }
    writeFileAtomically(path, toJson());
}

} // namespace radiolens
