// The tag tree behind the tag browser: every element of a file as display text, nested sequences
// as children, pixel data described but never read.

#include "SyntheticDicom.h"

#include "core/dicom/DicomDataSet.h"
#include "core/dicom/DicomTagTree.h"

#include "dcmtk/dcmdata/dcpxitem.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace radiolens;
using namespace radiolens::test;

namespace {

const DicomTagNode* findNode(const std::vector<DicomTagNode>& nodes, const std::string& tag) {
    for (const DicomTagNode& node : nodes) {
        if (node.tag == tag) {
            return &node;
        }
    }
    return nullptr;
}

/// Every node of the tree, depth first.
void visit(const std::vector<DicomTagNode>& nodes,
           const std::function<void(const DicomTagNode&)>& f) {
    for (const DicomTagNode& node : nodes) {
        f(node);
        visit(node.children, f);
    }
}

std::size_t countNodes(const std::vector<DicomTagNode>& nodes) {
    std::size_t n = 0;
    visit(nodes, [&](const DicomTagNode&) { ++n; });
    return n;
}

DcmItem* addItem(DcmSequenceOfItems& sequence) {
    auto* item = new DcmItem;
    sequence.insert(item);
    return item;
}

/// ReferencedImageSequence with two items, the second holding a nested code sequence; a private
/// block with its creator, a private element without one; a multi-valued DS; Latin-1 text;
/// a long comment; a 512 x 512 16-bit image.
SyntheticImage richImage() {
    SyntheticImage image;
    image.rows = 512;
    image.columns = 512;
    image.patientName = "M\xFCller^J\xFCrgen"; // Latin-1
    image.windows = {{40, 80}, {300, 1500}};
    std::vector<std::uint16_t> pixels(512 * 512);
    for (std::size_t i = 0; i < pixels.size(); ++i) {
        pixels[i] = std::uint16_t(0xAB00 + (i % 256)); // nothing like "OW, ... bytes"
    }
    image.pixels = bytesOf(pixels);
    image.customize = [](DcmDataset& ds) {
        ds.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100");
        auto* referenced = new DcmSequenceOfItems(DCM_ReferencedImageSequence);
        DcmItem* first = addItem(*referenced);
        first->putAndInsertString(DCM_ReferencedSOPClassUID, UID_CTImageStorage);
        first->putAndInsertString(DCM_ReferencedSOPInstanceUID, "1.2.3.4.1");
        DcmItem* second = addItem(*referenced);
        second->putAndInsertString(DCM_ReferencedSOPClassUID, UID_CTImageStorage);
        second->putAndInsertString(DCM_ReferencedSOPInstanceUID, "1.2.3.4.2");
        auto* purpose = new DcmSequenceOfItems(DCM_PurposeOfReferenceCodeSequence);
        DcmItem* code = addItem(*purpose);
        code->putAndInsertString(DCM_CodeValue, "121311");
        code->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
        code->putAndInsertString(DCM_CodeMeaning, "Localizer");
        second->insert(purpose);
        ds.insert(referenced);

        ds.putAndInsertString(DcmTag(0x0029, 0x0010, EVR_LO), "ACME 1.1");
        DcmTag privateText(0x0029, 0x1010, EVR_LO);
        privateText.setPrivateCreator("ACME 1.1");
        ds.putAndInsertString(privateText, "secret sauce");
        DcmTag privateBlob(0x0029, 0x1020, EVR_OB);
        privateBlob.setPrivateCreator("ACME 1.1");
        std::vector<Uint8> blob(40);
        for (std::size_t i = 0; i < blob.size(); ++i) {
            blob[i] = Uint8(i);
        }
        ds.putAndInsertUint8Array(privateBlob, blob.data(), unsigned(blob.size()));
        // An element of a private block nobody reserved.
        ds.putAndInsertString(DcmTag(0x0031, 0x1001, EVR_LO), "orphan");

        std::string comment;
        for (int i = 0; i < 5000; ++i) {
            comment += char('a' + i % 26);
        }
        ds.putAndInsertString(DCM_ImageComments, comment.c_str());
    };
    return image;
}

} // namespace

TEST(DicomTagTree, ShowsEveryElementWithNestingCharsetAndPixelDataUnread) {
    const std::string folder = makeTempFolder("tagtree");
    const std::string path = folder + "/rich.dcm";
    writeSynthetic(richImage(), path);

    const std::vector<DicomTagNode> tree = readTagTree(path);
    ASSERT_FALSE(tree.empty());

    // The file meta group comes first, then the data set in ascending tag order.
    EXPECT_EQ(tree.front().tag, "(0002,0000)");
    EXPECT_EQ(tree.front().keyword, "FileMetaInformationGroupLength");
    EXPECT_EQ(tree.front().vr, "UL");
    const DicomTagNode* syntax = findNode(tree, "(0002,0010)");
    ASSERT_TRUE(syntax);
    EXPECT_EQ(syntax->keyword, "TransferSyntaxUID");
    EXPECT_EQ(syntax->vr, "UI");
    EXPECT_EQ(syntax->value, UID_LittleEndianExplicitTransferSyntax);
    std::size_t metaCount = 0;
    while (metaCount < tree.size() && tree[metaCount].tag.rfind("(0002,", 0) == 0) {
        ++metaCount;
    }
    ASSERT_GE(metaCount, 4u);
    ASSERT_LT(metaCount, tree.size());
    for (std::size_t i = metaCount; i < tree.size(); ++i) {
        EXPECT_NE(tree[i].tag.rfind("(0002,", 0), 0u) << "meta element after the data set";
        if (i > metaCount) {
            EXPECT_LT(tree[i - 1].tag, tree[i].tag) << "data set out of order";
        }
    }
    EXPECT_EQ(tree[metaCount].tag, "(0008,0005)");
    EXPECT_EQ(tree.back().tag, "(7FE0,0010)");

    // Latin-1 PatientName comes out as UTF-8.
    const DicomTagNode* name = findNode(tree, "(0010,0010)");
    ASSERT_TRUE(name);
    EXPECT_EQ(name->keyword, "PatientName");
    EXPECT_EQ(name->vr, "PN");
    EXPECT_EQ(name->value, "M\xC3\xBCller^J\xC3\xBCrgen");

    // Multi-valued DS and US.
    const DicomTagNode* center = findNode(tree, "(0028,1050)");
    ASSERT_TRUE(center);
    EXPECT_EQ(center->keyword, "WindowCenter");
    EXPECT_EQ(center->vr, "DS");
    EXPECT_EQ(center->value, "40\\300");
    const DicomTagNode* position = findNode(tree, "(0020,0032)");
    ASSERT_TRUE(position);
    EXPECT_EQ(position->value, "0\\0\\0");
    const DicomTagNode* rows = findNode(tree, "(0028,0010)");
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->vr, "US");
    EXPECT_EQ(rows->value, "512");

    // The sequence, its items, and the sequence nested in the second item.
    const DicomTagNode* referenced = findNode(tree, "(0008,1140)");
    ASSERT_TRUE(referenced);
    EXPECT_EQ(referenced->keyword, "ReferencedImageSequence");
    EXPECT_EQ(referenced->vr, "SQ");
    EXPECT_EQ(referenced->value, "2 items");
    ASSERT_EQ(referenced->children.size(), 2u);
    EXPECT_EQ(referenced->children[0].tag, "Item 1");
    EXPECT_EQ(referenced->children[1].tag, "Item 2");
    EXPECT_EQ(referenced->children[0].vr, "");
    ASSERT_EQ(referenced->children[0].children.size(), 2u);
    EXPECT_EQ(referenced->children[0].children[1].tag, "(0008,1155)");
    EXPECT_EQ(referenced->children[0].children[1].keyword, "ReferencedSOPInstanceUID");
    EXPECT_EQ(referenced->children[0].children[1].vr, "UI");
    EXPECT_EQ(referenced->children[0].children[1].value, "1.2.3.4.1");
    const DicomTagNode& second = referenced->children[1];
    ASSERT_EQ(second.children.size(), 3u);
    EXPECT_EQ(second.children[1].value, "1.2.3.4.2");
    const DicomTagNode& purpose = second.children[2];
    EXPECT_EQ(purpose.keyword, "PurposeOfReferenceCodeSequence");
    EXPECT_EQ(purpose.value, "1 item");
    ASSERT_EQ(purpose.children.size(), 1u);
    const DicomTagNode* meaning = findNode(purpose.children[0].children, "(0008,0104)");
    ASSERT_TRUE(meaning);
    EXPECT_EQ(meaning->keyword, "CodeMeaning");
    EXPECT_EQ(meaning->value, "Localizer");

    // Private elements: the reservation, named by their creator, and the orphan.
    const DicomTagNode* creator = findNode(tree, "(0029,0010)");
    ASSERT_TRUE(creator);
    EXPECT_EQ(creator->keyword, "PrivateCreator");
    EXPECT_EQ(creator->value, "ACME 1.1");
    const DicomTagNode* secret = findNode(tree, "(0029,1010)");
    ASSERT_TRUE(secret);
    EXPECT_EQ(secret->keyword, "Private (ACME 1.1)");
    EXPECT_EQ(secret->vr, "LO");
    EXPECT_EQ(secret->value, "secret sauce");
    const DicomTagNode* blob = findNode(tree, "(0029,1020)");
    ASSERT_TRUE(blob);
    EXPECT_EQ(blob->vr, "OB");
    EXPECT_EQ(blob->value, "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F... (40 bytes)");
    const DicomTagNode* orphan = findNode(tree, "(0031,1001)");
    ASSERT_TRUE(orphan);
    EXPECT_EQ(orphan->keyword, "Unknown");
    EXPECT_EQ(orphan->value, "orphan");

    // A long text value (beyond what loadFile reads) is cut and its size given.
    const DicomTagNode* comments = findNode(tree, "(0020,4000)");
    ASSERT_TRUE(comments);
    EXPECT_EQ(comments->vr, "LT");
    EXPECT_EQ(comments->value.substr(0, 30), "abcdefghijklmnopqrstuvwxyzabcd");
    EXPECT_LE(comments->value.size(), kMaxValueText + 20);
    EXPECT_EQ(comments->value.substr(comments->value.size() - 16), "... (5000 bytes)");

    // Pixel data is described, not read.
    const DicomTagNode& pixels = tree.back();
    EXPECT_EQ(pixels.keyword, "PixelData");
    EXPECT_EQ(pixels.vr, "OW");
    EXPECT_EQ(pixels.value, "OW, 524288 bytes");
    fs::remove_all(folder);
}

TEST(DicomTagTree, ImplicitVrTakesVrsFromTheDictionary) {
    const std::string folder = makeTempFolder("tagtree-implicit");
    const std::string path = folder + "/implicit.dcm";
    SyntheticImage image = richImage();
    image.transferSyntax = EXS_LittleEndianImplicit;
    writeSynthetic(image, path);
    const std::vector<DicomTagNode> tree = readTagTree(path);
    const DicomTagNode* name = findNode(tree, "(0010,0010)");
    ASSERT_TRUE(name);
    EXPECT_EQ(name->vr, "PN");
    EXPECT_EQ(name->value, "M\xC3\xBCller^J\xC3\xBCrgen");
    const DicomTagNode* referenced = findNode(tree, "(0008,1140)");
    ASSERT_TRUE(referenced);
    EXPECT_EQ(referenced->vr, "SQ");
    ASSERT_EQ(referenced->children.size(), 2u);
    // The private text is not in any dictionary: implicit VR leaves it UN, shown as bytes.
    const DicomTagNode* secret = findNode(tree, "(0029,1010)");
    ASSERT_TRUE(secret);
    EXPECT_EQ(secret->keyword, "Private (ACME 1.1)");
    EXPECT_EQ(secret->vr, "UN");
    EXPECT_EQ(secret->value, "73 65 63 72 65 74 20 73 61 75 63 65 (12 bytes)"); // "secret sauce"
    EXPECT_EQ(tree.back().value, tree.back().vr + ", 524288 bytes");
    fs::remove_all(folder);
}

TEST(DicomTagTree, CompressedPixelDataIsDescribedByItsFragments) {
    const std::string folder = makeTempFolder("tagtree-encapsulated");
    const std::string path = folder + "/rle.dcm";
    SyntheticImage image;
    image.transferSyntax = EXS_RLELossless;
    image.omitPixelData = true;
    image.customize = [](DcmDataset& ds) {
        auto* pixelData = new DcmPixelData(DCM_PixelData);
        auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
        sequence->insert(new DcmPixelItem(DCM_PixelItemTag)); // empty offset table
        auto* fragment = new DcmPixelItem(DCM_PixelItemTag);
        std::vector<Uint8> bytes(100, 7);
        fragment->putUint8Array(bytes.data(), Uint32(bytes.size()));
        sequence->insert(fragment);
        pixelData->putOriginalRepresentation(EXS_RLELossless, nullptr, sequence);
        ds.insert(pixelData);
    };
    writeSynthetic(image, path);
    const std::vector<DicomTagNode> tree = readTagTree(path);
    EXPECT_EQ(tree.back().tag, "(7FE0,0010)");
    EXPECT_EQ(tree.back().value, "OB, encapsulated, 1 fragment, 100 bytes");
    fs::remove_all(folder);
}

TEST(DicomTagTree, FilesDcmtkCannotReadThrowDicomValueErrorNamingThePath) {
    const std::string folder = makeTempFolder("tagtree-bad");
    const std::string text = folder + "/notes.dcm";
    std::ofstream(text) << "This is a text file, not DICOM at all.\n";
    const std::string empty = folder + "/empty.dcm";
    std::ofstream{empty};
    const std::string missing = folder + "/missing.dcm";
    for (const std::string& path : {text, empty, missing, folder}) {
        try {
            readTagTree(path);
            ADD_FAILURE() << "no error for " << path;
        } catch (const DicomValueError& e) {
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        }
    }
    fs::remove_all(folder);
}

TEST(DicomTagTree, LargeTreesKeepEveryItem) {
    // About 2000 elements: 400 items of 4 elements in a sequence.
    const std::string folder = makeTempFolder("tagtree-large");
    const std::string path = folder + "/large.dcm";
    SyntheticImage image;
    image.customize = [](DcmDataset& ds) {
        auto* sequence = new DcmSequenceOfItems(DCM_ReferencedImageSequence);
        for (int i = 0; i < 400; ++i) {
            DcmItem* item = addItem(*sequence);
            item->putAndInsertString(DCM_ReferencedSOPClassUID, UID_CTImageStorage);
            item->putAndInsertString(DCM_ReferencedSOPInstanceUID,
                                     ("1.2.3." + std::to_string(i)).c_str());
            item->putAndInsertString(DCM_ReferencedFrameNumber, "1\\2\\3");
            item->putAndInsertUint16(DCM_ReferencedSegmentNumber, Uint16(i));
        }
        ds.insert(sequence);
    };
    writeSynthetic(image, path);
    const std::vector<DicomTagNode> tree = readTagTree(path);
    EXPECT_GT(countNodes(tree), 2000u);
    const DicomTagNode* sequence = findNode(tree, "(0008,1140)");
    ASSERT_TRUE(sequence);
    ASSERT_EQ(sequence->children.size(), 400u);
    EXPECT_EQ(sequence->children[399].tag, "Item 400");
    EXPECT_EQ(sequence->children[399].children[1].value, "1.2.3.399");
    EXPECT_EQ(sequence->children[399].children[3].value, "399");
    fs::remove_all(folder);
}

TEST(DicomTagTree, HostileFilesGiveATreeOrADicomValueError) {
    // Files found by fuzzing; one makes DCMTK throw std::out_of_range while parsing.
    int files = 0;
    for (const auto& entry : fs::directory_iterator(RADIOLENS_HOSTILE_DIR)) {
        ++files;
        const std::string path = entry.path().string();
        try {
            EXPECT_FALSE(readTagTree(path).empty()) << path;
        } catch (const DicomValueError& e) {
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        } catch (...) {
            ADD_FAILURE() << path << ": an exception other than DicomValueError";
        }
    }
    EXPECT_GT(files, 0) << "no files in " << RADIOLENS_HOSTILE_DIR;
    const std::string thrower =
        std::string(RADIOLENS_HOSTILE_DIR) + "/dcmtk-uncaught-out_of_range-DirectoryRecordType.dcm";
    if (fs::exists(thrower)) {
        EXPECT_THROW(readTagTree(thrower), DicomValueError);
    }
}

TEST(DicomTagTree, EveryPydicomTestFileGivesATreeOrADicomValueError) {
    REQUIRE_PYDICOM();
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(RADIOLENS_PYDICOM_FILES)) {
        if (entry.path().extension() == ".dcm") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    ASSERT_FALSE(files.empty()) << "no .dcm files in " << RADIOLENS_PYDICOM_FILES;
    int trees = 0;
    int errors = 0;
    for (const fs::path& file : files) {
        try {
            const std::vector<DicomTagNode> tree = readTagTree(file.string());
            EXPECT_FALSE(tree.empty()) << file;
            ++trees;
            visit(tree, [&](const DicomTagNode& node) {
                EXPECT_FALSE(node.tag.empty()) << file;
                // Every value is display-sized; pixel data is never dumped.
                EXPECT_LE(node.value.size(), kMaxValueText + 64) << file << " " << node.tag;
            });
        } catch (const DicomValueError& e) {
            EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
            ++errors;
        } catch (const std::exception& e) {
            ADD_FAILURE() << file << ": unexpected " << typeid(e).name() << ": " << e.what();
        } catch (...) {
            ADD_FAILURE() << file << ": unexpected non-standard exception";
        }
    }
    std::cout << files.size() << " pydicom files: " << trees << " trees, " << errors
              << " DicomValueError\n";
    EXPECT_GT(trees, int(files.size()) / 2);

    // Spot checks against what pydicom's own README says these files hold.
    const std::string base = std::string(RADIOLENS_PYDICOM_FILES) + "/";
    const std::vector<DicomTagNode> ct = readTagTree(base + "CT_small.dcm");
    const DicomTagNode* name = findNode(ct, "(0010,0010)");
    ASSERT_TRUE(name);
    EXPECT_EQ(name->value, "CompressedSamples^CT1");
    const DicomTagNode* ctPixels = findNode(ct, "(7FE0,0010)");
    ASSERT_TRUE(ctPixels);
    EXPECT_EQ(ctPixels->value, "OW, 32768 bytes"); // 128 x 128 x 16 bit
    const std::vector<DicomTagNode> jpeg = readTagTree(base + "JPEG-lossy.dcm");
    const DicomTagNode* jpegPixels = findNode(jpeg, "(7FE0,0010)");
    ASSERT_TRUE(jpegPixels);
    EXPECT_NE(jpegPixels->value.find("encapsulated, 1 fragment"), std::string::npos)
        << jpegPixels->value;
    // Big endian: numbers still come out right.
    const std::vector<DicomTagNode> big = readTagTree(base + "MR_small_bigendian.dcm");
    const DicomTagNode* rows = findNode(big, "(0028,0010)");
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->value, "64");
}
