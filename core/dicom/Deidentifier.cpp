#include "core/dicom/Deidentifier.h"

#include "core/dicom/ConfidentialityProfile.h"
#include "core/dicom/DcmtkBridge.h"
#include "core/domain/Sha256.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcvrat.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace fs = std::filesystem;

namespace radiolens {

namespace {

constexpr const char* kMethod = "PS3.15 E.1 Basic Application Level Confidentiality Profile";

/// Modalities whose images often show patient identity in the pixels (ultrasound, angiography
/// and fluoroscopy screens, endoscopy, photographs, screen captures).
bool oftenBurnedIn(const std::string& modality) {
    for (const char* m : {"US", "XA", "RF", "ES", "OT", "SC", "XC"}) {
        if (modality == m) {
            return true;
        }
    }
    return false;
}

/// Secondary Capture SOP classes: screen captures by nature.
bool isSecondaryCapture(const std::string& sopClassUid) {
    return sopClassUid.rfind("1.2.840.10008.5.1.4.1.1.7", 0) == 0;
}

std::string trim(const std::string& text) {
    std::size_t begin = 0;
    std::size_t end = text.size();
    while (begin < end && (std::isspace((unsigned char)text[begin]) || text[begin] == '\0')) {
        ++begin;
    }
    while (end > begin && (std::isspace((unsigned char)text[end - 1]) || text[end - 1] == '\0')) {
        --end;
    }
    return text.substr(begin, end - begin);
}

std::vector<std::string> splitValues(const std::string& text) {
    std::vector<std::string> values;
    std::size_t start = 0;
    while (true) {
        const std::size_t stop = text.find('\\', start);
        values.push_back(trim(text.substr(start, stop - start)));
        if (stop == std::string::npos) {
            return values;
        }
        start = stop + 1;
    }
}

std::string stringOf(DcmItem& item, const DcmTagKey& tag) {
    OFString value;
    if (item.findAndGetOFStringArray(tag, value).good()) {
        return trim(value.c_str());
    }
    return {};
}

/// A new UID under the 2.25 root: a random (version 4) UUID as one decimal number. It says
/// nothing about the machine, the site or the time it was made.
std::string newUuidUid(std::random_device& random) {
    std::array<std::uint8_t, 16> uuid{};
    for (std::size_t i = 0; i < uuid.size(); i += 4) {
        const std::uint32_t r = random();
        for (std::size_t k = 0; k < 4; ++k) {
            uuid[i + k] = std::uint8_t(r >> (8 * k));
        }
    }
    uuid[6] = std::uint8_t((uuid[6] & 0x0F) | 0x40); // version 4
    uuid[8] = std::uint8_t((uuid[8] & 0x3F) | 0x80); // RFC 4122 variant
    std::string digits;
    while (std::any_of(uuid.begin(), uuid.end(), [](std::uint8_t b) { return b != 0; })) {
        unsigned remainder = 0;
        for (std::uint8_t& byte : uuid) {
            const unsigned value = (remainder << 8) | byte;
            byte = std::uint8_t(value / 10);
            remainder = value % 10;
        }
        digits.push_back(char('0' + remainder));
    }
    std::reverse(digits.begin(), digits.end());
    return "2.25." + (digits.empty() ? std::string("0") : digits);
}

std::vector<std::uint8_t> bytesOfHex(const std::string& hex) {
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(std::uint8_t(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
}

/// HMAC-SHA-256 (RFC 2104) of `message` under a 32-byte `key`, as hex.
std::string hmacSha256(const std::array<std::uint8_t, 32>& key, const std::string& message) {
    std::array<std::uint8_t, 64> inner{};
    std::array<std::uint8_t, 64> outer{};
    for (std::size_t i = 0; i < 64; ++i) {
        const std::uint8_t k = i < key.size() ? key[i] : 0;
        inner[i] = std::uint8_t(k ^ 0x36);
        outer[i] = std::uint8_t(k ^ 0x5c);
    }
    Sha256 first;
    first.update(inner.data(), inner.size());
    first.update(message.data(), message.size());
    const std::vector<std::uint8_t> innerDigest = bytesOfHex(first.hexDigest());
    Sha256 second;
    second.update(outer.data(), outer.size());
    second.update(innerDigest.data(), innerDigest.size());
    return second.hexDigest();
}

bool isOverlayGroup(Uint16 group) {
    return (group & 0xFF01) == 0x6000;
}

bool isCurveGroup(Uint16 group) {
    return (group & 0xFF01) == 0x5000;
}

/// Attributes that hold instance UIDs but are not in Table E.1-1 (2024b): kept, they would
/// link a de-identified instance to its original. Radiolens replaces them like U attributes
/// (PS3.15 E.1.1 note 4 invites this).
bool isUnlistedInstanceUid(const DcmTagKey& key) {
    static const DcmTagKey kTags[] = {
        {0x0008, 0x1167}, // Multi-frame Source SOP Instance UID
        {0x0008, 0x3012}, // Radiopharmaceutical Administration Event UID
        {0x0018, 0x991E}, // Target Frame of Reference UID
        {0x0020, 0x0242}, // SOP Instance UID of Concatenation Source
        {0x0020, 0x9312}, // Volume Frame of Reference UID
        {0x0020, 0x9313}, // Table Frame of Reference UID
        {0x0028, 0x0304}, // Referenced Color Palette Instance UID
        {0x0040, 0xA021}, // Findings Group UID (Trial)
        {0x0040, 0xA022}, // Referenced Findings Group UID (Trial)
        {0x0044, 0x0102}, // Assertion UID
        {0x0044, 0x0108}, // Referenced Assertion UID
        {0x0070, 0x031B}, // Referenced Fiducial UID
        {0x0070, 0x1209}, // Volumetric Presentation Input Set UID
        {0x300A, 0x0675}, // Equipment Frame of Reference UID
    };
    return std::find(std::begin(kTags), std::end(kTags), key) != std::end(kTags);
}

} // namespace

class Deidentifier::Impl {
public:
    explicit Impl(DeidentifyOptions options)
        : m_options(std::move(options)) {
        for (std::size_t i = 0; i < m_key.size(); i += 4) {
            const std::uint32_t r = m_random();
            for (std::size_t k = 0; k < 4; ++k) {
                m_key[i + k] = std::uint8_t(r >> (8 * k));
            }
        }
    }

    DeidentifyResult deidentify(const std::string& inputPath, const std::string& outputDir);
    const std::map<std::string, std::string>& uidMap() const { return m_uidMap; }

private:
    /// The new UID for `original`, made on first sight.
    std::string mapUid(const std::string& original) {
        const auto it = m_uidMap.find(original);
        if (it != m_uidMap.end()) {
            return it->second;
        }
        return m_uidMap[original] = newUuidUid(m_random);
    }

    std::string pseudonymFor(const std::string& patientId) {
        if (!m_options.patientId.empty()) {
            return m_options.patientId;
        }
        std::string hex = hmacSha256(m_key, patientId).substr(0, 12);
        std::transform(hex.begin(), hex.end(), hex.begin(),
                       [](unsigned char c) { return char(std::toupper(c)); });
        return "ANON" + hex;
    }

    void processItem(DcmItem& item, DeidentifyResult& result);
    /// Applies `action` to the element at `index`; returns false when it was removed.
    bool apply(DcmItem& item, unsigned long index, ProfileAction action, DeidentifyResult& result);
    void remapUids(DcmElement& element, DeidentifyResult& result);
    bool putDummy(DcmElement& element, DeidentifyResult& result);
    /// Second pass: UIDs outside the table's U attributes that name an instance this export
    /// replaced (a reference in an attribute the table does not list).
    void remapKnownUids(DcmItem& item, DeidentifyResult& result);
    void addWarnings(DcmDataset& dataset, const std::string& inputPath,
                     DeidentifyResult& result) const;

    DeidentifyOptions m_options;
    std::map<std::string, std::string> m_uidMap;
    std::random_device m_random;
    std::array<std::uint8_t, 32> m_key{};
};

void Deidentifier::Impl::remapUids(DcmElement& element, DeidentifyResult& result) {
    OFString text;
    element.getOFStringArray(text);
    std::string out;
    bool first = true;
    for (const std::string& value : splitValues(text.c_str())) {
        out += first ? "" : "\\";
        first = false;
        if (!value.empty()) {
            out += mapUid(value);
            ++result.uidsRemapped;
        }
    }
    element.putString(out.c_str());
}

bool Deidentifier::Impl::putDummy(DcmElement& element, DeidentifyResult& result) {
    const DcmEVR vr = element.getTag().getEVR();
    switch (vr) {
    case EVR_UI: {
        OFString text;
        element.getOFStringArray(text);
        if (trim(text.c_str()).empty()) {
            element.putString(newUuidUid(m_random).c_str());
            ++result.uidsRemapped;
        } else {
            remapUids(element, result);
        }
        return true;
    }
    case EVR_DA:
        return element.putString("19000101").good();
    case EVR_TM:
        return element.putString("000000").good();
    case EVR_DT:
        return element.putString("19000101000000").good();
    case EVR_AS:
        return element.putString("000Y").good();
    case EVR_PN:
    case EVR_AE:
        return element.putString("ANONYMOUS").good();
    case EVR_CS:
    case EVR_LO:
    case EVR_SH:
    case EVR_ST:
    case EVR_LT:
    case EVR_UT:
    case EVR_UC:
    case EVR_UR:
        return element.putString("ANONYMIZED").good();
    case EVR_DS:
    case EVR_IS:
    case EVR_US:
    case EVR_SS:
    case EVR_UL:
    case EVR_SL:
    case EVR_FL:
    case EVR_FD:
    case EVR_SV:
    case EVR_UV:
    case EVR_OL:
    case EVR_OF:
    case EVR_OD:
    case EVR_OV:
        return element.putString("0").good();
    case EVR_AT:
        return static_cast<DcmAttributeTag&>(element).putTagVal(DcmTagKey(0, 0)).good();
    case EVR_OB:
    case EVR_UN: {
        const Uint8 zeros[2] = {0, 0};
        return element.putUint8Array(zeros, 2).good();
    }
    case EVR_OW: {
        const Uint16 zero = 0;
        return element.putUint16Array(&zero, 1).good();
    }
    default:
        return false;
    }
}

bool Deidentifier::Impl::apply(DcmItem& item, unsigned long index, ProfileAction action,
                               DeidentifyResult& result) {
    DcmElement& element = *item.getElement(index);
    const bool sequence = element.ident() == EVR_SQ;
    const bool uid = element.getTag().getEVR() == EVR_UI;
    if (action == ProfileAction::ReplaceUid && !uid) {
        action = ProfileAction::Remove; // a UID we cannot read as one (UN): never keep it
    }
    switch (action) {
    case ProfileAction::Keep:
        if (sequence) {
            auto& items = static_cast<DcmSequenceOfItems&>(element);
            for (unsigned long i = 0; i < items.card(); ++i) {
                processItem(*items.getItem(i), result);
            }
        }
        return true;
    case ProfileAction::Zero:
        element.clear();
        ++result.emptied;
        return true;
    case ProfileAction::Clean:
    case ProfileAction::Dummy:
        if (sequence) {
            auto& items = static_cast<DcmSequenceOfItems&>(element);
            items.clear();
            items.append(new DcmItem());
            ++result.replaced;
            return true;
        }
        if (putDummy(element, result)) {
            ++result.replaced;
            return true;
        }
        break; // no dummy for this VR: remove it instead
    case ProfileAction::ReplaceUid:
        remapUids(element, result);
        return true;
    case ProfileAction::Remove:
        break;
    }
    delete item.remove(index);
    ++result.removed;
    return false;
}

void Deidentifier::Impl::processItem(DcmItem& item, DeidentifyResult& result) {
    for (unsigned long i = 0; i < item.card();) {
        DcmElement* element = item.getElement(i);
        const DcmTagKey key = element->getTag();
        const Uint16 group = key.getGroup();
        ProfileAction action = ProfileAction::Keep;
        if (group % 2 == 1) {
            action = m_options.keepPrivateTags ? ProfileAction::Keep : ProfileAction::Remove;
        } else if (isOverlayGroup(group) || isCurveGroup(group)) {
            action = ProfileAction::Remove;
        } else if (key == DCM_PatientName) {
            element->putString(m_options.patientName.c_str());
            ++result.replaced;
            ++i;
            continue;
        } else if (key == DCM_PatientID) {
            OFString original;
            element->getOFStringArray(original);
            element->putString(pseudonymFor(trim(original.c_str())).c_str());
            ++result.replaced;
            ++i;
            continue;
        } else if (const ProfileAttribute* row =
                       ConfidentialityProfile::find(group, key.getElement())) {
            action = row->action;
        } else if (isUnlistedInstanceUid(key)) {
            action = ProfileAction::ReplaceUid;
        }
        if (apply(item, i, action, result)) {
            ++i;
        }
    }
}

void Deidentifier::Impl::remapKnownUids(DcmItem& item, DeidentifyResult& result) {
    for (unsigned long i = 0; i < item.card(); ++i) {
        DcmElement& element = *item.getElement(i);
        if (element.ident() == EVR_SQ) {
            auto& items = static_cast<DcmSequenceOfItems&>(element);
            for (unsigned long k = 0; k < items.card(); ++k) {
                remapKnownUids(*items.getItem(k), result);
            }
            continue;
        }
        if (element.getTag().getEVR() != EVR_UI) {
            continue;
        }
        const DcmTagKey key = element.getTag();
        const ProfileAttribute* row =
            ConfidentialityProfile::find(key.getGroup(), key.getElement());
        if ((row != nullptr && !row->isPattern() && row->action != ProfileAction::Keep) ||
            isUnlistedInstanceUid(key)) {
            continue; // done by the first pass
        }
        OFString text;
        element.getOFStringArray(text);
        std::vector<std::string> values = splitValues(text.c_str());
        bool changed = false;
        for (std::string& value : values) {
            const auto it = m_uidMap.find(value);
            if (it != m_uidMap.end()) {
                value = it->second;
                changed = true;
                ++result.uidsRemapped;
            }
        }
        if (changed) {
            std::string out;
            for (std::size_t k = 0; k < values.size(); ++k) {
                out += (k ? "\\" : "") + values[k];
            }
            element.putString(out.c_str());
        }
    }
}

void Deidentifier::Impl::addWarnings(DcmDataset& dataset, const std::string& inputPath,
                                     DeidentifyResult& result) const {
    const std::string burnedIn = stringOf(dataset, DCM_BurnedInAnnotation);
    const std::string modality = stringOf(dataset, DCM_Modality);
    const std::string sopClass = stringOf(dataset, DCM_SOPClassUID);
    if (burnedIn == "YES") {
        result.warnings.push_back(inputPath +
                                  ": Burned In Annotation is YES: the pixels may show the "
                                  "patient's identity, and de-identification does not clean "
                                  "pixels; check the images before sharing them");
    } else if (burnedIn.empty() && (oftenBurnedIn(modality) || isSecondaryCapture(sopClass))) {
        const std::string kind =
            isSecondaryCapture(sopClass) ? "a secondary capture" : "a " + modality + " image";
        result.warnings.push_back(
            inputPath + ": " + kind +
            " without Burned In Annotation: such images often show the patient's identity in "
            "the pixels, which de-identification does not clean; check them before sharing");
    }
    if (stringOf(dataset, DCM_RecognizableVisualFeatures) == "YES") {
        result.warnings.push_back(inputPath +
                                  ": Recognizable Visual Features is YES: the images may show "
                                  "the patient's face or other identifying features");
    }
}

DeidentifyResult Deidentifier::Impl::deidentify(const std::string& inputPath,
                                                const std::string& outputDir) {
    DeidentifyResult result;
    result.inputPath = inputPath;
    std::error_code error;
    if (!fs::is_regular_file(inputPath, error)) {
        throw std::runtime_error(inputPath + ": no such file");
    }
    DcmFileFormat file;
    const OFCondition loaded = file.loadFile(inputPath.c_str(), EXS_Unknown, EGL_noChange);
    if (loaded.bad()) {
        throw std::runtime_error(inputPath + ": cannot be read as DICOM (" + loaded.text() + ")");
    }
    DcmDataset& dataset = *file.getDataset();
    if (stringOf(dataset, DCM_SOPInstanceUID).empty()) {
        throw std::runtime_error(inputPath + ": not a DICOM instance (no SOP Instance UID)");
    }
    const E_TransferSyntax xfer = dataset.getOriginalXfer();
    if (xfer == EXS_Unknown) {
        throw std::runtime_error(inputPath + ": unknown transfer syntax");
    }
    addWarnings(dataset, inputPath, result);

    processItem(dataset, result);
    remapKnownUids(dataset, result);

    dataset.putAndInsertString(DCM_PatientIdentityRemoved, "YES");
    dataset.putAndInsertString(DCM_DeidentificationMethod, kMethod);
    DcmItem* code = nullptr;
    dataset.findAndDeleteElement(DCM_DeidentificationMethodCodeSequence);
    if (dataset.findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, code, 0).good() &&
        code != nullptr) {
        code->putAndInsertString(DCM_CodeValue, "113100");
        code->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
        code->putAndInsertString(DCM_CodeMeaning, "Basic Application Confidentiality Profile");
    }

    const auto folderName = [&](const DcmTagKey& tag, const char* missing) {
        const std::string uid = stringOf(dataset, tag);
        return uid.empty() ? std::string(missing) : uid;
    };
    const fs::path folder = fs::path(outputDir) / folderName(DCM_StudyInstanceUID, "no-study") /
                            folderName(DCM_SeriesInstanceUID, "no-series");
    const std::string sop = stringOf(dataset, DCM_SOPInstanceUID);
    fs::create_directories(folder, error);
    if (error) {
        throw std::runtime_error(inputPath + ": cannot create " + folder.string() + ": " +
                                 error.message());
    }
    const fs::path target = folder / (sop + ".dcm");
    const fs::path partial = folder / (sop + ".dcm.part");
    // A new file around the data set: new file meta information (no source AE titles or
    // private meta elements) and a preamble of zeros, not the original's.
    DcmFileFormat fresh(file.getAndRemoveDataset(), OFFalse);
    const OFCondition saved = fresh.saveFile(partial.c_str(), xfer, EET_UndefinedLength,
                                             EGL_recalcGL, EPD_noChange, 0, 0, EWM_createNewMeta);
    if (saved.bad()) {
        fs::remove(partial, error);
        throw std::runtime_error(inputPath + ": cannot write " + target.string() + " (" +
                                 saved.text() + ")");
    }
    fs::rename(partial, target, error);
    if (error) {
        fs::remove(partial, error);
        throw std::runtime_error(inputPath + ": cannot write " + target.string());
    }
    result.outputPath = target.string();
    return result;
}

Deidentifier::Deidentifier(DeidentifyOptions options)
    : m_impl(std::make_unique<Impl>(std::move(options))) {
    initialiseDcmtk();
}

Deidentifier::~Deidentifier() = default;
Deidentifier::Deidentifier(Deidentifier&&) noexcept = default;
Deidentifier& Deidentifier::operator=(Deidentifier&&) noexcept = default;

DeidentifyResult Deidentifier::deidentifyFile(const std::string& inputPath,
                                              const std::string& outputDir) {
    return m_impl->deidentify(inputPath, outputDir);
}

const std::map<std::string, std::string>& Deidentifier::uidMap() const {
    return m_impl->uidMap();
}

} // namespace radiolens
