#include "core/dicom/DicomHeaderScanner.h"

#include "core/dicom/DcmtkBridge.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace radiolens {

namespace {

constexpr std::uint32_t kUndefinedLength = 0xFFFFFFFFu;
constexpr int kMaxDepth = 32;
constexpr std::size_t kWindow = 64 * 1024;

/// The file is not DICOM or is damaged: reported to the user as is.
struct ScanFailure {
    DicomScanResult::Status status;
    std::string reason;
};

/// The file may be fine but this reader does not handle its encoding: DCMTK reads it.
struct Unsupported {
    std::string reason;
};

std::string hexOffset(std::uint64_t offset) {
    char text[32];
    std::snprintf(text, sizeof text, "%llu", static_cast<unsigned long long>(offset));
    return text;
}

/// Reads a file through a 64 KiB window with pread; values that are skipped are never read.
class FileWindow {
public:
    FileWindow(int fd, std::uint64_t size)
        : m_fd(fd)
        , m_size(size) {}

    std::uint64_t size() const { return m_size; }

    /// Pointer to `n` bytes at `pos`, valid until the next call. Throws ScanFailure when the
    /// file ends first; `what` says what was being read.
    const char* at(std::uint64_t pos, std::size_t n, const char* what) {
        if (pos + n > m_size) {
            throw ScanFailure{DicomScanResult::Status::Broken,
                              std::string("truncated file: ") + what + " at byte " +
                                  hexOffset(pos) + " needs " + std::to_string(n) +
                                  " bytes but the file ends after " + hexOffset(m_size) + " bytes"};
        }
        if (pos >= m_start && pos + n <= m_start + m_buffer.size()) {
            return m_buffer.data() + (pos - m_start);
        }
        const std::size_t want =
            std::size_t(std::min<std::uint64_t>(std::max(kWindow, n), m_size - pos));
        m_buffer.resize(want);
        std::size_t done = 0;
        while (done < want) {
            const ssize_t got = pread(m_fd, m_buffer.data() + done, want - done, off_t(pos + done));
            if (got < 0 && errno == EINTR) {
                continue;
            }
            if (got <= 0) {
                throw ScanFailure{DicomScanResult::Status::Broken,
                                  std::string("read error: ") + std::strerror(errno)};
            }
            done += std::size_t(got);
        }
        m_start = pos;
        return m_buffer.data();
    }

private:
    int m_fd;
    std::uint64_t m_size;
    std::vector<char> m_buffer;
    std::uint64_t m_start = 0;
};

std::uint16_t u16(const char* p) {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

std::uint32_t u32(const char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

bool isKnownVr(char a, char b) {
    static const char* const known[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD",
                                        "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV", "OW",
                                        "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC",
                                        "UI", "UL", "UN", "UR", "US", "UT", "UV"};
    for (const char* vr : known) {
        if (vr[0] == a && vr[1] == b) {
            return true;
        }
    }
    return false;
}

bool hasLongLength(const char vr[2]) {
    static const char* const longForm[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                           "SV", "UC", "UN", "UR", "UT", "UV"};
    for (const char* v : longForm) {
        if (v[0] == vr[0] && v[1] == vr[1]) {
            return true;
        }
    }
    return false;
}

/// VRs of the binary attributes Radiolens interprets, for implicit VR files (everything else
/// is kept as text or raw bytes).
void implicitVr(DicomTag tag, char vr[2]) {
    const char* v = "UN";
    switch (tag) {
    case tags::SamplesPerPixel:
    case tags::PlanarConfiguration:
    case tags::Rows:
    case tags::Columns:
    case tags::BitsAllocated:
    case tags::BitsStored:
    case tags::HighBit:
    case tags::PixelRepresentation:
        v = "US";
        break;
    case tags::InStackPositionNumber:
    case tags::TemporalPositionIndex:
    case tags::DimensionIndexValues:
        v = "UL";
        break;
    case tags::SharedFunctionalGroupsSequence:
    case tags::PerFrameFunctionalGroupsSequence:
    case tags::PixelMeasuresSequence:
    case tags::FrameVOILUTSequence:
    case tags::PixelValueTransformationSequence:
    case tags::FrameContentSequence:
    case tags::PlanePositionSequence:
    case tags::PlaneOrientationSequence:
        v = "SQ";
        break;
    default:
        break;
    }
    vr[0] = v[0];
    vr[1] = v[1];
}

bool isPixelDataTag(DicomTag tag) {
    return tag == tags::PixelData || tag == tags::FloatPixelData ||
           tag == tags::DoubleFloatPixelData;
}

std::string tagText(DicomTag tag) {
    return describeTag(tag);
}

class Parser {
public:
    Parser(FileWindow& window, DicomFileHeader& header)
        : m_window(window)
        , m_header(header) {}

    void parseFile() {
        const std::uint64_t size = m_window.size();
        if (size == 0) {
            throw ScanFailure{DicomScanResult::Status::NotDicom, "empty file (0 bytes)"};
        }
        bool explicitVr = true;
        if (size >= 132 && std::memcmp(m_window.at(128, 4, "DICM marker"), "DICM", 4) == 0) {
            m_pos = 132;
            parseMeta();
        } else {
            // No preamble: a bare data set, or meta information without the preamble.
            if (!plausibleStart(0)) {
                throw ScanFailure{DicomScanResult::Status::NotDicom,
                                  "not a DICOM file (no 'DICM' marker at byte 128 and no DICOM "
                                  "data set at the start)"};
            }
            m_pos = 0;
            if (u16(m_window.at(0, 2, "first element")) == 0x0002) {
                parseMeta();
            }
        }
        std::string ts = m_header.dataSet.text(tags::TransferSyntaxUID);
        if (ts == syntax::ExplicitBig || ts == syntax::Deflated) {
            throw Unsupported{"transfer syntax " + transferSyntaxName(ts)};
        }
        if (m_pos >= size) {
            m_header.transferSyntax = ts;
            return; // meta information only
        }
        // The first element tells the real encoding; some writers mislabel implicit/explicit.
        explicitVr = sniffExplicit(m_pos);
        if (ts.empty()) {
            ts = explicitVr ? syntax::ExplicitLittle : syntax::ImplicitLittle;
        }
        m_header.transferSyntax = ts;
        parseItem(m_header.dataSet, kUndefinedLength, explicitVr, 0, true);
    }

private:
    /// A data set can start here: a little-endian tag of a low even group with a sane length.
    bool plausibleStart(std::uint64_t pos) {
        if (m_window.size() < pos + 8) {
            return false;
        }
        const char* p = m_window.at(pos, 8, "first element");
        const std::uint16_t group = u16(p);
        if (group == 0 || group > 0x0030 || (group & 1) != 0) {
            // Might be big endian: let DCMTK try only if the swapped group looks right.
            const std::uint16_t swapped = std::uint16_t((group >> 8) | (group << 8));
            if (swapped >= 0x0002 && swapped <= 0x0030 && (swapped & 1) == 0 &&
                isKnownVr(p[4], p[5])) {
                throw Unsupported{"no DICM marker and big-endian data"};
            }
            return false;
        }
        if (isKnownVr(p[4], p[5])) {
            return true;
        }
        return u32(p + 4) < m_window.size();
    }

    bool sniffExplicit(std::uint64_t pos) {
        if (pos + 6 > m_window.size()) {
            return true;
        }
        const char* p = m_window.at(pos, 6, "first data set element");
        return isKnownVr(p[4], p[5]);
    }

    void parseMeta() {
        while (m_pos + 8 <= m_window.size()) {
            const char* p = m_window.at(m_pos, 8, "file meta element");
            if (u16(p) != 0x0002) {
                break;
            }
            parseElement(m_header.dataSet, true, 0, false);
        }
    }

    /// Parses elements into `ds` until `length` bytes are consumed, an item delimiter
    /// (undefined length) or, at top level, the pixel data or the end of the file.
    void parseItem(DicomDataSet& ds, std::uint32_t length, bool explicitVr, int depth, bool top) {
        const std::uint64_t end = length == kUndefinedLength ? ~std::uint64_t(0) : m_pos + length;
        while (m_pos < end) {
            if (top && m_pos == m_window.size()) {
                return;
            }
            if (top && m_pos + 8 > m_window.size()) {
                // A few trailing zero bytes after the last element are padding; anything else
                // is the start of an element the file lost.
                const std::size_t rest = std::size_t(m_window.size() - m_pos);
                const char* tail = m_window.at(m_pos, rest, "trailing bytes");
                for (std::size_t i = 0; i < rest; ++i) {
                    if (tail[i] != 0) {
                        throw ScanFailure{DicomScanResult::Status::Broken,
                                          "truncated file: an element header at byte " +
                                              hexOffset(m_pos) + " is cut off after " +
                                              std::to_string(rest) + " bytes"};
                    }
                }
                m_pos = m_window.size();
                return;
            }
            const char* p = m_window.at(m_pos, 8, "element header");
            const DicomTag tag = dicomTag(u16(p), u16(p + 2));
            if (tag == tags::ItemDelimitation) {
                m_pos += 8;
                if (length != kUndefinedLength || top) {
                    throw ScanFailure{DicomScanResult::Status::Broken,
                                      "malformed data: item delimiter at byte " +
                                          hexOffset(m_pos - 8) + " outside an item"};
                }
                return;
            }
            if (tag == tags::SequenceDelimitation && top) {
                m_pos += 8; // stray delimiter at top level; DCMTK also tolerates it
                continue;
            }
            if (!parseElement(ds, explicitVr, depth, top)) {
                return; // pixel data reached
            }
        }
        if (length != kUndefinedLength && m_pos != end) {
            throw ScanFailure{DicomScanResult::Status::Broken,
                              "malformed data: an element overruns its item at byte " +
                                  hexOffset(m_pos)};
        }
    }

    /// Parses one element at m_pos. Returns false when it was the top-level pixel data.
    bool parseElement(DicomDataSet& ds, bool explicitVr, int depth, bool top) {
        const std::uint64_t start = m_pos;
        const char* p = m_window.at(start, 8, "element header");
        const DicomTag tag = dicomTag(u16(p), u16(p + 2));
        char vr[2];
        std::uint32_t length = 0;
        std::uint64_t valueStart = 0;
        if (explicitVr) {
            vr[0] = p[4];
            vr[1] = p[5];
            if (!isKnownVr(vr[0], vr[1])) {
                throw Unsupported{"unknown VR in " + tagText(tag) + " at byte " + hexOffset(start)};
            }
            if (hasLongLength(vr)) {
                length = u32(m_window.at(start + 8, 4, "element length"));
                valueStart = start + 12;
            } else {
                length = u16(p + 6);
                valueStart = start + 8;
            }
        } else {
            length = u32(p + 4);
            valueStart = start + 8;
            implicitVr(tag, vr);
            if (length == kUndefinedLength && !isPixelDataTag(tag)) {
                vr[0] = 'S';
                vr[1] = 'Q';
            }
        }

        if (top && isPixelDataTag(tag)) {
            DicomElement& e = ds.add(tag, vr, length, valueStart);
            (void)e;
            m_header.hasPixelData = true;
            m_header.pixelDataTag = tag;
            m_header.pixelDataOffset = valueStart;
            m_header.encapsulated = length == kUndefinedLength;
            m_header.pixelDataLength = m_header.encapsulated ? 0 : length;
            m_pos = valueStart;
            return false;
        }

        const bool isSequence = (vr[0] == 'S' && vr[1] == 'Q') ||
                                (vr[0] == 'U' && vr[1] == 'N' && length == kUndefinedLength);
        if (isSequence) {
            if (depth >= kMaxDepth) {
                throw ScanFailure{DicomScanResult::Status::Broken,
                                  "sequences nested more than " + std::to_string(kMaxDepth) +
                                      " levels deep at byte " + hexOffset(start)};
            }
            // An UN element of undefined length is a sequence in implicit VR (PS3.5 6.2.2).
            const bool itemsExplicit = (vr[0] == 'U') ? false : explicitVr;
            const char sq[2] = {'S', 'Q'};
            // Items are filled into their own data sets, so `sequence` stays valid.
            DicomElement& sequence = ds.add(tag, sq, length, valueStart);
            m_pos = valueStart;
            sequence.items = parseSequence(ds, tag, length, itemsExplicit, depth);
            return true;
        }

        if (length == kUndefinedLength) {
            // Encapsulated data inside an item (an icon image): skip its fragments.
            m_pos = valueStart;
            skipFragments(tag);
            ds.add(tag, vr, 0, valueStart);
            return true;
        }
        if (valueStart + length > m_window.size()) {
            throw ScanFailure{DicomScanResult::Status::Broken,
                              "truncated file: " + tagText(tag) + " needs " +
                                  std::to_string(length) + " bytes at byte " +
                                  hexOffset(valueStart) + " but the file ends after " +
                                  hexOffset(m_window.size()) + " bytes"};
        }
        DicomElement& e = ds.add(tag, vr, length, valueStart);
        if (length <= DicomDataSet::kMaxLoadedValue) {
            const char* value = length ? m_window.at(valueStart, length, "element value") : "";
            ds.keepValue(e, value, length);
        }
        m_pos = valueStart + length;
        return true;
    }

    std::vector<DicomDataSet> parseSequence(const DicomDataSet& parent, DicomTag tag,
                                            std::uint32_t length, bool explicitVr, int depth) {
        std::vector<DicomDataSet> items;
        const std::uint64_t end = length == kUndefinedLength ? ~std::uint64_t(0) : m_pos + length;
        while (m_pos < end) {
            const char* p = m_window.at(m_pos, 8, "sequence item");
            const DicomTag itemTag = dicomTag(u16(p), u16(p + 2));
            const std::uint32_t itemLength = u32(p + 4);
            if (itemTag == tags::SequenceDelimitation) {
                m_pos += 8;
                if (length != kUndefinedLength) {
                    throw ScanFailure{DicomScanResult::Status::Broken,
                                      "malformed sequence " + tagText(tag) +
                                          ": delimiter in a sequence of defined length"};
                }
                return items;
            }
            if (itemTag != tags::Item) {
                throw ScanFailure{DicomScanResult::Status::Broken,
                                  "malformed sequence " + tagText(tag) +
                                      ": expected an item at byte " + hexOffset(m_pos)};
            }
            m_pos += 8;
            DicomDataSet item = parent.makeItem();
            parseItem(item, itemLength, explicitVr, depth + 1, false);
            items.push_back(std::move(item));
        }
        if (length != kUndefinedLength && m_pos != end) {
            throw ScanFailure{DicomScanResult::Status::Broken,
                              "malformed sequence " + tagText(tag) + ": items overrun it"};
        }
        return items;
    }

    void skipFragments(DicomTag tag) {
        while (true) {
            const char* p = m_window.at(m_pos, 8, "encapsulated fragment");
            const DicomTag itemTag = dicomTag(u16(p), u16(p + 2));
            const std::uint32_t len = u32(p + 4);
            m_pos += 8;
            if (itemTag == tags::SequenceDelimitation) {
                return;
            }
            if (itemTag != tags::Item || len == kUndefinedLength) {
                throw ScanFailure{DicomScanResult::Status::Broken,
                                  "malformed encapsulated data in " + tagText(tag)};
            }
            if (m_pos + len > m_window.size()) {
                throw ScanFailure{DicomScanResult::Status::Broken,
                                  "truncated file: a fragment of " + tagText(tag) +
                                      " runs past the end"};
            }
            m_pos += len;
        }
    }

    FileWindow& m_window;
    DicomFileHeader& m_header;
    std::uint64_t m_pos = 0;
};

void finishHeader(DicomFileHeader& header) {
    if (header.readByDcmtk || !header.hasPixelData || header.encapsulated) {
        header.directPixelAccess = false;
        return;
    }
    header.directPixelAccess = header.transferSyntax == syntax::ExplicitLittle ||
                               header.transferSyntax == syntax::ImplicitLittle;
}

} // namespace

DicomScanResult DicomHeaderScanner::scan(const std::string& path) {
    DicomScanResult result;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        result.reason = std::string("cannot open: ") + std::strerror(errno);
        return result;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        result.reason = "not a regular file";
        return result;
    }
    result.header.fileSize = std::uint64_t(st.st_size);
    FileWindow window(fd, result.header.fileSize);
    try {
        Parser parser(window, result.header);
        parser.parseFile();
        if (result.header.hasPixelData && !result.header.encapsulated &&
            result.header.pixelDataOffset + result.header.pixelDataLength >
                result.header.fileSize) {
            throw ScanFailure{
                DicomScanResult::Status::Broken,
                "truncated file: PixelData needs " + std::to_string(result.header.pixelDataLength) +
                    " bytes at byte " + hexOffset(result.header.pixelDataOffset) +
                    " but the file ends after " + hexOffset(result.header.fileSize) + " bytes"};
        }
        result.status = DicomScanResult::Status::Ok;
    } catch (const ScanFailure& failure) {
        result.status = failure.status;
        result.reason = failure.reason;
    } catch (const Unsupported&) {
        close(fd);
        return readHeaderWithDcmtk(path);
    } catch (const std::bad_alloc&) {
        result.status = DicomScanResult::Status::Broken;
        result.reason = "header too large to read";
    }
    close(fd);
    finishHeader(result.header);
    return result;
}

} // namespace radiolens
