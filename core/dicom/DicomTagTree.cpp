#include "dcmtk/config/osconfig.h"

#include "core/dicom/DicomTagTree.h"

#include "core/dicom/DcmtkBridge.h"
#include "core/dicom/DicomDataSet.h"
#include "core/dicom/DicomInstance.h"

#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcdict.h"
#include "dcmtk/dcmdata/dcelem.h"
#include "dcmtk/dcmdata/dcfcache.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dctag.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace radiolens {

namespace {

/// Values up to this many bytes are read by loadFile; longer ones stay in the file and only their
/// first bytes are read (DcmElement::getPartialValue) when they are displayed.
constexpr Uint32 kMaxReadLength = 4096;
/// Deeper nesting than this is shown as a message instead of recursing further (hostile files).
constexpr int kMaxDepth = 64;

bool isPixelDataTag(const DcmTagKey& key) {
    return key.getGroup() == 0x7FE0 &&
           (key.getElement() == 0x0010 || key.getElement() == 0x0008 || key.getElement() == 0x0009);
}

std::string formatTag(const DcmTagKey& key) {
    char text[16];
    std::snprintf(text, sizeof text, "(%04X,%04X)", unsigned(key.getGroup()),
                  unsigned(key.getElement()));
    return text;
}

std::string bytesSuffix(std::uint64_t bytes) {
    return "(" + std::to_string(bytes) + (bytes == 1 ? " byte)" : " bytes)");
}

/// Cuts UTF-8 `text` to at most `limit` bytes without splitting a character.
std::string cutUtf8(const std::string& text, std::size_t limit) {
    if (text.size() <= limit) {
        return text;
    }
    std::size_t end = limit;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
        --end;
    }
    return text.substr(0, end);
}

/// Display text for a text value of `totalBytes` bytes of which `raw` are the first (or all).
std::string textValue(const std::string& raw, std::uint64_t totalBytes,
                      const std::string& charset) {
    const std::string utf8 = toUtf8(raw, charset);
    if (totalBytes <= kMaxValueText) {
        return utf8;
    }
    return cutUtf8(utf8, kMaxValueText) + "... " + bytesSuffix(totalBytes);
}

std::string hexPreview(const unsigned char* bytes, std::size_t count, std::uint64_t totalBytes) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%02X", unsigned(bytes[i]));
        out += (i ? " " : "") + std::string(hex);
    }
    if (totalBytes > count) {
        out += "...";
    }
    return out + (out.empty() ? "" : " ") + bytesSuffix(totalBytes);
}

/// Reads the first `wanted` bytes of `element`'s value (in host byte order) without loading the
/// whole value when it is still in the file.
bool readFirstBytes(DcmElement& element, std::size_t wanted, DcmFileCache& cache,
                    std::vector<unsigned char>& out) {
    const Uint32 length = element.getLength();
    const Uint32 count = Uint32(std::min<std::uint64_t>(wanted, length));
    out.assign(count, 0);
    if (count == 0) {
        return true;
    }
    return element.getPartialValue(out.data(), 0, count, &cache).good();
}

template <typename T>
T readAs(const unsigned char* bytes) {
    T value;
    std::memcpy(&value, bytes, sizeof value);
    return value;
}

/// Numbers of a binary numeric VR from their first bytes (host byte order), for values too long
/// to load whole. Returns an empty string for VRs it does not know.
std::string formatNumbers(DcmEVR vr, const std::vector<unsigned char>& bytes) {
    std::size_t width = 0;
    switch (vr) {
    case EVR_US:
    case EVR_SS:
        width = 2;
        break;
    case EVR_UL:
    case EVR_SL:
    case EVR_FL:
    case EVR_AT:
        width = 4;
        break;
    case EVR_FD:
    case EVR_SV:
    case EVR_UV:
        width = 8;
        break;
    default:
        return {};
    }
    std::string out;
    char text[40];
    for (std::size_t at = 0; at + width <= bytes.size(); at += width) {
        const unsigned char* p = bytes.data() + at;
        switch (vr) {
        case EVR_US:
            std::snprintf(text, sizeof text, "%u", unsigned(readAs<Uint16>(p)));
            break;
        case EVR_SS:
            std::snprintf(text, sizeof text, "%d", int(readAs<Sint16>(p)));
            break;
        case EVR_UL:
            std::snprintf(text, sizeof text, "%lu", static_cast<unsigned long>(readAs<Uint32>(p)));
            break;
        case EVR_SL:
            std::snprintf(text, sizeof text, "%ld", static_cast<long>(readAs<Sint32>(p)));
            break;
        case EVR_FL:
            std::snprintf(text, sizeof text, "%.9g", double(readAs<Float32>(p)));
            break;
        case EVR_FD:
            std::snprintf(text, sizeof text, "%.17g", readAs<Float64>(p));
            break;
        case EVR_SV:
            std::snprintf(text, sizeof text, "%" PRId64, readAs<std::int64_t>(p));
            break;
        case EVR_UV:
            std::snprintf(text, sizeof text, "%" PRIu64, readAs<std::uint64_t>(p));
            break;
        case EVR_AT:
            std::snprintf(text, sizeof text, "(%04X,%04X)", unsigned(readAs<Uint16>(p)),
                          unsigned(readAs<Uint16>(p + 2)));
            break;
        default:
            break;
        }
        out += (at ? "\\" : "") + std::string(text);
    }
    return out;
}

bool isBinaryVr(DcmEVR vr) {
    switch (vr) {
    case EVR_OB:
    case EVR_OW:
    case EVR_OD:
    case EVR_OF:
    case EVR_OL:
    case EVR_OV:
    case EVR_UN:
    case EVR_ox:
    case EVR_px:
    case EVR_lt:
    case EVR_UNKNOWN:
    case EVR_UNKNOWN2B:
        return true;
    default:
        return false;
    }
}

/// "OW, 524288 bytes" or "OB, encapsulated, 3 fragments, 12345 bytes". Never reads the values.
std::string describePixelData(DcmElement& element, const std::string& vr) {
    if (element.ident() == EVR_PixelData && element.getLengthField() == DCM_UndefinedLength) {
        auto& pixelData = static_cast<DcmPixelData&>(element);
        E_TransferSyntax xfer = EXS_Unknown;
        const DcmRepresentationParameter* parameter = nullptr;
        pixelData.getCurrentRepresentationKey(xfer, parameter);
        DcmPixelSequence* sequence = nullptr;
        if (pixelData.getEncapsulatedRepresentation(xfer, parameter, sequence).good() &&
            sequence != nullptr) {
            // Item 0 is the basic offset table; the rest are fragments of compressed frames.
            const unsigned long items = sequence->card();
            std::uint64_t bytes = 0;
            for (unsigned long i = 1; i < items; ++i) {
                DcmPixelItem* item = nullptr;
                if (sequence->getItem(item, i).good() && item != nullptr) {
                    bytes += item->getLength();
                }
            }
            const unsigned long fragments = items > 0 ? items - 1 : 0;
            return vr + ", encapsulated, " + std::to_string(fragments) +
                   (fragments == 1 ? " fragment, " : " fragments, ") + std::to_string(bytes) +
                   " bytes";
        }
        return vr + ", encapsulated";
    }
    return vr + ", " + std::to_string(element.getLengthField()) + " bytes";
}

std::string keywordOf(const DcmTag& elementTag) {
    DcmTag tag(elementTag);
    const char* name = tag.getTagName();
    const bool known = name != nullptr && std::strcmp(name, DcmTag_ERROR_TagName) != 0;
    if (!tag.isPrivate() || tag.isPrivateReservation() || tag.getElement() == 0x0000) {
        return known ? name : "Unknown";
    }
    const char* creator = tag.getPrivateCreator();
    if (creator == nullptr || *creator == '\0') {
        return "Unknown";
    }
    std::string keyword = "Private (" + std::string(creator) + ")";
    if (known) {
        keyword += " " + std::string(name);
    }
    return keyword;
}

class TreeReader {
public:
    explicit TreeReader(DcmFileCache& cache)
        : m_cache(cache) {}

    void readItem(DcmItem& item, const std::string& inheritedCharset, int depth,
                  std::vector<DicomTagNode>& out) {
        std::string charset = inheritedCharset;
        OFString declared;
        if (item.findAndGetOFStringArray(DCM_SpecificCharacterSet, declared, OFFalse).good()) {
            charset = declared.c_str();
        }
        const unsigned long count = item.card();
        out.reserve(out.size() + count);
        for (unsigned long i = 0; i < count; ++i) {
            DcmElement* element = item.getElement(i);
            if (element != nullptr) {
                out.push_back(readElement(*element, charset, depth));
            }
        }
    }

private:
    DicomTagNode readElement(DcmElement& element, const std::string& charset, int depth) {
        DicomTagNode node;
        const DcmTag& tag = element.getTag();
        node.tag = formatTag(tag);
        node.keyword = keywordOf(tag);
        node.vr = DcmVR(element.getVR()).getValidVRName();
        if (element.ident() == EVR_SQ) {
            auto& sequence = static_cast<DcmSequenceOfItems&>(element);
            const unsigned long items = sequence.card();
            node.value = std::to_string(items) + (items == 1 ? " item" : " items");
            if (depth >= kMaxDepth) {
                node.value += " (nested too deeply to show)";
                return node;
            }
            node.children.reserve(items);
            for (unsigned long i = 0; i < items; ++i) {
                DicomTagNode itemNode;
                itemNode.tag = "Item " + std::to_string(i + 1);
                if (DcmItem* item = sequence.getItem(i)) {
                    readItem(*item, charset, depth + 1, itemNode.children);
                }
                node.children.push_back(std::move(itemNode));
            }
            return node;
        }
        if (isPixelDataTag(tag)) {
            node.value = describePixelData(element, node.vr);
            return node;
        }
        node.value = valueText(element, charset);
        return node;
    }

    std::string valueText(DcmElement& element, const std::string& charset) {
        const Uint32 length = element.getLength();
        if (length == 0) {
            return {};
        }
        const DcmEVR vr = element.getTag().getVR().getValidEVR();
        if (isBinaryVr(vr) || element.ident() == EVR_PixelData) {
            std::vector<unsigned char> bytes;
            if (!readFirstBytes(element, kHexPreviewBytes, m_cache, bytes)) {
                return bytesSuffix(length);
            }
            return hexPreview(bytes.data(), bytes.size(), length);
        }
        if (length > kMaxReadLength) {
            // Still in the file: read just enough for the display text.
            std::vector<unsigned char> bytes;
            if (!readFirstBytes(element, kMaxValueText * 2, m_cache, bytes)) {
                return "... " + bytesSuffix(length);
            }
            if (element.isaString()) {
                return textValue(std::string(bytes.begin(), bytes.end()), length, charset);
            }
            const std::string numbers = formatNumbers(vr, bytes);
            if (numbers.empty()) {
                return hexPreview(bytes.data(), std::min(bytes.size(), kHexPreviewBytes), length);
            }
            return cutUtf8(numbers, kMaxValueText) + "... " + bytesSuffix(length);
        }
        OFString text;
        const OFCondition status = element.getOFStringArray(text, OFTrue);
        if (status.bad()) {
            return std::string("(cannot show the value: ") + status.text() + ")";
        }
        const std::string value(text.c_str(), text.size());
        if (element.isaString()) {
            return textValue(value, length, charset);
        }
        if (value.size() > kMaxValueText) {
            return cutUtf8(value, kMaxValueText) + "... " + bytesSuffix(length);
        }
        return value;
    }

    DcmFileCache& m_cache;
};

/// Whether the file has the "DICM" marker after its 128-byte preamble (PS3.10 7.1).
bool hasDicmMarker(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char marker[4] = {};
    return in.seekg(128) && in.read(marker, 4) && std::memcmp(marker, "DICM", 4) == 0;
}

std::vector<DicomTagNode> readUnguarded(const std::string& path) {
    try {
        initialiseDcmtk();
    } catch (const std::exception& e) {
        throw DicomValueError(path + ": " + e.what());
    }
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
        throw DicomValueError(
            path + ": " +
            (std::filesystem::exists(path, error) ? "not a regular file" : "no such file"));
    }
    DcmFileFormat file;
    const OFCondition status =
        file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, kMaxReadLength, ERM_autoDetect);
    if (status.bad()) {
        if (!hasDicmMarker(path)) {
            throw DicomValueError(path +
                                  ": not a DICOM file, or a damaged one (no DICM marker; "
                                  "DCMTK: " +
                                  status.text() + ")");
        }
        throw DicomValueError(path + ": DCMTK cannot read it: " + status.text());
    }
    DcmMetaInfo* meta = file.getMetaInfo();
    DcmDataset* dataset = file.getDataset();
    const bool hasMeta = meta != nullptr && meta->card() > 0;
    if (dataset == nullptr || (!hasMeta && dataset->card() == 0)) {
        throw DicomValueError(path + ": not a DICOM file (no elements)");
    }
    DcmFileCache cache;
    TreeReader reader(cache);
    std::vector<DicomTagNode> tree;
    if (hasMeta) {
        reader.readItem(*meta, {}, 0, tree);
    }
    reader.readItem(*dataset, {}, 0, tree);
    return tree;
}

} // namespace

std::vector<DicomTagNode> readTagTree(const std::string& path) {
    // DCMTK throws on some hostile input (e.g. std::out_of_range); callers get one error type.
    try {
        return readUnguarded(path);
    } catch (const DicomValueError&) {
        throw;
    } catch (const std::exception& e) {
        throw DicomValueError(path + ": DCMTK failed on this file: " + e.what());
    } catch (...) {
        throw DicomValueError(path + ": DCMTK failed on this file");
    }
}

} // namespace radiolens
