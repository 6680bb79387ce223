#include "core/dicom/ResultDocuments.h"

#include "core/dicom/DcmtkBridge.h"
#include "core/dicom/DicomHeaderScanner.h"
#include "core/dicom/DicomInstance.h"
#include "core/domain/Geometry.h"
#include "core/domain/Paths.h"
#include "core/domain/Sha256.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmfg/fgderimg.h"
#include "dcmtk/dcmfg/fgfracon.h"
#include "dcmtk/dcmfg/fgframeanatomy.h"
#include "dcmtk/dcmfg/fgparametricmapframetype.h"
#include "dcmtk/dcmfg/fgpixeltransform.h"
#include "dcmtk/dcmfg/fgpixmsr.h"
#include "dcmtk/dcmfg/fgplanor.h"
#include "dcmtk/dcmfg/fgplanpo.h"
#include "dcmtk/dcmfg/fgrealworldvaluemapping.h"
#include "dcmtk/dcmiod/iodcontentitemmacro.h"
#include "dcmtk/dcmiod/modfloatingpointimagepixel.h"
#include "dcmtk/dcmpmap/dpmparametricmapiod.h"
#include "dcmtk/dcmsr/codes/dcm.h"
#include "dcmtk/dcmsr/dsrdoc.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

#ifndef RADIOLENS_VERSION_TEXT
#define RADIOLENS_VERSION_TEXT "0"
#endif

namespace radiolens {

namespace {

namespace fs = std::filesystem;

constexpr const char* kScheme = "99RADIOLENS";
constexpr const char* kUtf8 = "ISO_IR 192";
constexpr const char* kManufacturer = "Radiolens";
constexpr const char* kSoftware = "Radiolens " RADIOLENS_VERSION_TEXT;

// ---- small helpers --------------------------------------------------------------------------

std::string trimmed(const std::string& text) {
    const std::size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) {
        return {};
    }
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

/// Whole value of a text attribute (all values, '\\'-separated), trimmed; empty when absent.
std::string valueOf(DcmItem& item, const DcmTagKey& key) {
    OFString value;
    if (item.findAndGetOFStringArray(key, value).bad()) {
        return {};
    }
    return trimmed(value.c_str());
}

/// `text` cut to at most `characters` UTF-8 characters (never inside a character).
std::string cutCharacters(const std::string& text, std::size_t characters) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
            if (count == characters) {
                return text.substr(0, i);
            }
            ++count;
        }
    }
    return text;
}

/// A DICOM decimal string (DS, at most 16 characters) as close to `value` as fits.
std::string decimalString(double value) {
    char text[64];
    for (int digits = 12; digits > 1; --digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, value);
        if (std::strlen(text) <= 16) {
            return text;
        }
    }
    std::snprintf(text, sizeof text, "%.1g", value);
    return text;
}

std::string newUid(const char* root) {
    char buffer[100];
    dcmGenerateUniqueIdentifier(buffer, root);
    return buffer;
}

/// Now (local time, as DICOM dates and times without an offset are) as DICOM DA and TM.
std::pair<std::string, std::string> nowDateTime() {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char date[16];
    char time[16];
    std::strftime(date, sizeof date, "%Y%m%d", &local);
    std::strftime(time, sizeof time, "%H%M%S", &local);
    return {date, time};
}

/// Milliseconds since 1970 (UTC) as a DICOM DT with its offset: "20261203134512.345+0000".
std::string dicomDateTime(std::int64_t ms) {
    const std::time_t seconds = std::time_t(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y%m%d%H%M%S", &utc);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03d+0000", text, int(ms % 1000));
    return out;
}

/// A UID for the model as a device: 2.25 followed by the first 128 bits of its weights'
/// SHA-256 (or of its id and version), so the same weights always have the same UID.
std::string deviceUid(const std::string& id, const std::string& version,
                      const std::string& weightsSha256) {
    std::string hex = weightsSha256;
    const bool isHash = hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
                            return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                        });
    if (!isHash) {
        hex = Sha256::ofText(id + "\n" + version);
    }
    unsigned __int128 n = 0;
    for (int i = 0; i < 32; ++i) {
        n = n * 16 + unsigned(std::stoi(std::string(1, hex[std::size_t(i)]), nullptr, 16));
    }
    std::string digits;
    do {
        digits.insert(digits.begin(), char('0' + int(n % 10)));
        n /= 10;
    } while (n != 0);
    return "2.25." + digits;
}

void check(const OFCondition& condition, const std::string& file, const std::string& what) {
    if (condition.bad()) {
        throw std::runtime_error(file + ": cannot write " + what + ": " + condition.text());
    }
}

/// Writes `file` to `outPath` atomically: a temporary file beside it, flushed, renamed.
void saveAtomically(DcmFileFormat& file, const std::string& outPath) {
    const fs::path target(outPath);
    if (target.has_parent_path()) {
        std::error_code ignored;
        fs::create_directories(target.parent_path(), ignored);
    }
    const std::string temporary = outPath + ".tmp";
    const OFCondition saved = file.saveFile(temporary.c_str(), EXS_LittleEndianExplicit,
                                            EET_ExplicitLength, EGL_recalcGL, EPD_noChange);
    if (saved.bad()) {
        std::remove(temporary.c_str());
        throw std::runtime_error(outPath + ": cannot be written: " + saved.text());
    }
    try {
        syncToDisk(temporary);
    } catch (const std::exception&) {
        std::remove(temporary.c_str());
        throw std::runtime_error(outPath + ": cannot be written (flushing it to disk failed)");
    }
    if (std::rename(temporary.c_str(), outPath.c_str()) != 0) {
        std::remove(temporary.c_str());
        throw std::runtime_error(outPath + ": cannot be written (rename failed)");
    }
}

// ---- the source instance ----------------------------------------------------------------------

/// Text attributes of the Patient, General Study and Patient Study modules copied from the
/// source into every object written.
const DcmTagKey kPatientStudyText[] = {
    DCM_PatientName,     DCM_PatientID,        DCM_IssuerOfPatientID, DCM_PatientBirthDate,
    DCM_PatientSex,      DCM_StudyInstanceUID, DCM_StudyDate,         DCM_StudyTime,
    DCM_AccessionNumber, DCM_StudyID,          DCM_StudyDescription,  DCM_ReferringPhysicianName,
    DCM_PatientAge,      DCM_PatientSize,      DCM_PatientWeight};

/// The header of a source file (no pixel data), its text in UTF-8.
struct Source {
    std::string path;
    DcmFileFormat file;
    std::string sopClassUid;
    std::string sopInstanceUid;
    std::string seriesInstanceUid;
    std::string studyInstanceUid;
    int frames = 1;

    DcmDataset& dataSet() { return *file.getDataset(); }
};

/// Converts the data set's text to UTF-8 and declares it so: DCMTK's conversion (every
/// character set it knows), else Radiolens's own (Latin-1 exactly, and files that declare no
/// character set but hold Latin-1, as many do) on the attributes that are copied.
void convertToUtf8(DcmDataset& ds) {
    const std::string charset = valueOf(ds, DCM_SpecificCharacterSet);
    if (charset == kUtf8) {
        return;
    }
    if (!charset.empty() && ds.convertToUTF8().good()) {
        return;
    }
    for (const DcmTagKey& key : kPatientStudyText) {
        OFString value;
        if (ds.findAndGetOFStringArray(key, value).good() && !value.empty()) {
            ds.putAndInsertString(key, toUtf8(value.c_str(), charset).c_str());
        }
    }
    ds.putAndInsertString(DCM_SpecificCharacterSet, kUtf8);
}

std::unique_ptr<Source> readSource(const std::string& path) {
    initialiseDcmtk();
    auto source = std::make_unique<Source>();
    source->path = path;
    if (!fs::is_regular_file(path)) {
        throw std::runtime_error(path + ": no such file");
    }
    const OFCondition loaded = source->file.loadFileUntilTag(
        path.c_str(), EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect, DCM_PixelData);
    if (loaded.bad()) {
        throw std::runtime_error(path + ": cannot be read as DICOM: " + loaded.text());
    }
    DcmDataset& ds = source->dataSet();
    convertToUtf8(ds);
    source->sopClassUid = valueOf(ds, DCM_SOPClassUID);
    if (source->sopClassUid.empty()) {
        source->sopClassUid = valueOf(*source->file.getMetaInfo(), DCM_MediaStorageSOPClassUID);
    }
    source->sopInstanceUid = valueOf(ds, DCM_SOPInstanceUID);
    source->seriesInstanceUid = valueOf(ds, DCM_SeriesInstanceUID);
    source->studyInstanceUid = valueOf(ds, DCM_StudyInstanceUID);
    if (source->sopClassUid.empty() || source->sopInstanceUid.empty() ||
        source->studyInstanceUid.empty() || source->seriesInstanceUid.empty()) {
        throw std::runtime_error(path + ": not a DICOM instance (SOP Class, SOP Instance, Study or "
                                        "Series Instance UID missing)");
    }
    Sint32 frames = 1;
    if (ds.findAndGetSint32(DCM_NumberOfFrames, frames).good() && frames > 1) {
        source->frames = int(frames);
    }
    return source;
}

/// Copies the Patient and General Study module attributes of `source` into `out`; the type 2
/// ones are written empty when the source lacks them.
void copyPatientAndStudy(DcmDataset& source, DcmDataset& out) {
    const DcmTagKey type2[] = {DCM_PatientName, DCM_PatientID,       DCM_PatientBirthDate,
                               DCM_PatientSex,  DCM_StudyDate,       DCM_StudyTime,
                               DCM_StudyID,     DCM_AccessionNumber, DCM_ReferringPhysicianName};
    for (const DcmTagKey& key : kPatientStudyText) {
        const std::string value = valueOf(source, key);
        const bool required = std::find(std::begin(type2), std::end(type2), key) != std::end(type2);
        if (!value.empty() || required) {
            out.putAndInsertString(key, value.c_str());
        }
    }
}

// ---- SR content -------------------------------------------------------------------------------

DSRCodedEntryValue code(const char* value, const char* scheme, const char* meaning) {
    return DSRCodedEntryValue(value, scheme, meaning);
}

/// A class name as a code of the private scheme.
DSRCodedEntryValue classCode(const std::string& name) {
    std::string value;
    for (char c : name) {
        if (c != '\\' && static_cast<unsigned char>(c) >= 0x20 && c != 0x7F) {
            value += c;
        }
    }
    value = trimmed(value);
    if (value.empty()) {
        value = "(unnamed)";
    }
    const std::string meaning = cutCharacters(value, 64);
    return DSRCodedEntryValue(value.c_str(), kScheme, meaning.c_str(), DSRTypes::CVT_auto,
                              OFExplicitBool(OFFalse));
}

DSRCodedEntryValue privateCode(const char* value, const char* meaning) {
    return DSRCodedEntryValue(value, kScheme, meaning);
}

/// The unit of probabilities and other ratios.
DSRCodedEntryValue noUnits() {
    return DSRCodedEntryValue("1", "UCUM", "no units");
}

/// Builds an SR content tree node by node, each under a given parent; DCMTK failures become
/// std::runtime_error naming the file.
class ContentTree {
public:
    ContentTree(DSRDocumentTree& tree, std::string file)
        : m_tree(tree)
        , m_file(std::move(file)) {}

    std::size_t root(const DSRCodedEntryValue& title) {
        const std::size_t id = m_tree.addContentItem(DSRTypes::RT_isRoot, DSRTypes::VT_Container);
        if (id == 0) {
            fail("the root container");
        }
        check(item().setConceptName(title), m_file, "the document title");
        check(item().setContinuityOfContent(DSRTypes::COC_Separate), m_file, "the root");
        return id;
    }

    std::size_t container(std::size_t parent, const DSRCodedEntryValue& concept) {
        const std::size_t id = add(parent, DSRTypes::RT_contains, DSRTypes::VT_Container, &concept);
        check(item().setContinuityOfContent(DSRTypes::COC_Separate), m_file, "a container");
        return id;
    }

    std::size_t text(std::size_t parent, DSRTypes::E_RelationshipType relation,
                     const DSRCodedEntryValue& concept, const std::string& value) {
        const std::size_t id = add(parent, relation, DSRTypes::VT_Text, &concept);
        check(item().setStringValue(value.empty() ? "-" : value.c_str(), OFFalse), m_file,
              "a TEXT value");
        return id;
    }

    std::size_t uidref(std::size_t parent, DSRTypes::E_RelationshipType relation,
                       const DSRCodedEntryValue& concept, const std::string& uid) {
        const std::size_t id = add(parent, relation, DSRTypes::VT_UIDRef, &concept);
        check(item().setStringValue(uid.c_str()), m_file, "a UIDREF value");
        return id;
    }

    std::size_t pname(std::size_t parent, DSRTypes::E_RelationshipType relation,
                      const DSRCodedEntryValue& concept, const std::string& name) {
        const std::size_t id = add(parent, relation, DSRTypes::VT_PName, &concept);
        check(item().setStringValue(name.empty() ? "unknown" : name.c_str(), OFFalse), m_file,
              "a PNAME value");
        return id;
    }

    std::size_t codeItem(std::size_t parent, DSRTypes::E_RelationshipType relation,
                         const DSRCodedEntryValue& concept, const DSRCodedEntryValue& value) {
        const std::size_t id = add(parent, relation, DSRTypes::VT_Code, &concept);
        check(item().setCodeValue(value, OFFalse), m_file, "a CODE value");
        return id;
    }

    std::size_t num(std::size_t parent, DSRTypes::E_RelationshipType relation,
                    const DSRCodedEntryValue& concept, double value,
                    const DSRCodedEntryValue& unit) {
        const std::size_t id = add(parent, relation, DSRTypes::VT_Num, &concept);
        DSRNumericMeasurementValue number(decimalString(value).c_str(), unit);
        check(number.setFloatingPointRepresentation(value), m_file, "a numeric value");
        check(item().setNumericValue(number), m_file, "a NUM value");
        return id;
    }

    std::size_t image(std::size_t parent, DSRTypes::E_RelationshipType relation,
                      const DSRCodedEntryValue* concept, const std::string& sopClassUid,
                      const std::string& sopInstanceUid, int frameNumber) {
        const std::size_t id = add(parent, relation, DSRTypes::VT_Image, concept);
        DSRImageReferenceValue reference(sopClassUid.c_str(), sopInstanceUid.c_str());
        if (frameNumber > 0) {
            reference.getFrameList().addItem(Sint32(frameNumber));
        }
        check(item().setImageReference(reference), m_file, "an IMAGE reference");
        return id;
    }

    std::size_t scoord(std::size_t parent, DSRTypes::E_RelationshipType relation,
                       DSRTypes::E_GraphicType type,
                       const std::vector<std::pair<double, double>>& points) {
        const std::size_t id = add(parent, relation, DSRTypes::VT_SCoord, nullptr);
        DSRSpatialCoordinatesValue value(type);
        for (const auto& [column, row] : points) {
            value.getGraphicDataList().addItem(Float32(column), Float32(row));
        }
        check(item().setSpatialCoordinates(value), m_file, "a SCOORD value");
        return id;
    }

    /// Sets the ObservationDateTime of the node last added.
    void observedAt(std::int64_t ms) {
        // DCMTK 3.6.7's DT check refuses a UTC offset ("+0000"), which PS3.5 allows.
        check(item().setObservationDateTime(dicomDateTime(ms).c_str(), OFFalse), m_file,
              "an observation time");
    }

private:
    DSRContentItem& item() { return m_tree.getCurrentContentItem(); }

    std::size_t add(std::size_t parent, DSRTypes::E_RelationshipType relation,
                    DSRTypes::E_ValueType type, const DSRCodedEntryValue* concept) {
        if (m_tree.gotoNode(parent) == 0) {
            fail("a content item (no parent node)");
        }
        const std::size_t id = m_tree.addContentItem(relation, type, DSRTypes::AM_belowCurrent);
        if (id == 0) {
            fail(std::string("a ") + DSRTypes::valueTypeToDefinedTerm(type) + " item (" +
                 DSRTypes::relationshipTypeToDefinedTerm(relation) + ")");
        }
        if (concept != nullptr) {
            check(item().setConceptName(*concept, OFFalse), m_file, "a concept name");
        }
        return id;
    }

    [[noreturn]] void fail(const std::string& what) {
        throw std::runtime_error(m_file + ": cannot write " + what + " into the structured report");
    }

    DSRDocumentTree& m_tree;
    std::string m_file;
};

/// A new Comprehensive SR in the study of `source`, patient and study copied from it.
std::unique_ptr<DSRDocument> newReport(Source& source, const ResultSeries& series,
                                       int defaultSeriesNumber, const std::string& description,
                                       const std::string& outPath) {
    auto doc = std::make_unique<DSRDocument>(DSRTypes::DT_ComprehensiveSR);
    check(doc->readStudyData(source.dataSet()), outPath, "the patient and study of " + source.path);
    doc->createNewSeries();
    check(doc->setSpecificCharacterSetType(DSRTypes::CS_UTF8), outPath, "the character set");
    check(doc->setSeriesDescription(description.c_str()), outPath, "the series description");
    const int number = series.seriesNumber > 0 ? series.seriesNumber : defaultSeriesNumber;
    check(doc->setSeriesNumber(std::to_string(number).c_str()), outPath, "the series number");
    check(doc->setInstanceNumber(std::to_string(std::max(1, series.instanceNumber)).c_str()),
          outPath, "the instance number");
    check(doc->setManufacturer(kManufacturer), outPath, "the manufacturer");
    check(doc->setManufacturerModelName(kManufacturer), outPath, "the model name");
    check(doc->setSoftwareVersions(kSoftware), outPath, "the software version");
    check(doc->getCodingSchemeIdentification().addItem(kScheme, "", "Radiolens classes and terms",
                                                       kManufacturer),
          outPath, "the coding scheme");
    return doc;
}

/// Writes `doc` to `outPath` (into the given series when one is named) and says what it is.
WrittenObject saveReport(DSRDocument& doc, const ResultSeries& series, const std::string& outPath) {
    check(doc.completeDocument(), outPath, "the completion flag");
    DcmFileFormat file;
    DcmDataset& ds = *file.getDataset();
    check(doc.write(ds), outPath, "the structured report");
    if (!series.seriesInstanceUid.empty()) {
        check(ds.putAndInsertString(DCM_SeriesInstanceUID, series.seriesInstanceUid.c_str()),
              outPath, "the series instance UID");
    }
    saveAtomically(file, outPath);
    WrittenObject out;
    out.path = outPath;
    out.sopClassUid = valueOf(ds, DCM_SOPClassUID);
    out.sopInstanceUid = valueOf(ds, DCM_SOPInstanceUID);
    out.seriesInstanceUid = valueOf(ds, DCM_SeriesInstanceUID);
    out.studyInstanceUid = valueOf(ds, DCM_StudyInstanceUID);
    return out;
}

/// "CT1.dcm" or "CT1.dcm frame 3" (1-based, as DICOM counts frames).
std::string imageName(const std::string& path, int frame) {
    std::string name = fs::path(path).filename().string();
    if (frame >= 0) {
        name += " frame " + std::to_string(frame + 1);
    }
    return name;
}

/// The 1-based frame number of an IMAGE reference: only for multi-frame sources.
int frameNumber(const Source& source, int frame) {
    return source.frames > 1 && frame >= 0 ? frame + 1 : 0;
}

// ---- measurements: which image they were drawn on ---------------------------------------------

/// One frame of a study file, with its geometry when it has one.
struct FrameGeometry {
    std::size_t file = 0; ///< index into the study's instances
    int frame = -1;       ///< 0-based for multi-frame files, -1 otherwise
    Vec3 position, row, column, normal;
    double rowSpacing = 0.0;    ///< mm between rows
    double columnSpacing = 0.0; ///< mm between columns
    int rows = 0;
    int columns = 0;
    double tolerance = 0.5; ///< mm off the plane a point may be
};

/// A study file as the annotation report needs it.
struct StudyInstance {
    std::string path;
    DicomIdentity identity;
    std::optional<DicomFileHeader> header; ///< kept for the geometry of measured series
};

std::vector<FrameGeometry> geometryOf(const StudyInstance& instance, std::size_t index) {
    std::vector<FrameGeometry> out;
    if (!instance.header) {
        return out;
    }
    DicomImage image;
    try {
        image = readImage(*instance.header, instance.path);
    } catch (const std::exception&) {
        return out;
    }
    const double thickness = image.sliceThickness.value_or(0.0);
    for (std::size_t f = 0; f < image.frames.size(); ++f) {
        const FrameInfo& info = image.frames[f];
        if (!info.position || !info.rowDirection || !info.columnDirection || !info.rowSpacing ||
            !info.columnSpacing || *info.rowSpacing <= 0 || *info.columnSpacing <= 0) {
            continue;
        }
        FrameGeometry g;
        g.file = index;
        g.frame = image.frames.size() > 1 ? int(f) : -1;
        g.position = *info.position;
        g.row = normalized(*info.rowDirection);
        g.column = normalized(*info.columnDirection);
        g.normal = normalized(cross(g.row, g.column));
        g.rowSpacing = *info.rowSpacing;
        g.columnSpacing = *info.columnSpacing;
        g.rows = image.pixels.rows;
        g.columns = image.pixels.columns;
        g.tolerance = thickness > 0 ? std::max(0.5 * thickness, 0.01) : 0.5;
        out.push_back(g);
    }
    return out;
}

/// `p` (LPS, mm) in SCOORD pixel coordinates of `g`: (column, row), the top left corner of the
/// top left pixel at (0, 0), its centre at (0.5, 0.5).
std::pair<double, double> toPixel(const FrameGeometry& g, const Vec3& p) {
    const Vec3 d = p - g.position;
    return {dot(d, g.row) / g.columnSpacing + 0.5, dot(d, g.column) / g.rowSpacing + 0.5};
}

/// The outline a measurement is drawn as, in patient space, and its graphic type.
std::pair<DSRTypes::E_GraphicType, std::vector<Vec3>> outline(const Measurement& m) {
    const Vec3& a = m.points[0];
    const Vec3& b = m.points[1];
    const Vec3 u = normalized(m.axisU);
    const Vec3 v = normalized(m.axisV);
    const double du = dot(b - a, u);
    const double dv = dot(b - a, v);
    switch (m.kind) {
    case MeasurementKind::Distance:
        return {DSRTypes::GT_Polyline, {a, b}};
    case MeasurementKind::Angle:
        return {DSRTypes::GT_Polyline, {m.points[0], m.points[1], m.points[2]}};
    case MeasurementKind::Rectangle:
        return {DSRTypes::GT_Polyline, {a, a + u * du, b, a + v * dv, a}};
    case MeasurementKind::Ellipse: {
        const Vec3 centre = (a + b) * 0.5;
        const Vec3 halfU = u * (du / 2);
        const Vec3 halfV = v * (dv / 2);
        // Major axis end points first, then the minor axis's.
        if (std::abs(du) >= std::abs(dv)) {
            return {DSRTypes::GT_Ellipse,
                    {centre - halfU, centre + halfU, centre - halfV, centre + halfV}};
        }
        return {DSRTypes::GT_Ellipse,
                {centre - halfV, centre + halfV, centre - halfU, centre + halfU}};
    }
    }
    return {DSRTypes::GT_Polyline, {a, b}};
}

/// The frame whose plane holds every point of `points`, nearest first; nullptr when none does
/// or a point falls outside the image.
const FrameGeometry* frameHolding(const std::vector<FrameGeometry>& frames,
                                  const std::vector<Vec3>& points) {
    const FrameGeometry* best = nullptr;
    double bestDistance = 0.0;
    for (const FrameGeometry& g : frames) {
        double distance = 0.0;
        bool inside = true;
        for (const Vec3& p : points) {
            distance = std::max(distance, std::abs(dot(p - g.position, g.normal)));
            const auto [column, row] = toPixel(g, p);
            inside = inside && column >= -0.01 && row >= -0.01 && column <= g.columns + 0.01 &&
                     row <= g.rows + 0.01;
        }
        if (inside && distance <= g.tolerance && (best == nullptr || distance < bestDistance)) {
            best = &g;
            bestDistance = distance;
        }
    }
    return best;
}

} // namespace

// ---- classification report --------------------------------------------------------------------

WrittenObject writeClassificationReport(const std::vector<ImageClassification>& classifications,
                                        const ModelIdentity& model, const std::string& outPath,
                                        const ResultSeries& series) {
    if (classifications.empty()) {
        throw std::invalid_argument(outPath + ": no classifications to write");
    }
    std::vector<std::unique_ptr<Source>> sources;
    std::map<std::string, Source*> byPath;
    for (const ImageClassification& c : classifications) {
        if (c.findings.empty()) {
            throw std::invalid_argument(c.sourcePath + ": a classification without classes");
        }
        if (byPath.count(c.sourcePath) == 0) {
            sources.push_back(readSource(c.sourcePath));
            byPath[c.sourcePath] = sources.back().get();
        }
    }
    Source& first = *sources.front();
    for (const auto& s : sources) {
        if (s->studyInstanceUid != first.studyInstanceUid) {
            throw std::invalid_argument(outPath + ": " + s->path + " is of study " +
                                        s->studyInstanceUid + ", " + first.path + " of study " +
                                        first.studyInstanceUid + "; one report per study");
        }
    }
    std::map<std::string, std::unique_ptr<Source>> captures;
    for (const ImageClassification& c : classifications) {
        if (!c.saliencyCapturePath.empty() && captures.count(c.saliencyCapturePath) == 0) {
            captures[c.saliencyCapturePath] = readSource(c.saliencyCapturePath);
        }
    }

    auto doc =
        newReport(first, series, kClassificationSeriesNumber, "Radiolens AI results", outPath);
    ContentTree tree(doc->getTree(), outPath);
    const std::size_t root = tree.root(CODE_DCM_ImagingMeasurementReport);
    tree.codeItem(root, DSRTypes::RT_hasObsContext, CODE_DCM_ObserverType, CODE_DCM_Device);
    tree.uidref(root, DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverUID,
                deviceUid(model.id, model.version, model.weightsSha256));
    tree.text(root, DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverName, model.id);
    tree.text(root, DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverManufacturer, kManufacturer);
    if (!model.architecture.empty()) {
        tree.text(root, DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverModelName,
                  model.architecture);
    }

    // Every classified image once, in the image library.
    const std::size_t library = tree.container(root, CODE_DCM_ImageLibrary);
    std::set<std::pair<std::string, int>> listed;
    for (const ImageClassification& c : classifications) {
        const Source& s = *byPath[c.sourcePath];
        if (listed.insert({s.sopInstanceUid, frameNumber(s, c.frame)}).second) {
            tree.image(library, DSRTypes::RT_contains, nullptr, s.sopClassUid, s.sopInstanceUid,
                       frameNumber(s, c.frame));
        }
        check(doc->getCurrentRequestedProcedureEvidence().addItem(
                  s.studyInstanceUid.c_str(), s.seriesInstanceUid.c_str(), s.sopClassUid.c_str(),
                  s.sopInstanceUid.c_str()),
              outPath, "the evidence of " + s.path);
    }

    const std::size_t measurements =
        tree.container(root, DSRBasicCodedEntry("126010", "DCM", "Imaging Measurements"));
    const DSRCodedEntryValue sourceOfMeasurement(CODE_DCM_SourceOfMeasurement);
    const DSRCodedEntryValue bestIllustration(CODE_DCM_BestIllustrationOfFinding);
    for (const ImageClassification& c : classifications) {
        const Source& s = *byPath[c.sourcePath];
        const std::size_t group = tree.container(measurements, CODE_DCM_MeasurementGroup);
        tree.text(group, DSRTypes::RT_contains, CODE_DCM_TrackingIdentifier,
                  cutCharacters(imageName(c.sourcePath, c.frame), 64));
        tree.uidref(group, DSRTypes::RT_contains,
                    DSRBasicCodedEntry("112040", "DCM", "Tracking Unique Identifier"),
                    newUid(SITE_INSTANCE_UID_ROOT));
        tree.text(group, DSRTypes::RT_contains, CODE_DCM_AlgorithmName, model.id);
        tree.text(group, DSRTypes::RT_contains, CODE_DCM_AlgorithmVersion, model.version);
        if (!model.weightsSha256.empty()) {
            tree.text(group, DSRTypes::RT_contains,
                      privateCode("WEIGHTS-SHA256", "Model weights SHA-256"), model.weightsSha256);
        }
        if (!c.saliencyMethod.empty()) {
            tree.text(group, DSRTypes::RT_contains, privateCode("SALIENCY", "Saliency method"),
                      c.saliencyMethod);
        }
        tree.image(group, DSRTypes::RT_contains, &sourceOfMeasurement, s.sopClassUid,
                   s.sopInstanceUid, frameNumber(s, c.frame));
        if (!c.saliencyCapturePath.empty()) {
            Source& capture = *captures[c.saliencyCapturePath];
            tree.image(group, DSRTypes::RT_contains, &bestIllustration, capture.sopClassUid,
                       capture.sopInstanceUid, 0);
            check(doc->getPertinentOtherEvidence().addItem(
                      capture.studyInstanceUid.c_str(), capture.seriesInstanceUid.c_str(),
                      capture.sopClassUid.c_str(), capture.sopInstanceUid.c_str()),
                  outPath, "the evidence of " + capture.path);
        }
        tree.codeItem(group, DSRTypes::RT_contains, CODE_DCM_Finding, classCode(c.predicted));
        for (const ClassFinding& f : c.findings) {
            const std::size_t p = tree.num(group, DSRTypes::RT_contains, CODE_DCM_Probability,
                                           f.probability, noUnits());
            tree.codeItem(p, DSRTypes::RT_hasConceptMod, CODE_DCM_Finding, classCode(f.className));
        }
    }
    return saveReport(*doc, series, outPath);
}

// ---- saliency capture -------------------------------------------------------------------------

WrittenObject writeSaliencyCapture(const std::string& sourcePath, int frame,
                                   const RenderedSlice& image, const std::string& description,
                                   const std::string& outPath, const ResultSeries& series) {
    if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
        image.pixels.size() !=
            std::size_t(image.width) * std::size_t(image.height) * std::size_t(image.channels)) {
        throw std::invalid_argument(outPath + ": the picture is empty or its size does not match "
                                              "its pixels");
    }
    std::unique_ptr<Source> source = readSource(sourcePath);
    DcmDataset& src = source->dataSet();
    Uint16 rows = 0;
    Uint16 columns = 0;
    src.findAndGetUint16(DCM_Rows, rows);
    src.findAndGetUint16(DCM_Columns, columns);
    if (rows != 0 && columns != 0 && (rows != image.height || columns != image.width)) {
        throw std::invalid_argument(outPath + ": the picture is " + std::to_string(image.width) +
                                    " x " + std::to_string(image.height) + ", " + sourcePath +
                                    " is " + std::to_string(columns) + " x " +
                                    std::to_string(rows) + " pixels");
    }
    if (frame >= source->frames) {
        throw std::invalid_argument(sourcePath + " has no frame " + std::to_string(frame));
    }

    DcmFileFormat file;
    DcmDataset& ds = *file.getDataset();
    const auto put = [&](const DcmTagKey& key, const std::string& value) {
        check(ds.putAndInsertString(key, value.c_str()), outPath, DcmTag(key).getTagName());
    };
    const auto [date, time] = nowDateTime();
    const std::string sopInstanceUid = newUid(SITE_INSTANCE_UID_ROOT);
    const std::string seriesUid =
        series.seriesInstanceUid.empty() ? newUid(SITE_SERIES_UID_ROOT) : series.seriesInstanceUid;
    // SOP Common
    put(DCM_SpecificCharacterSet, kUtf8);
    put(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
    put(DCM_SOPInstanceUID, sopInstanceUid);
    put(DCM_InstanceCreationDate, date);
    put(DCM_InstanceCreationTime, time);
    // Patient, General Study
    copyPatientAndStudy(src, ds);
    // General Series
    put(DCM_Modality, "OT");
    // Laterality (type 2C) as the source says it: of the series, or else of the image; empty
    // when the source does not say (unknown).
    const std::string imageLaterality = valueOf(src, DCM_ImageLaterality);
    if (valueOf(src, DCM_Laterality).empty() && !imageLaterality.empty()) {
        put(DCM_ImageLaterality, imageLaterality);
    } else {
        put(DCM_Laterality, valueOf(src, DCM_Laterality));
    }
    put(DCM_SeriesInstanceUID, seriesUid);
    put(DCM_SeriesNumber,
        std::to_string(series.seriesNumber > 0 ? series.seriesNumber : kSaliencySeriesNumber));
    put(DCM_SeriesDescription, "Radiolens AI saliency maps");
    put(DCM_SeriesDate, date);
    put(DCM_SeriesTime, time);
    // General Equipment, SC Equipment
    put(DCM_Manufacturer, kManufacturer);
    put(DCM_SoftwareVersions, kSoftware);
    put(DCM_ConversionType, "WSD");
    put(DCM_SecondaryCaptureDeviceManufacturer, kManufacturer);
    put(DCM_SecondaryCaptureDeviceManufacturerModelName, kManufacturer);
    put(DCM_SecondaryCaptureDeviceSoftwareVersions, kSoftware);
    // General Image, SC Image
    put(DCM_InstanceNumber, std::to_string(std::max(1, series.instanceNumber)));
    std::string orientation = valueOf(src, DCM_PatientOrientation);
    Float64 iop[6];
    bool hasOrientation = true;
    for (unsigned long i = 0; i < 6; ++i) {
        hasOrientation =
            hasOrientation && src.findAndGetFloat64(DCM_ImageOrientationPatient, iop[i], i).good();
    }
    if (hasOrientation) {
        const std::string row = orientationLetters({iop[0], iop[1], iop[2]});
        const std::string column = orientationLetters({iop[3], iop[4], iop[5]});
        if (!row.empty() && !column.empty()) {
            orientation = row + "\\" + column;
        }
    }
    put(DCM_PatientOrientation, orientation);
    put(DCM_ContentDate, date);
    put(DCM_ContentTime, time);
    put(DCM_ImageType, "DERIVED\\SECONDARY");
    put(DCM_DerivationDescription, cutCharacters(description, 1024));
    put(DCM_BurnedInAnnotation, "NO");
    put(DCM_LossyImageCompression, "00");
    put(DCM_DateOfSecondaryCapture, date);
    put(DCM_TimeOfSecondaryCapture, time);
    DcmItem* reference = nullptr;
    check(ds.findOrCreateSequenceItem(DCM_SourceImageSequence, reference, 0), outPath,
          "SourceImageSequence");
    reference->putAndInsertString(DCM_ReferencedSOPClassUID, source->sopClassUid.c_str());
    reference->putAndInsertString(DCM_ReferencedSOPInstanceUID, source->sopInstanceUid.c_str());
    if (source->frames > 1 && frame >= 0) {
        reference->putAndInsertString(DCM_ReferencedFrameNumber, std::to_string(frame + 1).c_str());
    }
    DcmItem* purpose = nullptr;
    check(reference->findOrCreateSequenceItem(DCM_PurposeOfReferenceCodeSequence, purpose, 0),
          outPath, "PurposeOfReferenceCodeSequence");
    purpose->putAndInsertString(DCM_CodeValue, "121322");
    purpose->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
    purpose->putAndInsertString(DCM_CodeMeaning, "Source image for image processing operation");
    // Image Pixel
    const bool colour = image.channels == 3;
    ds.putAndInsertUint16(DCM_SamplesPerPixel, Uint16(image.channels));
    put(DCM_PhotometricInterpretation, colour ? "RGB" : "MONOCHROME2");
    if (colour) {
        ds.putAndInsertUint16(DCM_PlanarConfiguration, 0);
    }
    ds.putAndInsertUint16(DCM_Rows, Uint16(image.height));
    ds.putAndInsertUint16(DCM_Columns, Uint16(image.width));
    ds.putAndInsertUint16(DCM_BitsAllocated, 8);
    ds.putAndInsertUint16(DCM_BitsStored, 8);
    ds.putAndInsertUint16(DCM_HighBit, 7);
    ds.putAndInsertUint16(DCM_PixelRepresentation, 0);
    check(ds.putAndInsertUint8Array(DCM_PixelData, image.pixels.data(),
                                    static_cast<unsigned long>(image.pixels.size())),
          outPath, "the pixel data");
    saveAtomically(file, outPath);

    WrittenObject out;
    out.path = outPath;
    out.sopClassUid = UID_SecondaryCaptureImageStorage;
    out.sopInstanceUid = sopInstanceUid;
    out.seriesInstanceUid = seriesUid;
    out.studyInstanceUid = source->studyInstanceUid;
    return out;
}

// ---- saliency parametric map --------------------------------------------------------------------

std::optional<WrittenObject>
writeSaliencyParametricMap(const std::string& sourcePath, int frame, int width, int height,
                           const std::vector<float>& values, const std::string& description,
                           const std::string& outPath, const ResultSeries& series) {
    if (width <= 0 || height <= 0 || values.size() != std::size_t(width) * std::size_t(height)) {
        throw std::invalid_argument(outPath + ": the map has " + std::to_string(values.size()) +
                                    " values, not " + std::to_string(width) + " x " +
                                    std::to_string(height));
    }
    std::unique_ptr<Source> source = readSource(sourcePath);
    DcmDataset& src = source->dataSet();
    const std::string frameOfReference = valueOf(src, DCM_FrameOfReferenceUID);
    DicomScanResult scanned = DicomHeaderScanner::scan(sourcePath);
    if (!scanned.ok() || frameOfReference.empty()) {
        return std::nullopt;
    }
    StudyInstance instance{sourcePath, readIdentity(scanned.header.dataSet), scanned.header};
    const std::vector<FrameGeometry> frames = geometryOf(instance, 0);
    const auto g = std::find_if(frames.begin(), frames.end(), [&](const FrameGeometry& f) {
        return f.frame == (source->frames > 1 ? std::max(frame, 0) : -1);
    });
    if (g == frames.end() || g->columns != width || g->rows != height) {
        return std::nullopt;
    }

    const auto number = [](double v) {
        return decimalString(v);
    };
    const std::string seriesNumber =
        std::to_string(series.seriesNumber > 0 ? series.seriesNumber : kParametricMapSeriesNumber);
    const std::string instanceNumber = std::to_string(std::max(1, series.instanceNumber));
    IODEnhGeneralEquipmentModule::EquipmentInfo equipment(kManufacturer, kManufacturer, "1",
                                                          kSoftware);
    ContentIdentificationMacro content;
    check(content.setInstanceNumber(instanceNumber.c_str()), outPath, "the instance number");
    check(content.setContentLabel("SALIENCY"), outPath, "the content label");
    check(content.setContentDescription(cutCharacters(description, 64).c_str(), OFFalse), outPath,
          "the content description");
    check(content.setContentCreatorName("Radiolens"), outPath, "the content creator");
    std::string modality = valueOf(src, DCM_Modality);
    if (modality.empty()) {
        modality = "OT";
    }
    auto created = DPMParametricMapIOD::create<IODFloatingPointImagePixelModule>(
        modality.c_str(), seriesNumber.c_str(), instanceNumber.c_str(), Uint16(height),
        Uint16(width), equipment, content, "VOLUME", "NONE", DPMTypes::CQ_RESEARCH);
    if (OFCondition* failed = OFget<OFCondition>(&created)) {
        check(*failed, outPath, "the parametric map");
    }
    DPMParametricMapIOD& map = *OFget<DPMParametricMapIOD>(&created);
    check(map.importHierarchy(src, OFTrue, OFTrue, OFTrue, OFFalse), outPath,
          "the patient and study of " + sourcePath);
    if (!series.seriesInstanceUid.empty()) {
        check(
            map.getIODGeneralSeriesModule().setSeriesInstanceUID(series.seriesInstanceUid.c_str()),
            outPath, "the series instance UID");
    }
    check(map.getIODGeneralSeriesModule().setSeriesDescription("Radiolens AI saliency maps"),
          outPath, "the series description");
    const auto [date, time] = nowDateTime();
    map.getIODGeneralImageModule().setContentDate(date.c_str());
    map.getIODGeneralImageModule().setContentTime(time.c_str());
    check(map.setRecognizableVisualFeatures(DPMTypes::RVF_NO), outPath, "the visual features");

    check(map.getIODMultiframeDimensionModule().addDimensionIndex(
              DCM_ImagePositionPatient, newUid(SITE_INSTANCE_UID_ROOT), DCM_PlanePositionSequence,
              "Image position"),
          outPath, "the dimension index");

    FGPixelMeasures measures;
    check(
        measures.setPixelSpacing((number(g->rowSpacing) + "\\" + number(g->columnSpacing)).c_str()),
        outPath, "the pixel spacing");
    const std::string thickness = valueOf(src, DCM_SliceThickness);
    if (!thickness.empty()) {
        check(measures.setSliceThickness(thickness.c_str()), outPath, "the slice thickness");
    }
    check(map.addForAllFrames(measures), outPath, "the pixel measures");
    std::unique_ptr<FGPlaneOrientationPatient> orientation(FGPlaneOrientationPatient::createMinimal(
        number(g->row.x).c_str(), number(g->row.y).c_str(), number(g->row.z).c_str(),
        number(g->column.x).c_str(), number(g->column.y).c_str(), number(g->column.z).c_str()));
    if (!orientation) {
        throw std::runtime_error(outPath + ": cannot write the plane orientation");
    }
    check(map.addForAllFrames(*orientation), outPath, "the plane orientation");

    FGFrameAnatomy anatomy;
    const std::string laterality = valueOf(src, DCM_Laterality).empty()
                                       ? valueOf(src, DCM_ImageLaterality)
                                       : valueOf(src, DCM_Laterality);
    check(anatomy.setLaterality(laterality == "R"   ? FGFrameAnatomy::LATERALITY_R
                                : laterality == "L" ? FGFrameAnatomy::LATERALITY_L
                                : laterality == "B" ? FGFrameAnatomy::LATERALITY_BOTH
                                                    : FGFrameAnatomy::LATERALITY_UNPAIRED),
          outPath, "the frame laterality");
    check(anatomy.getAnatomy().getAnatomicRegion().set("38866009", "SCT", "Body part"), outPath,
          "the anatomic region");
    check(map.addForAllFrames(anatomy), outPath, "the frame anatomy");
    FGPixelValueTransformation identity;
    identity.setFGType(FGPixelValueTransformation::E_PixelValTrans_Identity);
    check(map.addForAllFrames(identity), outPath, "the pixel value transformation");
    FGParametricMapFrameType frameType;
    check(frameType.setFrameType("DERIVED\\PRIMARY\\VOLUME\\NONE"), outPath, "the frame type");
    check(map.addForAllFrames(frameType), outPath, "the frame type");

    FGRealWorldValueMapping mapping;
    auto* item = new FGRealWorldValueMapping::RWVMItem();
    mapping.getRealWorldValueMapping().push_back(item);
    const auto [low, high] = std::minmax_element(values.begin(), values.end());
    check(item->setRealWorldValueSlope(1.0), outPath, "the real world value slope");
    check(item->setRealWorldValueIntercept(0.0), outPath, "the real world value intercept");
    check(item->setDoubleFloatRealWorldValueFirstValueMapped(*low), outPath,
          "the first value mapped");
    check(item->setDoubleFloatRealWorldValueLastValueMapped(*high), outPath,
          "the last value mapped");
    check(item->setLUTExplanation("Saliency"), outPath, "the LUT explanation");
    check(item->setLUTLabel("SALIENCY"), outPath, "the LUT label");
    check(item->getMeasurementUnitsCode().set("1", "UCUM", "no units"), outPath, "the unit");
    auto* quantity = new ContentItemMacro();
    item->getEntireQuantityDefinitionSequence().push_back(quantity);
    quantity->getEntireConceptNameCodeSequence().push_back(
        new CodeSequenceMacro("246205007", "SCT", "Quantity"));
    quantity->getEntireConceptCodeSequence().push_back(
        new CodeSequenceMacro("SALIENCY", kScheme, "Saliency"));
    check(quantity->setValueType(ContentItemMacro::VT_CODE), outPath, "the quantity");
    check(map.addForAllFrames(mapping), outPath, "the real world value mapping");

    FGPlanePosPatient position;
    check(position.setImagePositionPatient(number(g->position.x).c_str(),
                                           number(g->position.y).c_str(),
                                           number(g->position.z).c_str()),
          outPath, "the image position");
    FGFrameContent frameContent;
    check(frameContent.setDimensionIndexValues(1, 0), outPath, "the dimension index value");
    FGDerivationImage derivation;
    DerivationImageItem* derived = nullptr;
    check(derivation.addDerivationImageItem(CodeSequenceMacro("113076", "DCM", "Segmentation"),
                                            "Saliency map of the image", derived),
          outPath, "the derivation image");
    SourceImageItem* sourceItem = nullptr;
    check(derived->addSourceImageItem(
              &src,
              CodeSequenceMacro("121322", "DCM", "Source image for image processing operation"),
              sourceItem),
          outPath, "the source image");
    if (source->frames > 1 && frame >= 0) {
        check(
            sourceItem->getImageSOPInstanceReference().addReferencedFrameNumber(Uint16(frame + 1)),
            outPath, "the source frame");
    }
    OFVector<FGBase*> perFrame;
    perFrame.push_back(&position);
    perFrame.push_back(&frameContent);
    perFrame.push_back(&derivation);
    DPMParametricMapIOD::FramesType framesOfMap = map.getFrames();
    auto* floats = OFget<DPMParametricMapIOD::Frames<Float32>>(&framesOfMap);
    if (floats == nullptr) {
        throw std::runtime_error(outPath + ": cannot write the parametric map's float frames");
    }
    std::vector<Float32> pixels(values.begin(), values.end());
    check(floats->addFrame(pixels.data(), pixels.size(), perFrame), outPath, "the map's frame");

    // The source series, as the Common Instance Reference module lists it.
    IODSeriesAndInstanceReferenceMacro::ReferencedSeriesItem* referencedSeries =
        new IODSeriesAndInstanceReferenceMacro::ReferencedSeriesItem();
    check(referencedSeries->setSeriesInstanceUID(source->seriesInstanceUid.c_str()), outPath,
          "the referenced series");
    auto* referencedInstance = new SOPInstanceReferenceMacro();
    check(referencedInstance->setReferencedSOPClassUID(source->sopClassUid.c_str()), outPath,
          "the referenced instance");
    check(referencedInstance->setReferencedSOPInstanceUID(source->sopInstanceUid.c_str()), outPath,
          "the referenced instance");
    referencedSeries->getReferencedInstanceItems().push_back(referencedInstance);
    map.getCommonInstanceReference().getReferencedSeriesItems().push_back(referencedSeries);

    DcmFileFormat file;
    check(map.writeDataset(*file.getDataset()), outPath, "the parametric map");
    DcmDataset& ds = *file.getDataset();
    ds.putAndInsertString(DCM_SpecificCharacterSet, kUtf8);
    DcmItem* scheme = nullptr;
    check(ds.findOrCreateSequenceItem(DCM_CodingSchemeIdentificationSequence, scheme, -2), outPath,
          "the coding scheme");
    scheme->putAndInsertString(DCM_CodingSchemeDesignator, kScheme);
    scheme->putAndInsertString(DCM_CodingSchemeName, "Radiolens classes and terms");
    scheme->putAndInsertString(DCM_CodingSchemeResponsibleOrganization, kManufacturer);
    saveAtomically(file, outPath);
    WrittenObject out;
    out.path = outPath;
    out.sopClassUid = valueOf(ds, DCM_SOPClassUID);
    out.sopInstanceUid = valueOf(ds, DCM_SOPInstanceUID);
    out.seriesInstanceUid = valueOf(ds, DCM_SeriesInstanceUID);
    out.studyInstanceUid = valueOf(ds, DCM_StudyInstanceUID);
    return out;
}

// ---- labels and measurements -----------------------------------------------------------------

WrittenObject writeAnnotationReport(const StudyAnnotations& annotations, const std::string& outPath,
                                    const ResultSeries& series) {
    if (annotations.files.empty()) {
        throw std::invalid_argument(outPath + ": no DICOM files of the study given");
    }
    std::vector<Label> labels;
    for (const Label& l : annotations.labels) {
        if (!l.withdrawn()) {
            labels.push_back(l);
        }
    }
    if (labels.empty() && annotations.measurements.empty()) {
        throw std::invalid_argument(outPath + ": no labels or measurements to write");
    }
    std::unique_ptr<Source> first = readSource(annotations.files.front());
    const std::string study = first->studyInstanceUid;

    // The study's instances and series, from their headers.
    std::vector<StudyInstance> instances;
    std::map<std::string, std::size_t> byInstance;
    std::map<std::string, std::vector<std::size_t>> bySeries;
    for (const std::string& path : annotations.files) {
        DicomScanResult scanned = DicomHeaderScanner::scan(path);
        if (!scanned.ok()) {
            throw std::runtime_error(path + ": " + scanned.reason);
        }
        StudyInstance instance;
        instance.path = path;
        instance.identity = readIdentity(scanned.header.dataSet);
        if (instance.identity.studyInstanceUid != study) {
            throw std::invalid_argument(
                path + " is of study " + instance.identity.studyInstanceUid + ", " +
                annotations.files.front() + " of study " + study + "; one report per study");
        }
        instance.header = std::move(scanned.header);
        if (byInstance.count(instance.identity.sopInstanceUid) != 0) {
            continue;
        }
        byInstance[instance.identity.sopInstanceUid] = instances.size();
        bySeries[instance.identity.seriesInstanceUid].push_back(instances.size());
        instances.push_back(std::move(instance));
    }
    for (const Label& l : labels) {
        const bool known = (l.level == LabelLevel::Image && byInstance.count(l.item) != 0) ||
                           (l.level == LabelLevel::Series && bySeries.count(l.item) != 0) ||
                           (l.level == LabelLevel::Study && l.item == study);
        if (!known) {
            throw std::invalid_argument(outPath + ": label " + std::to_string(l.id) + " (" +
                                        toString(l.level) + " " + l.item +
                                        ") is not about an instance, series or the study of " +
                                        annotations.files.front());
        }
    }
    for (const Measurement& m : annotations.measurements) {
        if (m.studyInstanceUid != study || m.points.size() != pointCount(m.kind)) {
            throw std::invalid_argument(outPath + ": measurement " + std::to_string(m.id) +
                                        " is of another study, or lacks points");
        }
    }

    std::string description = "Radiolens labels and measurements";
    if (annotations.measurements.empty()) {
        description = "Radiolens labels";
    } else if (labels.empty()) {
        description = "Radiolens measurements";
    }
    auto doc = newReport(*first, series, kAnnotationSeriesNumber, description, outPath);
    ContentTree tree(doc->getTree(), outPath);
    const std::size_t root = tree.root(CODE_DCM_ImagingMeasurementReport);
    tree.codeItem(root, DSRTypes::RT_hasObsContext, CODE_DCM_ObserverType, CODE_DCM_Device);
    tree.text(root, DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverName,
              "Radiolens label and measurement export");
    tree.text(root, DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverManufacturer, kManufacturer);

    // Where each measurement was drawn (when it lies in one image of the study).
    std::map<std::string, std::vector<FrameGeometry>> frames;
    std::vector<std::pair<const FrameGeometry*, std::vector<Vec3>>> drawnOn;
    for (const Measurement& m : annotations.measurements) {
        auto& seriesFrames = frames[m.seriesInstanceUid];
        if (seriesFrames.empty()) {
            for (std::size_t i : bySeries[m.seriesInstanceUid]) {
                for (const FrameGeometry& g : geometryOf(instances[i], i)) {
                    seriesFrames.push_back(g);
                }
            }
        }
        auto shape = outline(m);
        drawnOn.push_back({frameHolding(seriesFrames, m.points), shape.second});
    }
    const auto frameNumberOf = [&](const FrameGeometry& g) {
        return g.frame >= 0 ? g.frame + 1 : 0;
    };

    // Every referenced image once, in the image library and the evidence.
    const std::size_t library = tree.container(root, CODE_DCM_ImageLibrary);
    std::set<std::pair<std::size_t, int>> listed;
    const auto reference = [&](std::size_t index, int number) {
        const DicomIdentity& id = instances[index].identity;
        if (listed.insert({index, number}).second) {
            tree.image(library, DSRTypes::RT_contains, nullptr, id.sopClassUid, id.sopInstanceUid,
                       number);
            check(doc->getCurrentRequestedProcedureEvidence().addItem(
                      id.studyInstanceUid.c_str(), id.seriesInstanceUid.c_str(),
                      id.sopClassUid.c_str(), id.sopInstanceUid.c_str()),
                  outPath, "the evidence of " + instances[index].path);
        }
    };
    for (const Label& l : labels) {
        if (l.level == LabelLevel::Image) {
            reference(byInstance[l.item], 0);
        }
    }
    for (const auto& [g, points] : drawnOn) {
        if (g != nullptr) {
            reference(g->file, frameNumberOf(*g));
        }
    }

    const std::size_t groups =
        tree.container(root, DSRBasicCodedEntry("126010", "DCM", "Imaging Measurements"));
    const DSRCodedEntryValue trackingUid("112040", "DCM", "Tracking Unique Identifier");
    for (const Label& l : labels) {
        const std::size_t group = tree.container(groups, CODE_DCM_MeasurementGroup);
        const bool model = l.source == LabelSource::Model;
        if (model) {
            tree.codeItem(group, DSRTypes::RT_hasObsContext, CODE_DCM_ObserverType,
                          CODE_DCM_Device);
            tree.uidref(group, DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverUID,
                        deviceUid(l.modelId, l.modelVersion, ""));
            tree.text(group, DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverName, l.modelId);
        }
        if (!model || l.confirmed) {
            tree.codeItem(group, DSRTypes::RT_hasObsContext, CODE_DCM_ObserverType,
                          CODE_DCM_Person);
            tree.pname(group, DSRTypes::RT_hasObsContext, CODE_DCM_PersonObserverName, l.annotator);
        }
        tree.text(group, DSRTypes::RT_contains, CODE_DCM_TrackingIdentifier,
                  "label " + std::to_string(l.id));
        tree.uidref(group, DSRTypes::RT_contains, trackingUid, newUid(SITE_INSTANCE_UID_ROOT));
        tree.codeItem(group, DSRTypes::RT_contains, CODE_DCM_Finding, classCode(l.className));
        if (l.timeMs > 0) {
            tree.observedAt(l.timeMs);
        }
        tree.codeItem(group, DSRTypes::RT_contains, privateCode("LABEL-SOURCE", "Label source"),
                      model ? privateCode("MODEL", "Model suggestion")
                            : privateCode("HUMAN", "Human reader"));
        if (model) {
            tree.text(group, DSRTypes::RT_contains, CODE_DCM_AlgorithmName, l.modelId);
            tree.text(group, DSRTypes::RT_contains, CODE_DCM_AlgorithmVersion, l.modelVersion);
            if (l.probability >= 0) {
                tree.num(group, DSRTypes::RT_contains, CODE_DCM_Probability, l.probability,
                         noUnits());
            }
            tree.codeItem(
                group, DSRTypes::RT_contains, privateCode("CONFIRMED", "Confirmed by a person"),
                l.confirmed ? code("373066001", "SCT", "Yes") : code("373067005", "SCT", "No"));
        }
        switch (l.level) {
        case LabelLevel::Image: {
            const DicomIdentity& id = instances[byInstance[l.item]].identity;
            tree.image(group, DSRTypes::RT_contains, nullptr, id.sopClassUid, id.sopInstanceUid, 0);
            break;
        }
        case LabelLevel::Series:
            tree.uidref(group, DSRTypes::RT_contains, CODE_DCM_SeriesInstanceUID, l.item);
            break;
        case LabelLevel::Study:
            tree.uidref(group, DSRTypes::RT_contains, CODE_DCM_StudyInstanceUID, l.item);
            break;
        }
    }

    const DSRCodedEntryValue millimetre("mm", "UCUM", "mm");
    for (std::size_t k = 0; k < annotations.measurements.size(); ++k) {
        const Measurement& m = annotations.measurements[k];
        const std::size_t group = tree.container(groups, CODE_DCM_MeasurementGroup);
        std::string name = toString(m.kind) + " " + std::to_string(m.id);
        if (!m.label.empty()) {
            name += ": " + m.label;
        }
        tree.text(group, DSRTypes::RT_contains, CODE_DCM_TrackingIdentifier,
                  cutCharacters(name, 64));
        tree.uidref(group, DSRTypes::RT_contains, trackingUid, newUid(SITE_INSTANCE_UID_ROOT));
        tree.uidref(group, DSRTypes::RT_contains, CODE_DCM_SeriesInstanceUID, m.seriesInstanceUid);
        std::size_t value = 0;
        switch (m.kind) {
        case MeasurementKind::Distance:
            value = tree.num(group, DSRTypes::RT_contains, code("410668003", "SCT", "Length"),
                             norm(m.points[1] - m.points[0]), millimetre);
            break;
        case MeasurementKind::Angle:
            value = tree.num(group, DSRTypes::RT_contains, CODE_DCM_Angle,
                             angleDegrees(m.points[0] - m.points[1], m.points[2] - m.points[1]),
                             DSRCodedEntryValue("deg", "UCUM", "deg"));
            break;
        case MeasurementKind::Rectangle:
        case MeasurementKind::Ellipse: {
            const Vec3 d = m.points[1] - m.points[0];
            double area = std::abs(dot(d, normalized(m.axisU)) * dot(d, normalized(m.axisV)));
            if (m.kind == MeasurementKind::Ellipse) {
                area *= M_PI / 4.0;
            }
            value = tree.num(group, DSRTypes::RT_contains, code("42798000", "SCT", "Area"), area,
                             DSRCodedEntryValue("mm2", "UCUM", "mm2"));
            break;
        }
        }
        if (m.createdAt > 0) {
            tree.observedAt(m.createdAt * 1000);
        }
        const auto& [g, points] = drawnOn[k];
        if (g != nullptr) {
            std::vector<std::pair<double, double>> pixels;
            for (const Vec3& p : points) {
                pixels.push_back(toPixel(*g, p));
            }
            const std::size_t shape =
                tree.scoord(value, DSRTypes::RT_inferredFrom, outline(m).first, pixels);
            const DicomIdentity& id = instances[g->file].identity;
            tree.image(shape, DSRTypes::RT_selectedFrom, nullptr, id.sopClassUid, id.sopInstanceUid,
                       frameNumberOf(*g));
        }
    }
    return saveReport(*doc, series, outPath);
}

WrittenObject writeLabelReport(const std::vector<Label>& labels,
                               const std::vector<std::string>& studyFiles,
                               const std::string& outPath, const ResultSeries& series) {
    StudyAnnotations annotations;
    annotations.labels = labels;
    annotations.files = studyFiles;
    return writeAnnotationReport(annotations, outPath, series);
}

WrittenObject writeMeasurementReport(const std::vector<Measurement>& measurements,
                                     const std::vector<std::string>& studyFiles,
                                     const std::string& outPath, const ResultSeries& series) {
    StudyAnnotations annotations;
    annotations.measurements = measurements;
    annotations.files = studyFiles;
    return writeAnnotationReport(annotations, outPath, series);
}

} // namespace radiolens
