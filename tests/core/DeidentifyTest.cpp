// De-identification on export (DICOM PS3.15 Annex E, Basic Application Level Confidentiality
// Profile): every attribute of the profile's table that the data dictionary knows, filled with a
// recognisable value, comes out removed, emptied, replaced or with a new UID as the table says;
// a reference from one file to another still points at it; pixels stay bit-identical; the real
// GE CT loses every identifier; files that may show identity in their pixels are reported; a
// broken file is reported by name and the export carries on.

#include "core/dicom/ConfidentialityProfile.h"
#include "core/dicom/Deidentifier.h"
#include "core/dicom/StudyIndexer.h"

#include "SyntheticDicom.h"

#include "dcmtk/dcmdata/dcdict.h"
#include "dcmtk/dcmdata/dcdicent.h"
#include "dcmtk/dcmdata/dcvrat.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

namespace fs = std::filesystem;
using namespace radiolens;
using namespace radiolens::test;

namespace {

/// Every recognisable text value in the synthetic file starts with this.
constexpr const char* kMarker = "ORIG";
/// The patient's name inside every sequence the test fills.
constexpr const char* kNestedName = "ORIG^Nested";

std::uint32_t keyOf(std::uint16_t group, std::uint16_t element) {
    return std::uint32_t(group) << 16 | element;
}

std::string hexTag(std::uint16_t group, std::uint16_t element) {
    char text[16];
    std::snprintf(text, sizeof text, "%04X%04X", group, element);
    return text;
}

const DcmDictEntry* dictionaryEntry(std::uint16_t group, std::uint16_t element) {
    const DcmDataDictionary& dictionary = dcmDataDict.rdlock();
    const DcmDictEntry* entry = dictionary.findEntry(DcmTagKey(group, element), nullptr);
    dcmDataDict.rdunlock();
    return entry;
}

/// One VR where the dictionary allows several ("US or SS", "OB or OW").
DcmEVR concreteVr(DcmEVR vr) {
    switch (vr) {
    case EVR_xs:
        return EVR_US;
    case EVR_ox:
    case EVR_px:
        return EVR_OB;
    case EVR_lt:
        return EVR_OW;
    case EVR_up:
        return EVR_UL;
    default:
        return vr;
    }
}

/// Puts a recognisable value of the attribute's VR into `item` (a sequence gets one item with
/// a patient's name in it). Returns false for attributes that do not belong in a data set.
bool fillAttribute(DcmItem& item, std::uint16_t group, std::uint16_t element) {
    if (group == 0x0000 || group == 0x0002) {
        return false; // command and file meta groups: DCMTK writes those itself
    }
    DcmTag tag(group, element);
    const DcmEVR vr = concreteVr(tag.getEVR());
    tag.setVR(DcmVR(vr));
    if (vr == EVR_SQ) {
        DcmItem* inner = nullptr;
        EXPECT_TRUE(item.findOrCreateSequenceItem(tag, inner, 0).good()) << tag.getTagName();
        inner->putAndInsertString(DCM_PatientName, kNestedName);
        return true;
    }
    DcmElement* e = nullptr;
    EXPECT_TRUE(DcmItem::newDicomElementWithVR(e, tag).good()) << tag.getTagName();
    const std::string text = std::string(kMarker) + "_" + hexTag(group, element);
    OFCondition put = EC_Normal;
    switch (vr) {
    case EVR_UI:
        put = e->putString(newUid().c_str());
        break;
    case EVR_DA:
        put = e->putString("20210315");
        break;
    case EVR_TM:
        put = e->putString("101112");
        break;
    case EVR_DT:
        put = e->putString("20210315101112");
        break;
    case EVR_AS:
        put = e->putString("042Y");
        break;
    case EVR_PN:
        put = e->putString((std::string(kMarker) + "^" + hexTag(group, element)).c_str());
        break;
    case EVR_DS:
        put = e->putString("123.5");
        break;
    case EVR_IS:
    case EVR_US:
    case EVR_SS:
    case EVR_UL:
    case EVR_SL:
    case EVR_FL:
    case EVR_FD:
    case EVR_OL:
    case EVR_OF:
    case EVR_OD:
    case EVR_OV:
    case EVR_SV:
    case EVR_UV:
        put = e->putString("123");
        break;
    case EVR_AT:
        put = static_cast<DcmAttributeTag*>(e)->putTagVal(DcmTagKey(0x0011, 0x2233));
        break;
    case EVR_OB:
    case EVR_UN:
        put = e->putUint8Array(reinterpret_cast<const Uint8*>(kMarker), 4);
        break;
    case EVR_OW:
        put = e->putUint16Array(reinterpret_cast<const Uint16*>(kMarker), 2);
        break;
    default:
        put = e->putString(text.c_str());
        break;
    }
    EXPECT_TRUE(put.good()) << tag.getTagName() << ": " << put.text();
    EXPECT_TRUE(item.insert(e, true).good()) << tag.getTagName();
    return true;
}

/// The value of an element as text (all values, backslash-separated).
std::string textOf(DcmElement& element) {
    OFString value;
    element.getOFStringArray(value);
    return value.c_str();
}

/// Calls `visit` for every element of `item`, inside sequences too.
void forEachElement(DcmItem& item, const std::function<void(DcmElement&)>& visit) {
    for (unsigned long i = 0; i < item.card(); ++i) {
        DcmElement& element = *item.getElement(i);
        visit(element);
        if (element.ident() == EVR_SQ) {
            auto& sequence = static_cast<DcmSequenceOfItems&>(element);
            for (unsigned long k = 0; k < sequence.card(); ++k) {
                forEachElement(*sequence.getItem(k), visit);
            }
        }
    }
}

std::vector<char> fileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool contains(const std::vector<char>& bytes, const std::string& text) {
    return std::search(bytes.begin(), bytes.end(), text.begin(), text.end()) != bytes.end();
}

std::vector<std::uint8_t> pixelBytes(DcmDataset& dataset) {
    DcmElement* pixels = nullptr;
    Uint8* data = nullptr;
    if (dataset.findAndGetElement(DCM_PixelData, pixels).bad() ||
        pixels->getUint8Array(data).bad() || data == nullptr) {
        return {};
    }
    return {data, data + pixels->getLength()};
}

std::unique_ptr<DcmFileFormat> load(const std::string& path) {
    auto file = std::make_unique<DcmFileFormat>();
    const OFCondition status = file->loadFile(path.c_str());
    EXPECT_TRUE(status.good()) << path << ": " << status.text();
    file->loadAllDataIntoMemory();
    return file;
}

std::string stringAt(DcmItem& item, const DcmTagKey& tag) {
    OFString value;
    item.findAndGetOFStringArray(tag, value);
    return value.c_str();
}

/// The text of `tag` in the first item of each nested sequence along `path`.
std::string nestedString(DcmItem& item, const std::vector<DcmTagKey>& path, const DcmTagKey& tag) {
    DcmItem* current = &item;
    for (const DcmTagKey& sequence : path) {
        DcmItem* next = nullptr;
        if (current->findAndGetSequenceItem(sequence, next, 0).bad() || next == nullptr) {
            return std::string("(missing ") + DcmTag(sequence).getTagName() + ")";
        }
        current = next;
    }
    return stringAt(*current, tag);
}

std::string sharedDataFolder(const std::string& name) {
    return std::string(RADIOLENS_DATA_DIR) + "/dicom/" + name;
}

} // namespace

TEST(DeidentifyProfile, TableHasTheBasicProfileWithItsRules) {
    const auto& table = ConfidentialityProfile::attributes();
    EXPECT_GE(table.size(), 600u);
    std::set<std::uint32_t> seen;
    for (const ProfileAttribute& row : table) {
        if (!row.isPattern()) {
            EXPECT_TRUE(seen.insert(keyOf(row.group, row.element)).second)
                << "duplicate " << hexTag(row.group, row.element);
        }
        EXPECT_EQ(row.action, ConfidentialityProfile::resolve(row.standardAction)) << row.name;
    }
    // The strictest choice a de-identifier that does not know the IOD can make.
    EXPECT_EQ(ConfidentialityProfile::resolve("X/Z/D"), ProfileAction::Remove);
    EXPECT_EQ(ConfidentialityProfile::resolve("X/Z/U*"), ProfileAction::Remove);
    EXPECT_EQ(ConfidentialityProfile::resolve("X/D"), ProfileAction::Remove);
    EXPECT_EQ(ConfidentialityProfile::resolve("Z/D"), ProfileAction::Zero);
    EXPECT_EQ(ConfidentialityProfile::resolve("U"), ProfileAction::ReplaceUid);

    const auto actionOf = [](std::uint16_t g, std::uint16_t e) {
        const ProfileAttribute* row = ConfidentialityProfile::find(g, e);
        return row == nullptr ? std::string("kept") : ConfidentialityProfile::code(row->action);
    };
    EXPECT_EQ(actionOf(0x0010, 0x0010), "Z");    // Patient's Name
    EXPECT_EQ(actionOf(0x0008, 0x0018), "U");    // SOP Instance UID
    EXPECT_EQ(actionOf(0x0008, 0x0080), "X");    // Institution Name, X/Z/D
    EXPECT_EQ(actionOf(0x0040, 0xA730), "D");    // Content Sequence
    EXPECT_EQ(actionOf(0x5010, 0x3000), "X");    // curve data of any 50xx group
    EXPECT_EQ(actionOf(0x6002, 0x3000), "X");    // overlay data of any 60xx group
    EXPECT_EQ(actionOf(0x6002, 0x4000), "X");    // overlay comments
    EXPECT_EQ(actionOf(0x0029, 0x1010), "X");    // private
    EXPECT_EQ(actionOf(0x0028, 0x0010), "kept"); // Rows
    EXPECT_EQ(actionOf(0x7FE0, 0x0010), "kept"); // Pixel Data
    // The names are the standard's; DCMTK's dictionary agrees on the tags it knows.
    const ProfileAttribute* accession = ConfidentialityProfile::find(0x0008, 0x0050);
    ASSERT_NE(accession, nullptr);
    EXPECT_STREQ(accession->name, "Accession Number");
    EXPECT_STREQ(dictionaryEntry(0x0008, 0x0050)->getTagName(), "AccessionNumber");
}

TEST(Deidentifier, EveryProfileAttributeIsRemovedEmptiedReplacedOrRemapped) {
    const std::string in = makeTempFolder("deid-in");
    const std::string out = makeTempFolder("deid-out");
    const std::string study = newUid();
    const std::string frameOfReference = newUid();
    const std::string series2 = newUid();
    const std::string sop2 = newUid();

    SyntheticImage second;
    second.studyUid = study;
    second.seriesUid = series2;
    second.sopInstanceUid = sop2;
    second.patientName = "ORIG^Patient";
    second.patientId = "ORIG-ID-1";
    second.customize = [&](DcmDataset& ds) {
        ds.putAndInsertString(DCM_FrameOfReferenceUID, frameOfReference.c_str());
    };
    writeSynthetic(second, in + "/second.dcm");

    std::vector<std::int16_t> values(64);
    for (std::size_t i = 0; i < values.size(); ++i) {
        values[i] = std::int16_t(i * 7 - 200);
    }
    int filled = 0;
    int unknownToDictionary = 0;
    SyntheticImage first;
    first.studyUid = study;
    first.patientName = "ORIG^Patient";
    first.patientId = "ORIG-ID-1";
    first.pixels = bytesOf(values);
    first.customize = [&](DcmDataset& ds) {
        ds.putAndInsertString(DCM_FrameOfReferenceUID, frameOfReference.c_str());
        // A reference to the second file, in sequences the profile keeps.
        DcmItem* studyItem = nullptr;
        ASSERT_TRUE(ds.findOrCreateSequenceItem(
                          DCM_StudiesContainingOtherReferencedInstancesSequence, studyItem, 0)
                        .good());
        studyItem->putAndInsertString(DCM_StudyInstanceUID, study.c_str());
        DcmItem* seriesItem = nullptr;
        ASSERT_TRUE(studyItem->findOrCreateSequenceItem(DCM_ReferencedSeriesSequence, seriesItem, 0)
                        .good());
        seriesItem->putAndInsertString(DCM_SeriesInstanceUID, series2.c_str());
        DcmItem* instanceItem = nullptr;
        ASSERT_TRUE(
            seriesItem->findOrCreateSequenceItem(DCM_ReferencedInstanceSequence, instanceItem, 0)
                .good());
        instanceItem->putAndInsertString(DCM_ReferencedSOPClassUID, UID_CTImageStorage);
        instanceItem->putAndInsertString(DCM_ReferencedSOPInstanceUID, sop2.c_str());
        // An instance UID in an attribute newer than the table.
        ds.putAndInsertString(DCM_MultiFrameSourceSOPInstanceUID, sop2.c_str());
        // A private block, an overlay and a curve.
        ds.putAndInsertString(DcmTag(0x0009, 0x0010, EVR_LO), "ACME PRIVATE");
        ds.putAndInsertString(DcmTag(0x0009, 0x1001, EVR_LO), "ORIG private identity");
        ds.putAndInsertUint16(DCM_OverlayRows, 8);
        ds.putAndInsertUint16(DCM_OverlayColumns, 8);
        ds.putAndInsertString(DCM_OverlayType, "G");
        const Uint16 overlay[4] = {0xFFFF, 0, 0xFFFF, 0};
        ds.putAndInsertUint16Array(DcmTag(0x6000, 0x3000, EVR_OW), overlay, 4);
        ds.putAndInsertString(DcmTag(0x6000, 0x4000, EVR_LT), "ORIG overlay comment");
        ds.putAndInsertString(DcmTag(0x5000, 0x0022, EVR_LO), "ORIG curve description");
        // Every attribute of the table that the dictionary knows and the file does not have.
        for (const ProfileAttribute& row : ConfidentialityProfile::attributes()) {
            if (row.isPattern()) {
                continue;
            }
            if (dictionaryEntry(row.group, row.element) == nullptr) {
                ++unknownToDictionary;
                continue;
            }
            if (!ds.tagExists(DcmTagKey(row.group, row.element)) &&
                fillAttribute(ds, row.group, row.element)) {
                ++filled;
            }
        }
    };
    const std::string firstPath = in + "/first.dcm";
    writeSynthetic(first, firstPath);
    EXPECT_LE(unknownToDictionary, 17) << "rows newer than DCMTK 3.6.7's dictionary";
    EXPECT_GT(filled, 580);
    {
        // Identity in the 128-byte preamble too.
        std::fstream patch(firstPath, std::ios::in | std::ios::out | std::ios::binary);
        const std::string preamble = "ORIG preamble of ORIG^Patient";
        patch.write(preamble.data(), std::streamsize(preamble.size()));
    }

    // What the input holds, as DCMTK reads it back.
    auto input = load(firstPath);
    DcmDataset& original = *input->getDataset();
    std::map<std::uint32_t, std::string> before;
    for (const ProfileAttribute& row : ConfidentialityProfile::attributes()) {
        DcmElement* e = nullptr;
        if (!row.isPattern() &&
            original.findAndGetElement(DcmTagKey(row.group, row.element), e).good()) {
            before[keyOf(row.group, row.element)] = textOf(*e);
        }
    }
    EXPECT_GT(before.size(), 590u);
    std::set<std::string> originalUids;
    forEachElement(original, [&](DcmElement& e) {
        if (e.getTag().getEVR() == EVR_UI) {
            const std::string uid = textOf(e);
            if (uid.rfind("1.2.840.10008.", 0) != 0) {
                originalUids.insert(uid);
            }
        }
    });

    Deidentifier deidentifier;
    const DeidentifyResult r1 = deidentifier.deidentifyFile(firstPath, out);
    const DeidentifyResult r2 = deidentifier.deidentifyFile(in + "/second.dcm", out);
    EXPECT_GT(r1.removed, 350);
    EXPECT_GT(r1.emptied, 20);
    EXPECT_GT(r1.replaced, 50);
    EXPECT_GT(r1.uidsRemapped, 40);
    EXPECT_TRUE(r1.warnings.empty()) << r1.warnings.front();
    const auto& uids = deidentifier.uidMap();

    auto output = load(r1.outputPath);
    DcmDataset& after = *output->getDataset();
    int checked = 0;
    for (const auto& [key, value] : before) {
        const std::uint16_t g = std::uint16_t(key >> 16);
        const std::uint16_t el = std::uint16_t(key & 0xFFFF);
        const ProfileAttribute& row = *ConfidentialityProfile::find(g, el);
        const DcmTagKey tag(g, el);
        const std::string what = hexTag(g, el) + " " + row.name + " (" + row.standardAction + ")";
        DcmElement* e = nullptr;
        const bool present = after.findAndGetElement(tag, e).good();
        ++checked;
        switch (row.action) {
        case ProfileAction::Remove:
            EXPECT_FALSE(present) << what;
            break;
        case ProfileAction::Zero:
            if (tag == DCM_PatientName) {
                EXPECT_EQ(textOf(*e), "ANONYMOUS");
            } else if (tag == DCM_PatientID) {
                EXPECT_EQ(textOf(*e).rfind("ANON", 0), 0u) << textOf(*e);
            } else if (present) {
                EXPECT_EQ(e->getLength(), 0u) << what;
                if (e->ident() == EVR_SQ) {
                    EXPECT_EQ(static_cast<DcmSequenceOfItems*>(e)->card(), 0u) << what;
                }
            }
            break;
        case ProfileAction::Dummy:
        case ProfileAction::Clean:
            if (present && e->ident() == EVR_SQ) {
                forEachElement(
                    *static_cast<DcmSequenceOfItems*>(e)->getItem(0),
                    [&](DcmElement& inner) { EXPECT_NE(textOf(inner), kNestedName) << what; });
            } else if (present) {
                EXPECT_NE(textOf(*e), value) << what;
                EXPECT_GT(e->getLength(), 0u) << what;
            }
            break;
        case ProfileAction::ReplaceUid:
            ASSERT_TRUE(present) << what;
            EXPECT_NE(textOf(*e), value) << what;
            ASSERT_EQ(uids.count(value), 1u) << what;
            EXPECT_EQ(textOf(*e), uids.at(value)) << what;
            break;
        case ProfileAction::Keep:
            ADD_FAILURE() << what << " is in the table as K";
            break;
        }
    }
    EXPECT_EQ(checked, int(before.size()));

    // Nothing recognisable anywhere: no private, overlay or curve group, no marker text, no
    // original UID; nor in the file's bytes (the preamble, the file meta information).
    forEachElement(after, [&](DcmElement& e) {
        const Uint16 g = e.getTag().getGroup();
        EXPECT_EQ(g % 2, 0) << "private " << e.getTag().toString().c_str();
        EXPECT_NE(g & 0xFF00, 0x6000) << "overlay " << e.getTag().toString().c_str();
        EXPECT_NE(g & 0xFF00, 0x5000) << "curve " << e.getTag().toString().c_str();
        if (e.ident() != EVR_PixelData) {
            EXPECT_EQ(textOf(e).find(kMarker), std::string::npos)
                << e.getTag().toString().c_str() << " " << textOf(e);
            EXPECT_EQ(originalUids.count(textOf(e)), 0u) << e.getTag().toString().c_str();
        }
    });
    const std::vector<char> bytes = fileBytes(r1.outputPath);
    EXPECT_FALSE(contains(bytes, kMarker));
    for (const std::string& uid : originalUids) {
        EXPECT_FALSE(contains(bytes, uid)) << uid;
    }
    EXPECT_TRUE(std::all_of(bytes.begin(), bytes.begin() + 128, [](char c) { return c == 0; }));

    EXPECT_EQ(stringAt(after, DCM_PatientIdentityRemoved), "YES");
    EXPECT_NE(stringAt(after, DCM_DeidentificationMethod).find("Confidentiality Profile"),
              std::string::npos);
    EXPECT_EQ(nestedString(after, {DCM_DeidentificationMethodCodeSequence}, DCM_CodeValue),
              "113100");
    EXPECT_EQ(
        nestedString(after, {DCM_DeidentificationMethodCodeSequence}, DCM_CodingSchemeDesignator),
        "DCM");
    EXPECT_EQ(pixelBytes(after), pixelBytes(original));
    EXPECT_EQ(pixelBytes(after), first.pixels);

    // References stay consistent across the two files.
    auto secondOutput = load(r2.outputPath);
    DcmDataset& after2 = *secondOutput->getDataset();
    const std::string newSop2 = stringAt(after2, DCM_SOPInstanceUID);
    EXPECT_NE(newSop2, sop2);
    EXPECT_EQ(nestedString(after,
                           {DCM_StudiesContainingOtherReferencedInstancesSequence,
                            DCM_ReferencedSeriesSequence, DCM_ReferencedInstanceSequence},
                           DCM_ReferencedSOPInstanceUID),
              newSop2);
    EXPECT_EQ(stringAt(after, DCM_MultiFrameSourceSOPInstanceUID), newSop2);
    EXPECT_EQ(nestedString(after,
                           {DCM_StudiesContainingOtherReferencedInstancesSequence,
                            DCM_ReferencedSeriesSequence},
                           DCM_SeriesInstanceUID),
              stringAt(after2, DCM_SeriesInstanceUID));
    const std::string newStudy = stringAt(after, DCM_StudyInstanceUID);
    EXPECT_NE(newStudy, study);
    EXPECT_EQ(newStudy, uids.at(study));
    EXPECT_EQ(stringAt(after2, DCM_StudyInstanceUID), newStudy);
    EXPECT_EQ(nestedString(after, {DCM_StudiesContainingOtherReferencedInstancesSequence},
                           DCM_StudyInstanceUID),
              newStudy);
    EXPECT_EQ(stringAt(after, DCM_FrameOfReferenceUID), stringAt(after2, DCM_FrameOfReferenceUID));
    EXPECT_NE(stringAt(after, DCM_FrameOfReferenceUID), frameOfReference);
    // The same patient, the same pseudonym.
    EXPECT_EQ(stringAt(after, DCM_PatientID), stringAt(after2, DCM_PatientID));
    EXPECT_EQ(stringAt(after2, DCM_PatientName), "ANONYMOUS");
    // The file meta information names the new instance, and the path has no original UID.
    EXPECT_EQ(stringAt(*output->getMetaInfo(), DCM_MediaStorageSOPInstanceUID),
              stringAt(after, DCM_SOPInstanceUID));
    EXPECT_EQ(fs::path(r1.outputPath), fs::path(out) / newStudy /
                                           stringAt(after, DCM_SeriesInstanceUID) /
                                           (stringAt(after, DCM_SOPInstanceUID) + ".dcm"));
}

TEST(Deidentifier, OptionsChooseThePatientAndMayKeepPrivateTags) {
    const std::string in = makeTempFolder("deid-options-in");
    SyntheticImage image;
    image.patientId = "MRN-1";
    image.studyUid = newUid();
    image.customize = [&](DcmDataset& ds) {
        ds.putAndInsertString(DcmTag(0x0009, 0x0010, EVR_LO), "ACME PRIVATE");
        ds.putAndInsertString(DcmTag(0x0009, 0x1001, EVR_LO), "vendor value");
        ds.putAndInsertString(DcmTag(0x0009, 0x1002, EVR_UI), image.studyUid.c_str());
    };
    writeSynthetic(image, in + "/a.dcm");
    writeSynthetic(image, in + "/b.dcm");
    image.patientId = "MRN-2";
    writeSynthetic(image, in + "/c.dcm");

    const auto patientIdOf = [](const DeidentifyResult& r) {
        return stringAt(*load(r.outputPath)->getDataset(), DCM_PatientID);
    };
    Deidentifier pseudonyms;
    const std::string out = makeTempFolder("deid-options-out");
    const std::string a = patientIdOf(pseudonyms.deidentifyFile(in + "/a.dcm", out));
    EXPECT_EQ(a.size(), 16u) << a;
    EXPECT_EQ(patientIdOf(pseudonyms.deidentifyFile(in + "/b.dcm", out)), a);
    EXPECT_NE(patientIdOf(pseudonyms.deidentifyFile(in + "/c.dcm", out)), a);
    // Another export draws another key: its pseudonyms cannot be linked to these.
    EXPECT_NE(patientIdOf(Deidentifier().deidentifyFile(in + "/a.dcm", out)), a);

    DeidentifyOptions options;
    options.patientId = "TRIAL-007";
    options.patientName = "Trial^Seven";
    options.keepPrivateTags = true;
    const DeidentifyResult kept = Deidentifier(options).deidentifyFile(in + "/c.dcm", out);
    auto file = load(kept.outputPath);
    EXPECT_EQ(stringAt(*file->getDataset(), DCM_PatientID), "TRIAL-007");
    EXPECT_EQ(stringAt(*file->getDataset(), DCM_PatientName), "Trial^Seven");
    EXPECT_EQ(stringAt(*file->getDataset(), DcmTagKey(0x0009, 0x1001)), "vendor value");
    // A kept private UID that names the study gets the study's new UID.
    EXPECT_EQ(stringAt(*file->getDataset(), DcmTagKey(0x0009, 0x1002)),
              stringAt(*file->getDataset(), DCM_StudyInstanceUID));
    EXPECT_NE(stringAt(*file->getDataset(), DCM_StudyInstanceUID), image.studyUid);
}

TEST(Deidentifier, RealGeCtLosesEveryIdentifierAndKeepsItsPixels) {
    const std::string folder = sharedDataFolder("ct-head-ge-tilted");
    if (!fs::is_directory(folder)) {
        GTEST_SKIP() << "shared data not found at " << folder
                     << " (set RADIOLENS_DATA_DIR to the ../shared/data folder; issue 3)";
    }
    std::vector<std::string> inputs;
    for (const auto& entry : fs::directory_iterator(folder)) {
        inputs.push_back(entry.path().string());
    }
    std::sort(inputs.begin(), inputs.end());
    ASSERT_EQ(inputs.size(), 28u);

    const std::string out = makeTempFolder("deid-ge");
    Deidentifier deidentifier;
    std::set<std::string> studies, series, frames, sops, patients;
    for (const std::string& path : inputs) {
        auto input = load(path);
        DcmDataset& original = *input->getDataset();
        // Identifiers: the patient's name and ID, dates and times, every UID that is not a
        // DICOM-defined one (file meta included), the sending application.
        std::set<std::string> identifiers = {stringAt(original, DCM_PatientName),
                                             stringAt(original, DCM_PatientID)};
        forEachElement(original, [&](DcmElement& e) {
            const DcmEVR vr = e.getTag().getEVR();
            const std::string value = textOf(e);
            if ((vr == EVR_UI && value.rfind("1.2.840.10008.", 0) != 0) || vr == EVR_DA ||
                vr == EVR_DT || vr == EVR_TM) {
                identifiers.insert(value);
            }
        });
        forEachElement(*input->getMetaInfo(), [&](DcmElement& e) {
            if (e.getTag().getEVR() == EVR_UI && textOf(e).rfind("1.2.840.10008.", 0) != 0) {
                identifiers.insert(textOf(e));
            }
        });
        identifiers.insert(stringAt(*input->getMetaInfo(), DCM_SourceApplicationEntityTitle));
        identifiers.insert(stringAt(*input->getMetaInfo(), DCM_ImplementationVersionName));
        identifiers.erase("");
        ASSERT_GE(identifiers.size(), 6u) << path;

        const DeidentifyResult result = deidentifier.deidentifyFile(path, out);
        // The pixel bytes are in the output as they were (bit-identical); the rest of the file
        // holds none of the identifiers.
        const std::vector<std::uint8_t> pixels = pixelBytes(original);
        ASSERT_EQ(pixels.size(), 512u * 512u * 2u) << path;
        std::vector<char> bytes = fileBytes(result.outputPath);
        const std::vector<char> raw(pixels.begin(), pixels.end());
        const auto at = std::search(bytes.begin(), bytes.end(), raw.begin(), raw.end());
        ASSERT_NE(at, bytes.end()) << result.outputPath << ": the pixel data changed";
        bytes.erase(at, at + std::ptrdiff_t(pixels.size()));
        for (const std::string& identifier : identifiers) {
            EXPECT_FALSE(contains(bytes, identifier))
                << path << ": '" << identifier << "' is still in " << result.outputPath;
        }
        auto output = load(result.outputPath);
        DcmDataset& after = *output->getDataset();
        EXPECT_EQ(pixelBytes(after), pixels);
        EXPECT_EQ(after.getOriginalXfer(), original.getOriginalXfer());
        studies.insert(stringAt(after, DCM_StudyInstanceUID));
        series.insert(stringAt(after, DCM_SeriesInstanceUID));
        frames.insert(stringAt(after, DCM_FrameOfReferenceUID));
        sops.insert(stringAt(after, DCM_SOPInstanceUID));
        patients.insert(stringAt(after, DCM_PatientID));
        EXPECT_EQ(stringAt(after, DCM_PatientIdentityRemoved), "YES");
    }
    // One study, one series, one frame of reference, one patient: as before, with new UIDs.
    EXPECT_EQ(studies.size(), 1u);
    EXPECT_EQ(series.size(), 1u);
    EXPECT_EQ(frames.size(), 1u);
    EXPECT_EQ(patients.size(), 1u);
    EXPECT_EQ(sops.size(), 28u);
    // Radiolens still reads it as one 28-image series.
    const StudyIndex index = StudyIndexer().index({out});
    ASSERT_EQ(index.seriesCount(), 1u);
    EXPECT_EQ(index.allSeries().front()->paths().size(), 28u);
    EXPECT_TRUE(index.problems.empty());
}

TEST(Deidentifier, WarnsAboutBurnedInAnnotationNamingTheFile) {
    const std::string in = makeTempFolder("deid-burned-in");
    const std::string out = makeTempFolder("deid-burned-out");
    SyntheticImage marked;
    marked.customize = [](DcmDataset& ds) {
        ds.putAndInsertString(DCM_BurnedInAnnotation, "YES");
    };
    writeSynthetic(marked, in + "/marked.dcm");
    SyntheticImage ultrasound;
    ultrasound.modality = "US";
    ultrasound.sopClassUid = UID_UltrasoundImageStorage;
    writeSynthetic(ultrasound, in + "/ultrasound.dcm");
    SyntheticImage plain;
    writeSynthetic(plain, in + "/plain.dcm");

    Deidentifier deidentifier;
    const DeidentifyResult yes = deidentifier.deidentifyFile(in + "/marked.dcm", out);
    ASSERT_EQ(yes.warnings.size(), 1u);
    EXPECT_NE(yes.warnings[0].find(in + "/marked.dcm"), std::string::npos) << yes.warnings[0];
    EXPECT_NE(yes.warnings[0].find("Burned In Annotation is YES"), std::string::npos);
    const DeidentifyResult us = deidentifier.deidentifyFile(in + "/ultrasound.dcm", out);
    ASSERT_EQ(us.warnings.size(), 1u);
    EXPECT_NE(us.warnings[0].find(in + "/ultrasound.dcm"), std::string::npos) << us.warnings[0];
    EXPECT_NE(us.warnings[0].find("US image"), std::string::npos) << us.warnings[0];
    EXPECT_TRUE(deidentifier.deidentifyFile(in + "/plain.dcm", out).warnings.empty());
}

TEST(Deidentifier, BrokenFileIsReportedByNameAndTheExportCarriesOn) {
    const std::string in = makeTempFolder("deid-broken-in");
    const std::string out = makeTempFolder("deid-broken-out");
    SyntheticImage image;
    writeSynthetic(image, in + "/good.dcm");
    {
        // A Part 10 file cut off in the middle of its data set.
        const std::vector<char> good = fileBytes(in + "/good.dcm");
        std::ofstream cut(in + "/truncated.dcm", std::ios::binary);
        cut.write(good.data(), 200);
        std::ofstream text(in + "/notes.txt");
        text << "not a DICOM file at all\n";
    }
    Deidentifier deidentifier;
    for (const std::string name : {"truncated.dcm", "notes.txt", "missing.dcm"}) {
        const std::string path = in + "/" + name;
        try {
            deidentifier.deidentifyFile(path, out);
            ADD_FAILURE() << name << " was exported";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        }
    }
    const DeidentifyResult result = deidentifier.deidentifyFile(in + "/good.dcm", out);
    EXPECT_TRUE(fs::is_regular_file(result.outputPath));
    // Only the good file was written, and no partial file was left behind.
    int files = 0;
    for (const auto& entry : fs::recursive_directory_iterator(out)) {
        files += entry.is_regular_file() ? 1 : 0;
    }
    EXPECT_EQ(files, 1);
}
