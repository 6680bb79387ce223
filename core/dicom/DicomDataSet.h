#pragma once

#include "core/dicom/DicomTags.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace radiolens {

class DicomDataSet;

/// One attribute of a parsed header. Values up to DicomDataSet::kMaxLoadedValue bytes are kept
/// (little-endian for binary VRs); larger ones are only located in the file.
struct DicomElement {
    DicomTag tag = 0;
    char vr[2] = {'U', 'N'};
    std::uint32_t length = 0;        ///< value length in the file; 0xFFFFFFFF when undefined
    std::uint64_t fileOffset = 0;    ///< where the value starts in the file (0 when unknown)
    std::uint32_t valueBegin = 0;    ///< offset of the kept value in the data set's storage
    bool loaded = false;             ///< the value bytes are kept
    std::vector<DicomDataSet> items; ///< items of a sequence (VR SQ)

    bool isVr(const char* v) const { return vr[0] == v[0] && vr[1] == v[1]; }
};

/// A parsed DICOM header (a data set or a sequence item): elements in file order with their
/// values, read by tag. Filled either by DicomHeaderScanner or from a DCMTK data set, so that
/// one piece of code interprets headers whatever read them.
///
/// A value type; copies share the (immutable once filled) value storage.
class DicomDataSet {
public:
    static constexpr std::uint32_t kMaxLoadedValue = 64 * 1024;

    DicomDataSet();

    const std::vector<DicomElement>& elements() const { return m_elements; }
    const DicomElement* find(DicomTag tag) const;
    bool has(DicomTag tag) const { return find(tag) != nullptr; }

    /// The kept value bytes of `tag` (empty view when absent, empty or not kept).
    std::string_view bytes(DicomTag tag) const;
    std::string_view bytes(const DicomElement& element) const;

    /// Whole text value with trailing spaces and NULs removed (multiple values stay separated
    /// by '\\'); `fallback` when absent.
    std::string text(DicomTag tag, const std::string& fallback = {}) const;
    /// Value `index` of a multi-valued text attribute, trimmed.
    std::string textValue(DicomTag tag, std::size_t index) const;

    /// Numbers of a DS/IS/FL/FD/US/SS/UL/SL attribute. Throws DicomValueError naming the
    /// attribute when a text value is not a number.
    std::vector<double> numbers(DicomTag tag) const;
    /// First number, or nullopt when absent or empty (throws DicomValueError when malformed).
    std::optional<double> number(DicomTag tag) const;
    /// First number as an integer (US/SS/UL/SL binary or IS text); nullopt when absent.
    std::optional<long long> integer(DicomTag tag) const;

    /// Items of sequence `tag` (empty when absent).
    const std::vector<DicomDataSet>& items(DicomTag tag) const;

    // Filling (by readers).
    DicomElement& add(DicomTag tag, const char vr[2], std::uint32_t length,
                      std::uint64_t fileOffset);
    /// Keeps `size` bytes as the value of `element` (which must be the last one added).
    void keepValue(DicomElement& element, const char* data, std::size_t size);
    /// Makes `item` share this data set's storage (items are filled into the parent storage).
    DicomDataSet makeItem() const;

private:
    std::vector<DicomElement> m_elements;
    std::shared_ptr<std::string> m_storage;
    bool m_sorted = true;
};

/// A malformed value in an attribute Radiolens needs, e.g. NumberOfFrames "1A".
class DicomValueError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// "(0028,0008) NumberOfFrames" for messages.
std::string describeTag(DicomTag tag);

} // namespace radiolens
