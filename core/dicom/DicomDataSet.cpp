#include "core/dicom/DicomDataSet.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

namespace radiolens {

namespace {

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) {
        s.remove_suffix(1);
    }
    while (!s.empty() && s.front() == ' ') {
        s.remove_prefix(1);
    }
    return s;
}

template <typename T>
T readLittle(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

const std::vector<DicomDataSet> kNoItems;

} // namespace

std::string transferSyntaxName(const std::string& uid) {
    static const std::unordered_map<std::string, std::string> names = {
        {syntax::ImplicitLittle, "implicit VR little endian"},
        {syntax::ExplicitLittle, "explicit VR little endian"},
        {syntax::Deflated, "deflated explicit VR little endian"},
        {syntax::ExplicitBig, "explicit VR big endian"},
        {syntax::JpegBaseline, "JPEG baseline"},
        {syntax::JpegExtended, "JPEG extended"},
        {syntax::JpegLossless, "JPEG lossless"},
        {syntax::JpegLosslessSV1, "JPEG lossless SV1"},
        {syntax::JpegLsLossless, "JPEG-LS lossless"},
        {syntax::JpegLsNearLossless, "JPEG-LS near-lossless"},
        {syntax::Jpeg2000Lossless, "JPEG 2000 lossless"},
        {syntax::Jpeg2000, "JPEG 2000"},
        {syntax::Rle, "RLE lossless"},
    };
    const auto it = names.find(uid);
    return it != names.end() ? it->second : uid;
}

std::string describeTag(DicomTag tag) {
    static const std::unordered_map<DicomTag, const char*> keywords = {
        {tags::TransferSyntaxUID, "TransferSyntaxUID"},
        {tags::SOPClassUID, "SOPClassUID"},
        {tags::SOPInstanceUID, "SOPInstanceUID"},
        {tags::Modality, "Modality"},
        {tags::StudyInstanceUID, "StudyInstanceUID"},
        {tags::SeriesInstanceUID, "SeriesInstanceUID"},
        {tags::InstanceNumber, "InstanceNumber"},
        {tags::SeriesNumber, "SeriesNumber"},
        {tags::ImagePositionPatient, "ImagePositionPatient"},
        {tags::ImageOrientationPatient, "ImageOrientationPatient"},
        {tags::SamplesPerPixel, "SamplesPerPixel"},
        {tags::PhotometricInterpretation, "PhotometricInterpretation"},
        {tags::PlanarConfiguration, "PlanarConfiguration"},
        {tags::NumberOfFrames, "NumberOfFrames"},
        {tags::Rows, "Rows"},
        {tags::Columns, "Columns"},
        {tags::PixelSpacing, "PixelSpacing"},
        {tags::ImagerPixelSpacing, "ImagerPixelSpacing"},
        {tags::BitsAllocated, "BitsAllocated"},
        {tags::BitsStored, "BitsStored"},
        {tags::HighBit, "HighBit"},
        {tags::PixelRepresentation, "PixelRepresentation"},
        {tags::WindowCenter, "WindowCenter"},
        {tags::WindowWidth, "WindowWidth"},
        {tags::RescaleIntercept, "RescaleIntercept"},
        {tags::RescaleSlope, "RescaleSlope"},
        {tags::SliceThickness, "SliceThickness"},
        {tags::SpacingBetweenSlices, "SpacingBetweenSlices"},
        {tags::GridFrameOffsetVector, "GridFrameOffsetVector"},
        {tags::PixelData, "PixelData"},
    };
    char code[16];
    std::snprintf(code, sizeof code, "(%04X,%04X)", tagGroup(tag), tagElement(tag));
    const auto it = keywords.find(tag);
    return it != keywords.end() ? std::string(code) + " " + it->second : std::string(code);
}

DicomDataSet::DicomDataSet()
    : m_storage(std::make_shared<std::string>()) {}

DicomDataSet DicomDataSet::makeItem() const {
    DicomDataSet item;
    item.m_storage = m_storage;
    return item;
}

DicomElement& DicomDataSet::add(DicomTag tag, const char vr[2], std::uint32_t length,
                                std::uint64_t fileOffset) {
    if (!m_elements.empty() && tag <= m_elements.back().tag) {
        m_sorted = false;
    }
    DicomElement& e = m_elements.emplace_back();
    e.tag = tag;
    e.vr[0] = vr[0];
    e.vr[1] = vr[1];
    e.length = length;
    e.fileOffset = fileOffset;
    return e;
}

void DicomDataSet::keepValue(DicomElement& element, const char* data, std::size_t size) {
    element.valueBegin = std::uint32_t(m_storage->size());
    element.loaded = true;
    element.length = std::uint32_t(size);
    m_storage->append(data, size);
}

const DicomElement* DicomDataSet::find(DicomTag tag) const {
    if (m_sorted) {
        const auto it =
            std::lower_bound(m_elements.begin(), m_elements.end(), tag,
                             [](const DicomElement& e, DicomTag t) { return e.tag < t; });
        return it != m_elements.end() && it->tag == tag ? &*it : nullptr;
    }
    for (const auto& e : m_elements) {
        if (e.tag == tag) {
            return &e;
        }
    }
    return nullptr;
}

std::string_view DicomDataSet::bytes(const DicomElement& element) const {
    if (!element.loaded) {
        return {};
    }
    return std::string_view(m_storage->data() + element.valueBegin, element.length);
}

std::string_view DicomDataSet::bytes(DicomTag tag) const {
    const DicomElement* e = find(tag);
    return e ? bytes(*e) : std::string_view{};
}

std::string DicomDataSet::text(DicomTag tag, const std::string& fallback) const {
    const DicomElement* e = find(tag);
    if (!e) {
        return fallback;
    }
    return std::string(trimmed(bytes(*e)));
}

std::string DicomDataSet::textValue(DicomTag tag, std::size_t index) const {
    std::string_view all = bytes(tag);
    for (std::size_t i = 0; i < index; ++i) {
        const auto slash = all.find('\\');
        if (slash == std::string_view::npos) {
            return {};
        }
        all.remove_prefix(slash + 1);
    }
    return std::string(trimmed(all.substr(0, all.find('\\'))));
}

std::vector<double> DicomDataSet::numbers(DicomTag tag) const {
    std::vector<double> out;
    const DicomElement* e = find(tag);
    if (!e || !e->loaded) {
        return out;
    }
    const std::string_view value = bytes(*e);
    const auto binary = [&](auto tagType) {
        using T = decltype(tagType);
        for (std::size_t p = 0; p + sizeof(T) <= value.size(); p += sizeof(T)) {
            out.push_back(double(readLittle<T>(value.data() + p)));
        }
    };
    if (e->isVr("US")) {
        binary(std::uint16_t{});
    } else if (e->isVr("SS")) {
        binary(std::int16_t{});
    } else if (e->isVr("UL")) {
        binary(std::uint32_t{});
    } else if (e->isVr("SL")) {
        binary(std::int32_t{});
    } else if (e->isVr("FL") || e->isVr("FD")) {
        e->isVr("FL") ? binary(float{}) : binary(double{});
        for (double v : out) {
            if (!std::isfinite(v)) {
                throw DicomValueError(describeTag(tag) +
                                      " holds a value that is not a finite number");
            }
        }
    } else {
        // DS, IS, or text of an unknown VR (implicit VR files): backslash-separated numbers.
        std::string_view rest = value;
        while (true) {
            const auto slash = rest.find('\\');
            const std::string_view part = trimmed(rest.substr(0, slash));
            if (!part.empty()) {
                const std::string copy(part);
                char* end = nullptr;
                errno = 0;
                const double v = std::strtod(copy.c_str(), &end);
                // strtod also takes "nan" and "inf", which no DICOM number may be.
                if (end == copy.c_str() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
                    throw DicomValueError(describeTag(tag) + " is '" + std::string(trimmed(value)) +
                                          "', not a number");
                }
                if (e->isVr("IS") && (std::abs(v) > 2147483647.0 || v != std::trunc(v))) {
                    throw DicomValueError(describeTag(tag) + " is '" + copy + "', not an integer");
                }
                out.push_back(v);
            }
            if (slash == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(slash + 1);
        }
    }
    return out;
}

std::optional<double> DicomDataSet::number(DicomTag tag) const {
    const std::vector<double> values = numbers(tag);
    if (values.empty()) {
        return std::nullopt;
    }
    return values.front();
}

std::optional<long long> DicomDataSet::integer(DicomTag tag) const {
    const std::optional<double> v = number(tag);
    if (!v) {
        return std::nullopt;
    }
    // Checked before the cast: a double outside the range of long long is undefined to cast.
    if (std::abs(*v) > 9.0e18 || *v != std::trunc(*v)) {
        throw DicomValueError(describeTag(tag) + " is " + std::to_string(*v) +
                              ", not an integer in range");
    }
    return (long long)*v;
}

const std::vector<DicomDataSet>& DicomDataSet::items(DicomTag tag) const {
    const DicomElement* e = find(tag);
    return e ? e->items : kNoItems;
}

} // namespace radiolens
