// Results written back as DICOM (core/dicom/ResultDocuments.h): the classification SR, the
// saliency Secondary Capture and the label / measurement SR, from synthetic sources and the real
// tilted head CT, read back with DCMTK (an SR tree walker below, independent of the writer) and
// checked by dciodvfy (dicom3tools), the reference IOD checker.

#include "core/dicom/ResultDocuments.h"

#include "SyntheticDicom.h"

#include "dcmtk/dcmdata/dcuid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace radiolens {
namespace {

using test::makeTempFolder;
using test::newUid;
using test::SyntheticImage;
using test::writeSynthetic;

const char* kDciodvfy = "/usr/bin/dciodvfy";

#define REQUIRE_DCIODVFY()                                                                         \
    if (!fs::exists(kDciodvfy)) {                                                                  \
        GTEST_SKIP() << kDciodvfy << " not found (apt-get install dicom3tools; issue 8)";          \
    }

std::string ctFolder() {
    return std::string(RADIOLENS_DATA_DIR) + "/dicom/ct-head-ge-tilted";
}

#define REQUIRE_CT()                                                                               \
    if (!fs::is_directory(ctFolder())) {                                                           \
        GTEST_SKIP() << "shared data not found at " << ctFolder()                                  \
                     << " (set RADIOLENS_DATA_DIR to the ../shared/data folder; issue 8)";         \
    }

/// What dciodvfy says about `path`, and its lines that start with "Error" / "Warning".
struct Verification {
    std::string output;
    int errors = 0;
    int warnings = 0;
};

Verification dciodvfy(const std::string& path) {
    Verification v;
    const std::string command = std::string(kDciodvfy) + " '" + path + "' 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) {
        v.output = "cannot run " + command;
        v.errors = 1;
        return v;
    }
    char line[4096];
    while (std::fgets(line, sizeof line, pipe) != nullptr) {
        v.output += line;
        if (std::string(line).rfind("Error", 0) == 0) {
            ++v.errors;
        }
        if (std::string(line).rfind("Warning", 0) == 0) {
            ++v.warnings;
        }
    }
    pclose(pipe);
    return v;
}

#define EXPECT_VALID_DICOM(file)                                                                   \
    do {                                                                                           \
        const Verification v_ = dciodvfy(file);                                                    \
        EXPECT_EQ(v_.errors, 0) << "dciodvfy " << (file) << ":\n" << v_.output;                    \
        std::printf("dciodvfy %s: %d errors, %d warnings\n%s", fs::path(file).filename().c_str(),  \
                    v_.errors, v_.warnings,                                                        \
                    std::getenv("RADIOLENS_SHOW_DCIODVFY") ? v_.output.c_str() : "");              \
    } while (0)

std::string get(DcmItem& item, const DcmTagKey& key) {
    OFString value;
    item.findAndGetOFStringArray(key, value);
    return value.c_str();
}

/// The file's data set, loaded whole.
struct Loaded {
    DcmFileFormat file;
    DcmDataset& ds() { return *file.getDataset(); }
};

std::unique_ptr<Loaded> load(const std::string& path) {
    auto out = std::make_unique<Loaded>();
    const OFCondition status = out->file.loadFile(path.c_str());
    EXPECT_TRUE(status.good()) << path << ": " << status.text();
    return out;
}

/// One SR content item, read with plain dcmdata (not dcmsr), and its children.
struct Node {
    std::string valueType, relationship;
    std::string concept, conceptMeaning; ///< code value (or long code value) and meaning
    std::string text;                    ///< TEXT, UIDREF, PNAME, DATETIME value
    std::string code, codeScheme, codeMeaning;
    std::string numeric, unit;
    double floatValue = std::nan("");
    std::string sopClass, sopInstance, frames;
    std::string graphicType;
    std::vector<double> graphic;
    std::string observed; ///< ObservationDateTime
    std::vector<Node> children;

    /// Every node below (not this one) that `pick` accepts, depth first.
    std::vector<const Node*> find(const std::function<bool(const Node&)>& pick) const {
        std::vector<const Node*> out;
        for (const Node& child : children) {
            if (pick(child)) {
                out.push_back(&child);
            }
            for (const Node* n : child.find(pick)) {
                out.push_back(n);
            }
        }
        return out;
    }
    std::vector<const Node*> named(const std::string& conceptValue) const {
        return find([&](const Node& n) { return n.concept == conceptValue; });
    }
    /// The child with this concept (nullptr when none).
    const Node* child(const std::string& conceptValue) const {
        for (const Node& c : children) {
            if (c.concept == conceptValue) {
                return &c;
            }
        }
        return nullptr;
    }
};

DcmItem* firstItem(DcmItem& item, const DcmTagKey& sequence) {
    DcmItem* out = nullptr;
    return item.findAndGetSequenceItem(sequence, out, 0).good() ? out : nullptr;
}

std::string codeValueOf(DcmItem& item) {
    std::string value = get(item, DCM_CodeValue);
    return value.empty() ? get(item, DCM_LongCodeValue) : value;
}

Node readNode(DcmItem& item) {
    Node n;
    n.valueType = get(item, DCM_ValueType);
    n.relationship = get(item, DCM_RelationshipType);
    if (DcmItem* c = firstItem(item, DCM_ConceptNameCodeSequence)) {
        n.concept = codeValueOf(*c);
        n.conceptMeaning = get(*c, DCM_CodeMeaning);
    }
    for (const DcmTagKey& key : {DCM_TextValue, DCM_UID, DCM_PersonName, DCM_DateTime}) {
        if (n.text.empty()) {
            n.text = get(item, key);
        }
    }
    if (DcmItem* c = firstItem(item, DCM_ConceptCodeSequence)) {
        n.code = codeValueOf(*c);
        n.codeScheme = get(*c, DCM_CodingSchemeDesignator);
        n.codeMeaning = get(*c, DCM_CodeMeaning);
    }
    if (DcmItem* m = firstItem(item, DCM_MeasuredValueSequence)) {
        n.numeric = get(*m, DCM_NumericValue);
        Float64 f = 0;
        if (m->findAndGetFloat64(DCM_FloatingPointValue, f).good()) {
            n.floatValue = f;
        }
        if (DcmItem* u = firstItem(*m, DCM_MeasurementUnitsCodeSequence)) {
            n.unit = codeValueOf(*u);
        }
    }
    if (DcmItem* r = firstItem(item, DCM_ReferencedSOPSequence)) {
        n.sopClass = get(*r, DCM_ReferencedSOPClassUID);
        n.sopInstance = get(*r, DCM_ReferencedSOPInstanceUID);
        n.frames = get(*r, DCM_ReferencedFrameNumber);
    }
    n.graphicType = get(item, DCM_GraphicType);
    Float32 value = 0;
    for (unsigned long i = 0; item.findAndGetFloat32(DCM_GraphicData, value, i).good(); ++i) {
        n.graphic.push_back(value);
    }
    n.observed = get(item, DCM_ObservationDateTime);
    DcmSequenceOfItems* content = nullptr;
    if (item.findAndGetSequence(DCM_ContentSequence, content).good() && content != nullptr) {
        for (unsigned long i = 0; i < content->card(); ++i) {
            n.children.push_back(readNode(*content->getItem(i)));
        }
    }
    return n;
}

/// SOP Instance UIDs listed in an evidence sequence (study / series / SOP hierarchy).
std::set<std::string> evidence(DcmDataset& ds, const DcmTagKey& sequence) {
    std::set<std::string> out;
    DcmSequenceOfItems* studies = nullptr;
    if (ds.findAndGetSequence(sequence, studies).bad() || studies == nullptr) {
        return out;
    }
    for (unsigned long s = 0; s < studies->card(); ++s) {
        DcmSequenceOfItems* series = nullptr;
        studies->getItem(s)->findAndGetSequence(DCM_ReferencedSeriesSequence, series);
        for (unsigned long k = 0; series != nullptr && k < series->card(); ++k) {
            DcmSequenceOfItems* sops = nullptr;
            series->getItem(k)->findAndGetSequence(DCM_ReferencedSOPSequence, sops);
            for (unsigned long i = 0; sops != nullptr && i < sops->card(); ++i) {
                out.insert(get(*sops->getItem(i), DCM_ReferencedSOPInstanceUID));
            }
        }
    }
    return out;
}

/// Patient and study attributes every result must carry over from its source.
const DcmTagKey kCopied[] = {DCM_PatientName, DCM_PatientID,        DCM_PatientBirthDate,
                             DCM_PatientSex,  DCM_StudyInstanceUID, DCM_StudyDate,
                             DCM_StudyTime,   DCM_AccessionNumber,  DCM_ReferringPhysicianName,
                             DCM_StudyID};

void expectSameStudy(DcmDataset& result, const std::string& sourcePath) {
    auto source = load(sourcePath);
    ASSERT_TRUE(source->ds().convertToUTF8().good()); // results are in UTF-8
    for (const DcmTagKey& key : kCopied) {
        EXPECT_EQ(get(result, key), get(source->ds(), key)) << DcmTag(key).getTagName();
    }
    EXPECT_NE(get(result, DCM_SeriesInstanceUID), get(source->ds(), DCM_SeriesInstanceUID));
    EXPECT_NE(get(result, DCM_SOPInstanceUID), get(source->ds(), DCM_SOPInstanceUID));
}

/// A synthetic source with every patient and study attribute filled in, and a Latin-1 name.
SyntheticImage richSource(const std::string& studyUid) {
    SyntheticImage image;
    image.studyUid = studyUid;
    image.rows = 12;
    image.columns = 16;
    image.customize = [](DcmDataset& ds) {
        ds.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100");
        ds.putAndInsertString(DCM_PatientName, "M\xFCller^J\xFCrgen"); // Latin-1
        ds.putAndInsertString(DCM_PatientBirthDate, "19600229");
        ds.putAndInsertString(DCM_PatientSex, "M");
        ds.putAndInsertString(DCM_StudyTime, "101530");
        ds.putAndInsertString(DCM_AccessionNumber, "ACC-42");
        ds.putAndInsertString(DCM_ReferringPhysicianName, "Who^Doctor");
        ds.putAndInsertString(DCM_StudyID, "S7");
    };
    return image;
}

/// The measurement groups of an SR, found by their Tracking Identifier.
const Node* groupTracked(const Node& root, const std::string& trackingId) {
    for (const Node* g : root.named("125007")) {
        const Node* t = g->child("112039");
        if (t != nullptr && t->text == trackingId) {
            return g;
        }
    }
    return nullptr;
}

// ---- classification report ----------------------------------------------------------------------

TEST(DicomResults, ClassificationReportFilesWithTheSourceStudyAndKeepsEveryProbability) {
    const std::string folder = makeTempFolder("results-sr");
    const std::string study = newUid();
    const std::string a = folder + "/a.dcm";
    const std::string b = folder + "/b.dcm";
    const std::string multi = folder + "/multi.dcm";
    writeSynthetic(richSource(study), a);
    SyntheticImage second = richSource(study);
    second.instanceNumber = 2;
    writeSynthetic(second, b);
    SyntheticImage frames = richSource(study);
    frames.frames = 3;
    frames.sopClassUid = UID_MultiframeGrayscaleWordSecondaryCaptureImageStorage;
    writeSynthetic(frames, multi);

    const std::string longName = "ground-glass opacity, left lower lobe";
    std::vector<ImageClassification> results(3);
    results[0].sourcePath = a;
    results[0].findings = {{"normal", 0.123456789}, {longName, 0.876543211}};
    results[0].predicted = longName;
    results[0].saliencyMethod = "gradcam";
    results[1].sourcePath = b;
    results[1].findings = {{"normal", 0.9999991}, {longName, 9e-7}};
    results[1].predicted = "normal";
    results[2].sourcePath = multi;
    results[2].frame = 1;
    results[2].findings = {{"normal", 0.5}, {longName, 0.5}};
    results[2].predicted = "normal";
    const ModelIdentity model{"chest-nodule", "20261203-1", "resnet18", std::string(64, 'a')};

    const std::string out = folder + "/results/sr.dcm";
    const WrittenObject written = writeClassificationReport(results, model, out);
    ASSERT_TRUE(fs::exists(out));
    EXPECT_FALSE(fs::exists(out + ".tmp"));
    EXPECT_EQ(written.studyInstanceUid, study);

    auto sr = load(out);
    DcmDataset& ds = sr->ds();
    EXPECT_EQ(get(ds, DCM_SOPClassUID), UID_ComprehensiveSRStorage);
    EXPECT_EQ(get(ds, DCM_Modality), "SR");
    EXPECT_EQ(get(ds, DCM_SOPInstanceUID), written.sopInstanceUid);
    EXPECT_EQ(get(ds, DCM_SeriesInstanceUID), written.seriesInstanceUid);
    EXPECT_EQ(get(ds, DCM_SeriesDescription), "Radiolens AI results");
    EXPECT_EQ(get(ds, DCM_StudyInstanceUID), study);
    EXPECT_EQ(get(ds, DCM_SpecificCharacterSet), "ISO_IR 192");
    EXPECT_EQ(get(ds, DCM_PatientName), "M\xC3\xBCller^J\xC3\xBCrgen"); // now UTF-8
    for (const DcmTagKey& key :
         {DCM_PatientID, DCM_PatientBirthDate, DCM_PatientSex, DCM_StudyDate, DCM_StudyTime,
          DCM_AccessionNumber, DCM_ReferringPhysicianName, DCM_StudyID}) {
        auto source = load(a);
        EXPECT_EQ(get(ds, key), get(source->ds(), key)) << DcmTag(key).getTagName();
    }
    std::set<std::string> sourceUids;
    for (const std::string& path : {a, b, multi}) {
        auto source = load(path);
        sourceUids.insert(get(source->ds(), DCM_SOPInstanceUID));
        EXPECT_NE(get(ds, DCM_SeriesInstanceUID), get(source->ds(), DCM_SeriesInstanceUID));
    }
    EXPECT_EQ(sourceUids.count(written.sopInstanceUid), 0u);
    EXPECT_EQ(evidence(ds, DCM_CurrentRequestedProcedureEvidenceSequence), sourceUids);

    const Node root = readNode(ds);
    EXPECT_EQ(root.valueType, "CONTAINER");
    EXPECT_EQ(root.concept, "126000");
    ASSERT_EQ(root.named("121013").size(), 1u); // Device Observer Name
    EXPECT_EQ(root.named("121013")[0]->text, "chest-nodule");
    EXPECT_EQ(root.named("121015")[0]->text, "resnet18");
    const std::string deviceUid = root.named("121012")[0]->text;
    EXPECT_EQ(deviceUid.rfind("2.25.", 0), 0u);

    const std::array<std::string, 3> tracking = {"a.dcm", "b.dcm", "multi.dcm frame 2"};
    for (std::size_t i = 0; i < results.size(); ++i) {
        SCOPED_TRACE(tracking[i]);
        const Node* group = groupTracked(root, tracking[i]);
        ASSERT_NE(group, nullptr);
        EXPECT_EQ(group->child("111001")->text, "chest-nodule");
        EXPECT_EQ(group->child("111003")->text, "20261203-1");
        EXPECT_EQ(group->child("WEIGHTS-SHA256")->text, model.weightsSha256);
        auto source = load(results[i].sourcePath);
        const Node* image = group->child("121112");
        ASSERT_NE(image, nullptr);
        EXPECT_EQ(image->sopInstance, get(source->ds(), DCM_SOPInstanceUID));
        EXPECT_EQ(image->sopClass, get(source->ds(), DCM_SOPClassUID));
        EXPECT_EQ(image->frames, i == 2 ? "2" : "");
        const Node* finding = group->child("121071");
        ASSERT_NE(finding, nullptr);
        EXPECT_EQ(finding->code, results[i].predicted);
        EXPECT_EQ(finding->codeScheme, "99RADIOLENS");
        EXPECT_EQ(finding->codeMeaning, results[i].predicted);
        std::size_t probabilities = 0;
        for (const Node& p : group->children) {
            if (p.concept != "122157") {
                continue;
            }
            ++probabilities;
            ASSERT_EQ(p.children.size(), 1u);
            const std::string name = p.children[0].code;
            const auto expected =
                std::find_if(results[i].findings.begin(), results[i].findings.end(),
                             [&](const ClassFinding& f) { return f.className == name; });
            ASSERT_NE(expected, results[i].findings.end()) << name;
            EXPECT_NEAR(std::stod(p.numeric), expected->probability, 1e-6) << name;
            EXPECT_DOUBLE_EQ(p.floatValue, expected->probability) << name;
            EXPECT_EQ(p.unit, "1");
        }
        EXPECT_EQ(probabilities, results[i].findings.size());
    }
    EXPECT_EQ(groupTracked(root, "a.dcm")->child("SALIENCY")->text, "gradcam");
    REQUIRE_DCIODVFY();
    EXPECT_VALID_DICOM(out);
}

TEST(DicomResults, ClassificationReportRefusesMixedStudiesAndNamesUnreadableFiles) {
    const std::string folder = makeTempFolder("results-bad");
    const std::string a = folder + "/a.dcm";
    const std::string b = folder + "/b.dcm";
    writeSynthetic(richSource(newUid()), a);
    writeSynthetic(richSource(newUid()), b);
    const ModelIdentity model{"m", "1", "smallcnn", ""};
    std::vector<ImageClassification> two(2);
    two[0] = {a, -1, {{"x", 0.4}, {"y", 0.6}}, "y", "", ""};
    two[1] = {b, -1, {{"x", 0.4}, {"y", 0.6}}, "y", "", ""};
    EXPECT_THROW(writeClassificationReport(two, model, folder + "/mixed.dcm"),
                 std::invalid_argument);
    EXPECT_FALSE(fs::exists(folder + "/mixed.dcm"));

    const std::string notDicom = folder + "/picture.png";
    std::FILE* f = std::fopen(notDicom.c_str(), "wb");
    std::fputs("\x89PNG\r\n\x1a\n not a DICOM file", f);
    std::fclose(f);
    for (const std::string& path : {notDicom, folder + "/missing.dcm"}) {
        try {
            writeClassificationReport({{path, -1, {{"x", 1.0}}, "x", "", ""}}, model,
                                      folder + "/never.dcm");
            ADD_FAILURE() << "no error for " << path;
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        }
    }
    // A target that cannot be written names the target.
    fs::create_directories(folder + "/blocked");
    writeSynthetic(richSource(newUid()), a);
    try {
        writeClassificationReport({{a, -1, {{"x", 1.0}}, "x", "", ""}}, model, folder + "/blocked");
        ADD_FAILURE() << "writing over a folder succeeded";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(folder + "/blocked"), std::string::npos) << e.what();
    }
}

// ---- saliency capture ---------------------------------------------------------------------------

RenderedSlice pattern(int width, int height) {
    RenderedSlice rgb;
    rgb.width = width;
    rgb.height = height;
    rgb.channels = 3;
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            rgb.pixels.push_back(std::uint8_t(x * 13 + y));
            rgb.pixels.push_back(std::uint8_t(y * 7 + 3));
            rgb.pixels.push_back(std::uint8_t((x ^ y) * 5));
        }
    }
    return rgb;
}

void expectCapture(const std::string& out, const WrittenObject& written,
                   const std::string& sourcePath, const RenderedSlice& rgb) {
    auto sc = load(out);
    DcmDataset& ds = sc->ds();
    expectSameStudy(ds, sourcePath);
    EXPECT_EQ(get(ds, DCM_SOPClassUID), UID_SecondaryCaptureImageStorage);
    EXPECT_EQ(get(ds, DCM_SOPInstanceUID), written.sopInstanceUid);
    EXPECT_EQ(get(ds, DCM_PhotometricInterpretation), "RGB");
    EXPECT_EQ(get(ds, DCM_BurnedInAnnotation), "NO");
    EXPECT_EQ(get(ds, DCM_ConversionType), "WSD");
    EXPECT_FALSE(get(ds, DCM_DerivationDescription).empty());
    Uint16 rows = 0, columns = 0;
    ds.findAndGetUint16(DCM_Rows, rows);
    ds.findAndGetUint16(DCM_Columns, columns);
    EXPECT_EQ(rows, rgb.height);
    EXPECT_EQ(columns, rgb.width);
    const Uint8* pixels = nullptr;
    unsigned long count = 0;
    ASSERT_TRUE(ds.findAndGetUint8Array(DCM_PixelData, pixels, &count).good());
    ASSERT_GE(count, rgb.pixels.size());
    EXPECT_TRUE(std::equal(rgb.pixels.begin(), rgb.pixels.end(), pixels));
    auto source = load(sourcePath);
    DcmItem* reference = firstItem(ds, DCM_SourceImageSequence);
    ASSERT_NE(reference, nullptr);
    EXPECT_EQ(get(*reference, DCM_ReferencedSOPInstanceUID), get(source->ds(), DCM_SOPInstanceUID));
    EXPECT_EQ(get(*reference, DCM_ReferencedSOPClassUID), get(source->ds(), DCM_SOPClassUID));
}

TEST(DicomResults, SaliencyCaptureHoldsTheOverlayInTheSourceStudy) {
    const std::string folder = makeTempFolder("results-sc");
    const std::string study = newUid();
    const std::string source = folder + "/ct.dcm";
    writeSynthetic(richSource(study), source);
    const RenderedSlice rgb = pattern(16, 12);
    const std::string out = folder + "/ct.gradcam.dcm";
    const WrittenObject written =
        writeSaliencyCapture(source, -1, rgb, "Grad-CAM of class 'nodule'", out);
    expectCapture(out, written, source, rgb);
    auto sc = load(out);
    EXPECT_EQ(get(sc->ds(), DCM_PatientOrientation), "L\\P");

    // A second capture of the run goes into the same series.
    ResultSeries same;
    same.seriesInstanceUid = written.seriesInstanceUid;
    same.instanceNumber = 2;
    const WrittenObject again =
        writeSaliencyCapture(source, -1, rgb, "again", folder + "/2.dcm", same);
    EXPECT_EQ(again.seriesInstanceUid, written.seriesInstanceUid);
    EXPECT_NE(again.sopInstanceUid, written.sopInstanceUid);

    // A picture of another size than the source is refused.
    EXPECT_THROW(writeSaliencyCapture(source, -1, pattern(12, 16), "", folder + "/bad.dcm"),
                 std::invalid_argument);

    // The report points at the capture as the best illustration of the finding.
    ImageClassification c{source, -1, {{"nodule", 0.75}, {"none", 0.25}}, "nodule", "gradcam", out};
    const std::string sr = folder + "/sr.dcm";
    writeClassificationReport({c}, {"m", "1", "smallcnn", ""}, sr);
    auto report = load(sr);
    const Node root = readNode(report->ds());
    ASSERT_EQ(root.named("121080").size(), 1u);
    EXPECT_EQ(root.named("121080")[0]->sopInstance, written.sopInstanceUid);
    EXPECT_EQ(evidence(report->ds(), DCM_PertinentOtherEvidenceSequence),
              std::set<std::string>{written.sopInstanceUid});
    REQUIRE_DCIODVFY();
    EXPECT_VALID_DICOM(out);
    EXPECT_VALID_DICOM(sr);
}

TEST(DicomResults, RealTiltedCtGetsAValidReportAndCapture) {
    REQUIRE_CT();
    const std::string folder = makeTempFolder("results-ct");
    const std::string first = ctFolder() + "/01.dcm";
    const std::string second = ctFolder() + "/14.dcm";
    const RenderedSlice rgb = pattern(512, 512);
    const std::string capture = folder + "/01.gradcam.dcm";
    const WrittenObject sc = writeSaliencyCapture(first, -1, rgb, "Grad-CAM", capture);
    expectCapture(capture, sc, first, rgb);
    std::vector<ImageClassification> results(2);
    results[0] = {first,      -1,        {{"bleed", 0.0312}, {"no bleed", 0.9688}},
                  "no bleed", "gradcam", capture};
    results[1] = {second, -1, {{"bleed", 0.61}, {"no bleed", 0.39}}, "bleed", "", ""};
    const std::string out = folder + "/sr.dcm";
    const WrittenObject written =
        writeClassificationReport(results, {"ct-bleed", "3", "densenet121", ""}, out);
    auto sr = load(out);
    expectSameStudy(sr->ds(), first);
    std::set<std::string> sources;
    for (const std::string& path : {first, second}) {
        sources.insert(get(load(path)->ds(), DCM_SOPInstanceUID));
    }
    EXPECT_EQ(evidence(sr->ds(), DCM_CurrentRequestedProcedureEvidenceSequence), sources);
    const Node root = readNode(sr->ds());
    std::set<std::string> referenced;
    for (const Node* n : root.named("121112")) {
        referenced.insert(n->sopInstance);
    }
    EXPECT_EQ(referenced, sources);
    EXPECT_EQ(written.studyInstanceUid, get(load(first)->ds(), DCM_StudyInstanceUID));
    REQUIRE_DCIODVFY();
    EXPECT_VALID_DICOM(capture);
    EXPECT_VALID_DICOM(out);
}

// ---- saliency parametric map --------------------------------------------------------------------

std::vector<float> saliencyValues(int width, int height) {
    std::vector<float> values;
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            values.push_back(float(x * height + y) / float(width * height));
        }
    }
    return values;
}

void expectParametricMap(const std::string& out, const WrittenObject& written,
                         const std::string& sourcePath, const std::vector<float>& values) {
    auto pm = load(out);
    DcmDataset& ds = pm->ds();
    expectSameStudy(ds, sourcePath);
    auto source = load(sourcePath);
    EXPECT_EQ(get(ds, DCM_SOPClassUID), UID_ParametricMapStorage);
    EXPECT_EQ(get(ds, DCM_SOPInstanceUID), written.sopInstanceUid);
    EXPECT_EQ(get(ds, DCM_FrameOfReferenceUID), get(source->ds(), DCM_FrameOfReferenceUID));
    const Float32* floats = nullptr;
    unsigned long count = 0;
    ASSERT_TRUE(ds.findAndGetFloat32Array(DCM_FloatPixelData, floats, &count).good());
    ASSERT_EQ(count, values.size());
    EXPECT_TRUE(std::equal(values.begin(), values.end(), floats));
    // The frame lies where the source image lies.
    DcmItem* shared = firstItem(ds, DCM_SharedFunctionalGroupsSequence);
    DcmItem* perFrame = firstItem(ds, DCM_PerFrameFunctionalGroupsSequence);
    ASSERT_NE(shared, nullptr);
    ASSERT_NE(perFrame, nullptr);
    DcmItem* position = firstItem(*perFrame, DCM_PlanePositionSequence);
    DcmItem* orientation = firstItem(*shared, DCM_PlaneOrientationSequence);
    DcmItem* measures = firstItem(*shared, DCM_PixelMeasuresSequence);
    ASSERT_TRUE(position && orientation && measures);
    for (const auto& [item, key] : {std::pair{position, DCM_ImagePositionPatient},
                                    std::pair{orientation, DCM_ImageOrientationPatient},
                                    std::pair{measures, DCM_PixelSpacing}}) {
        Float64 mine = 0, theirs = 0;
        for (unsigned long i = 0; source->ds().findAndGetFloat64(key, theirs, i).good(); ++i) {
            ASSERT_TRUE(item->findAndGetFloat64(key, mine, i).good()) << DcmTag(key).getTagName();
            EXPECT_NEAR(mine, theirs, 1e-6) << DcmTag(key).getTagName() << " " << i;
        }
    }
}

TEST(DicomResults, SaliencyParametricMapLiesOnTheSourceGridWhereTheGeometryAllows) {
    const std::string folder = makeTempFolder("results-pm");
    const std::string source = folder + "/ct.dcm";
    SyntheticImage image = richSource(newUid());
    image.position = Vec3{-12.5, 30.25, 7.0};
    image.sliceThickness = 2.5;
    const auto customize = image.customize;
    image.customize = [customize](DcmDataset& ds) {
        customize(ds);
        ds.putAndInsertString(DCM_FrameOfReferenceUID, newUid().c_str());
    };
    writeSynthetic(image, source);
    const std::vector<float> values = saliencyValues(16, 12);
    const std::string out = folder + "/ct.pm.dcm";
    const auto written = writeSaliencyParametricMap(source, -1, 16, 12, values, "Grad-CAM", out);
    ASSERT_TRUE(written.has_value());
    expectParametricMap(out, *written, source, values);

    // A radiograph without patient geometry, or a map of another size: nothing is written.
    SyntheticImage radiograph = richSource(newUid());
    radiograph.modality = "DX";
    radiograph.sopClassUid = UID_DigitalXRayImageStorageForPresentation;
    radiograph.position.reset();
    radiograph.orientation.reset();
    writeSynthetic(radiograph, folder + "/dx.dcm");
    EXPECT_FALSE(writeSaliencyParametricMap(folder + "/dx.dcm", -1, 16, 12, values, "",
                                            folder + "/dx.pm.dcm"));
    EXPECT_FALSE(fs::exists(folder + "/dx.pm.dcm"));
    EXPECT_FALSE(writeSaliencyParametricMap(source, -1, 12, 16, values, "", folder + "/x.dcm"));
    EXPECT_THROW(writeSaliencyParametricMap(source, -1, 16, 16, values, "", folder + "/x.dcm"),
                 std::invalid_argument);
    REQUIRE_DCIODVFY();
    EXPECT_VALID_DICOM(out);
}

TEST(DicomResults, SaliencyParametricMapOfTheRealTiltedCt) {
    REQUIRE_CT();
    const std::string folder = makeTempFolder("results-ct-pm");
    const std::string source = ctFolder() + "/05.dcm";
    const std::vector<float> values = saliencyValues(512, 512);
    const std::string out = folder + "/05.pm.dcm";
    const auto written = writeSaliencyParametricMap(source, -1, 512, 512, values, "Grad-CAM", out);
    ASSERT_TRUE(written.has_value());
    expectParametricMap(out, *written, source, values);
    REQUIRE_DCIODVFY();
    EXPECT_VALID_DICOM(out);
}

// ---- labels and measurements --------------------------------------------------------------------

struct Series {
    std::string study, series;
    std::vector<std::string> files; ///< slice order: slice k at z = 10 + 2 k
    std::vector<std::string> sops;
};

/// Three 8 x 8 axial slices, 0.5 mm pixels, 2 mm apart (thickness 2 mm), at z = 10, 12, 14.
Series threeSlices(const std::string& folder) {
    Series s;
    SyntheticImage base = richSource(newUid());
    base.rows = 8;
    base.columns = 8;
    base.sliceThickness = 2.0;
    base.seriesUid = newUid();
    s.study = base.studyUid;
    s.series = base.seriesUid;
    s.files = test::writeSeries(
        folder, 3, 10.0, 2.0, [](int, int, int) { return 0; }, base);
    for (const std::string& f : s.files) {
        s.sops.push_back(get(load(f)->ds(), DCM_SOPInstanceUID));
    }
    return s;
}

TEST(DicomResults, LabelReportSaysWhoLabelledWhatAndWhen) {
    const std::string folder = makeTempFolder("results-labels");
    const Series s = threeSlices(folder + "/series");
    std::vector<Label> labels(4);
    labels[0].id = 1;
    labels[0].item = s.sops[1];
    labels[0].className = "pneumonia";
    labels[0].annotator = "ann";
    labels[0].timeMs = 1796300712345; // 2026-12-03T12:25:12.345Z
    labels[1].id = 2;
    labels[1].level = LabelLevel::Series;
    labels[1].item = s.series;
    labels[1].className = "normal";
    labels[1].annotator = "bob";
    labels[1].source = LabelSource::Model;
    labels[1].modelId = "chest";
    labels[1].modelVersion = "7";
    labels[1].probability = 0.8125;
    labels[1].confirmed = true;
    labels[1].timeMs = 1796300713000;
    labels[2].id = 3;
    labels[2].level = LabelLevel::Study;
    labels[2].item = s.study;
    labels[2].className = "follow-up";
    labels[2].annotator = "ann";
    labels[2].timeMs = 1796300714000;
    labels[3] = labels[0];
    labels[3].id = 4;
    labels[3].className.clear(); // withdrawn: not reported
    labels[3].annotator = "carl";

    const std::string out = folder + "/labels.dcm";
    const WrittenObject written = writeLabelReport(labels, s.files, out);
    auto sr = load(out);
    expectSameStudy(sr->ds(), s.files[0]);
    EXPECT_EQ(written.studyInstanceUid, s.study);
    const Node root = readNode(sr->ds());
    EXPECT_EQ(root.named("125007").size(), 3u);

    const Node* image = groupTracked(root, "label 1");
    ASSERT_NE(image, nullptr);
    EXPECT_EQ(image->child("121071")->code, "pneumonia");
    EXPECT_EQ(image->child("121071")->observed, "20261203122512.345+0000");
    EXPECT_EQ(image->child("121008")->text, "ann");
    EXPECT_EQ(image->child("121008")->relationship, "HAS OBS CONTEXT");
    EXPECT_EQ(image->child("LABEL-SOURCE")->code, "HUMAN");
    const auto images = image->find([](const Node& n) { return n.valueType == "IMAGE"; });
    ASSERT_EQ(images.size(), 1u);
    EXPECT_EQ(images[0]->sopInstance, s.sops[1]);

    const Node* series = groupTracked(root, "label 2");
    ASSERT_NE(series, nullptr);
    EXPECT_EQ(series->child("121071")->code, "normal");
    EXPECT_EQ(series->child("112002")->text, s.series);
    EXPECT_EQ(series->child("121013")->text, "chest");
    EXPECT_EQ(series->child("121008")->text, "bob");
    EXPECT_EQ(series->child("111003")->text, "7");
    EXPECT_NEAR(std::stod(series->child("122157")->numeric), 0.8125, 1e-9);
    EXPECT_EQ(series->child("CONFIRMED")->code, "373066001");
    EXPECT_EQ(series->child("LABEL-SOURCE")->code, "MODEL");

    const Node* study = groupTracked(root, "label 3");
    ASSERT_NE(study, nullptr);
    EXPECT_EQ(study->child("110180")->text, s.study);
    EXPECT_EQ(study->child("121071")->code, "follow-up");

    EXPECT_EQ(evidence(sr->ds(), DCM_CurrentRequestedProcedureEvidenceSequence),
              std::set<std::string>{s.sops[1]});

    // A label of an item that is not in the given files is refused.
    Label stray = labels[0];
    stray.item = newUid();
    EXPECT_THROW(writeLabelReport({stray}, s.files, folder + "/stray.dcm"), std::invalid_argument);
    REQUIRE_DCIODVFY();
    EXPECT_VALID_DICOM(out);
}

Measurement measurement(const Series& s, std::int64_t id, MeasurementKind kind,
                        std::vector<Vec3> points) {
    Measurement m;
    m.id = id;
    m.studyInstanceUid = s.study;
    m.seriesInstanceUid = s.series;
    m.kind = kind;
    m.points = std::move(points);
    m.createdAt = 1796300712;
    m.label = "m" + std::to_string(id);
    return m;
}

TEST(DicomResults, MeasurementReportGivesMillimetresDegreesAndWhereTheyWereDrawn) {
    const std::string folder = makeTempFolder("results-measure");
    const Series s = threeSlices(folder + "/series");
    // On slice 1 (z = 12; position (0, 0, 12), rows along +y, columns along +x, 0.5 mm).
    std::vector<Measurement> ms = {
        measurement(s, 1, MeasurementKind::Distance, {{0.5, 0.5, 12}, {2.5, 1.5, 12}}),
        measurement(s, 2, MeasurementKind::Angle, {{3, 1, 12.3}, {1, 1, 12.3}, {1, 3, 12.3}}),
        measurement(s, 3, MeasurementKind::Rectangle, {{0.5, 0.5, 14}, {2.5, 1.5, 14}}),
        measurement(s, 4, MeasurementKind::Ellipse, {{0, 0, 10}, {2, 1, 10}}),
        // Through the slices (drawn on a sagittal plane): no single image holds it.
        measurement(s, 5, MeasurementKind::Distance, {{1, 1, 10}, {1, 1, 14}}),
    };
    const std::string out = folder + "/measurements.dcm";
    writeMeasurementReport(ms, s.files, out);
    auto sr = load(out);
    expectSameStudy(sr->ds(), s.files[0]);
    const Node root = readNode(sr->ds());

    struct Expected {
        std::string tracking, concept, unit;
        double value;
        std::size_t slice; ///< 99: none
        std::string graphicType;
        std::vector<double> graphic;
    };
    const std::vector<Expected> expected = {
        {"distance 1: m1", "410668003", "mm", std::sqrt(5.0), 1, "POLYLINE", {1.5, 1.5, 5.5, 3.5}},
        {"angle 2: m2", "110859", "deg", 90.0, 1, "POLYLINE", {6.5, 2.5, 2.5, 2.5, 2.5, 6.5}},
        {"rectangle 3: m3",
         "42798000",
         "mm2",
         2.0,
         2,
         "POLYLINE",
         {1.5, 1.5, 5.5, 1.5, 5.5, 3.5, 1.5, 3.5, 1.5, 1.5}},
        {"ellipse 4: m4",
         "42798000",
         "mm2",
         M_PI / 2.0,
         0,
         "ELLIPSE",
         {0.5, 1.5, 4.5, 1.5, 2.5, 0.5, 2.5, 2.5}},
        {"distance 5: m5", "410668003", "mm", 4.0, 99, "", {}},
    };
    for (const Expected& e : expected) {
        SCOPED_TRACE(e.tracking);
        const Node* group = groupTracked(root, e.tracking);
        ASSERT_NE(group, nullptr);
        EXPECT_EQ(group->child("112002")->text, s.series);
        const Node* value = group->child(e.concept);
        ASSERT_NE(value, nullptr);
        EXPECT_EQ(value->unit, e.unit);
        EXPECT_NEAR(std::stod(value->numeric), e.value, 1e-6);
        EXPECT_NEAR(value->floatValue, e.value, 1e-12);
        EXPECT_EQ(value->observed, "20261203122512.000+0000");
        if (e.slice == 99) {
            EXPECT_TRUE(value->children.empty());
            continue;
        }
        ASSERT_EQ(value->children.size(), 1u);
        const Node& shape = value->children[0];
        EXPECT_EQ(shape.relationship, "INFERRED FROM");
        EXPECT_EQ(shape.valueType, "SCOORD");
        EXPECT_EQ(shape.graphicType, e.graphicType);
        ASSERT_EQ(shape.graphic.size(), e.graphic.size());
        for (std::size_t i = 0; i < e.graphic.size(); ++i) {
            EXPECT_NEAR(shape.graphic[i], e.graphic[i], 1e-4) << i;
        }
        ASSERT_EQ(shape.children.size(), 1u);
        EXPECT_EQ(shape.children[0].relationship, "SELECTED FROM");
        EXPECT_EQ(shape.children[0].sopInstance, s.sops[e.slice]);
    }
    REQUIRE_DCIODVFY();
    EXPECT_VALID_DICOM(out);
}

TEST(DicomResults, MeasurementOnTheRealTiltedCtPointsAtItsSlice) {
    REQUIRE_CT();
    const std::string folder = makeTempFolder("results-ct-measure");
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(ctFolder())) {
        files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    // A distance between pixels (100, 200) and (300, 260) of 10.dcm, in patient space.
    const std::string slice = ctFolder() + "/10.dcm";
    auto ct = load(slice);
    DcmDataset& ds = ct->ds();
    Float64 ipp[3], iop[6], spacing[2];
    for (unsigned long i = 0; i < 3; ++i) {
        ds.findAndGetFloat64(DCM_ImagePositionPatient, ipp[i], i);
    }
    for (unsigned long i = 0; i < 6; ++i) {
        ds.findAndGetFloat64(DCM_ImageOrientationPatient, iop[i], i);
    }
    ds.findAndGetFloat64(DCM_PixelSpacing, spacing[0], 0);
    ds.findAndGetFloat64(DCM_PixelSpacing, spacing[1], 1);
    const auto at = [&](double column, double row) {
        return Vec3{ipp[0] + iop[0] * column * spacing[1] + iop[3] * row * spacing[0],
                    ipp[1] + iop[1] * column * spacing[1] + iop[4] * row * spacing[0],
                    ipp[2] + iop[2] * column * spacing[1] + iop[5] * row * spacing[0]};
    };
    Measurement m;
    m.id = 9;
    m.studyInstanceUid = get(ds, DCM_StudyInstanceUID);
    m.seriesInstanceUid = get(ds, DCM_SeriesInstanceUID);
    m.points = {at(100, 200), at(300, 260)};
    const std::string out = folder + "/ct-measurements.dcm";
    writeMeasurementReport({m}, files, out);
    auto sr = load(out);
    expectSameStudy(sr->ds(), slice);
    const Node root = readNode(sr->ds());
    const auto shapes = root.find([](const Node& n) { return n.valueType == "SCOORD"; });
    ASSERT_EQ(shapes.size(), 1u);
    const std::vector<double> expected = {100.5, 200.5, 300.5, 260.5};
    ASSERT_EQ(shapes[0]->graphic.size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_NEAR(shapes[0]->graphic[i], expected[i], 1e-3);
    }
    EXPECT_EQ(shapes[0]->children[0].sopInstance, get(ds, DCM_SOPInstanceUID));
    const double mm = std::hypot(200 * spacing[1], 60 * spacing[0]);
    EXPECT_NEAR(std::stod(root.named("410668003")[0]->numeric), mm, 1e-6);
    REQUIRE_DCIODVFY();
    EXPECT_VALID_DICOM(out);
}

} // namespace
} // namespace radiolens
