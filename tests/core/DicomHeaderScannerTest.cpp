// DicomHeaderScanner: the fast header reader. What a user would notice: the right size, spacing
// and name, the pixels found where they are, DCMTK taking over for big endian and deflate, and
// for every kind of bad file a status and a reason instead of a crash.

#include "SyntheticDicom.h"

#include "core/dicom/DicomHeaderScanner.h"
#include "core/dicom/DicomInstance.h"
#include "core/dicom/SeriesLoader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace radiolens;
using namespace radiolens::test;

namespace {

std::string pydicomFile(const std::string& name) {
    return std::string(RADIOLENS_PYDICOM_FILES) + "/" + name;
}

std::string readAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writeAll(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

/// A 16 x 12 image with recognisable values (not symmetric in its bytes, so that a byte swap
/// shows), spacing 0.7 x 0.8 mm, patient Doe^Jane.
SyntheticImage sampleImage(E_TransferSyntax syntax) {
    SyntheticImage image;
    image.rows = 12;
    image.columns = 16;
    image.pixelSpacing = std::array<double, 2>{0.7, 0.8};
    image.patientName = "Doe^Jane";
    image.transferSyntax = syntax;
    std::vector<std::int16_t> values(std::size_t(image.rows * image.columns));
    for (std::size_t i = 0; i < values.size(); ++i) {
        values[i] = std::int16_t(0x0102 + 3 * int(i) - 300);
    }
    image.pixels = bytesOf(values);
    return image;
}

std::vector<std::int16_t> sampleValues() {
    const SyntheticImage image = sampleImage(EXS_LittleEndianExplicit);
    std::vector<std::int16_t> values(image.pixels.size() / 2);
    std::memcpy(values.data(), image.pixels.data(), image.pixels.size());
    return values;
}

/// The values a radiologist would look at first, the same whoever read the header.
void expectSampleAttributes(const DicomScanResult& scan) {
    ASSERT_TRUE(scan.ok()) << scan.reason;
    const DicomDataSet& ds = scan.header.dataSet;
    EXPECT_EQ(ds.integer(tags::Rows), 12);
    EXPECT_EQ(ds.integer(tags::Columns), 16);
    const std::vector<double> spacing = ds.numbers(tags::PixelSpacing);
    ASSERT_EQ(spacing.size(), 2u);
    EXPECT_DOUBLE_EQ(spacing[0], 0.7);
    EXPECT_DOUBLE_EQ(spacing[1], 0.8);
    EXPECT_EQ(ds.text(tags::PatientName), "Doe^Jane");
    EXPECT_EQ(ds.text(tags::Modality), "CT");
    EXPECT_TRUE(scan.header.hasPixelData);
    EXPECT_EQ(scan.header.pixelDataTag, tags::PixelData);
    EXPECT_FALSE(scan.header.encapsulated);
    EXPECT_EQ(scan.header.pixelDataLength, 12u * 16u * 2u);
    const DicomImage image = readImage(scan.header, "sample");
    EXPECT_EQ(image.pixels.rows, 12);
    EXPECT_EQ(image.pixels.columns, 16);
    ASSERT_EQ(image.frames.size(), 1u);
    ASSERT_TRUE(image.frames[0].rowSpacing.has_value());
    EXPECT_DOUBLE_EQ(*image.frames[0].rowSpacing, 0.7);
    EXPECT_DOUBLE_EQ(*image.frames[0].columnSpacing, 0.8);
}

/// Native little-endian file: the pixels are where the header says, up to the last byte.
void expectDirectPixels(const DicomScanResult& scan, const std::string& path) {
    EXPECT_FALSE(scan.header.readByDcmtk);
    EXPECT_TRUE(scan.header.directPixelAccess);
    EXPECT_EQ(scan.header.fileSize, fs::file_size(path));
    EXPECT_EQ(scan.header.pixelDataOffset + scan.header.pixelDataLength, scan.header.fileSize);
    const std::string bytes = readAll(path);
    ASSERT_GE(bytes.size(), scan.header.pixelDataOffset + scan.header.pixelDataLength);
    const std::vector<std::int16_t> expected = sampleValues();
    std::vector<std::int16_t> found(expected.size());
    std::memcpy(found.data(), bytes.data() + scan.header.pixelDataOffset, found.size() * 2);
    EXPECT_EQ(found, expected);
}

/// A sequence nested `depth` levels deep (a sequence in an item of a sequence ...), the
/// innermost item holding ReferencedSOPInstanceUID "1.2.3.4".
std::function<void(DcmDataset&)> nestSequences(int depth) {
    return [depth](DcmDataset& ds) {
        auto* innermost = new DcmItem();
        innermost->putAndInsertString(DCM_ReferencedSOPInstanceUID, "1.2.3.4");
        auto* sequence = new DcmSequenceOfItems(DCM_ReferencedImageSequence);
        sequence->append(innermost);
        for (int level = 1; level < depth; ++level) {
            auto* item = new DcmItem();
            item->insert(sequence);
            sequence = new DcmSequenceOfItems(DCM_ReferencedImageSequence);
            sequence->append(item);
        }
        ds.insert(sequence, true);
    };
}

/// Bytes of a hand-made explicit VR little endian Part 10 file.
class RawFile {
public:
    RawFile() {
        bytes.assign(128, '\0');
        bytes += "DICM";
        element(0x0002, 0x0010, "UI", std::string(syntax::ExplicitLittle) + '\0');
    }

    void u16(std::uint16_t v) { bytes.append(reinterpret_cast<const char*>(&v), 2); }
    void u32(std::uint32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); }

    /// An element with a short (16-bit) length.
    void element(std::uint16_t group, std::uint16_t elem, const char* vr, std::string value) {
        if (value.size() % 2) {
            value += ' ';
        }
        u16(group);
        u16(elem);
        bytes.append(vr, 2);
        u16(std::uint16_t(value.size()));
        bytes += value;
    }
    void us(std::uint16_t group, std::uint16_t elem, std::uint16_t v) {
        u16(group);
        u16(elem);
        bytes.append("US", 2);
        u16(2);
        u16(v);
    }
    /// A sequence header of defined length.
    void sequence(std::uint16_t group, std::uint16_t elem, std::uint32_t length) {
        u16(group);
        u16(elem);
        bytes.append("SQ\0\0", 4);
        u32(length);
    }
    void item(std::uint32_t length) {
        u16(0xFFFE);
        u16(0xE000);
        u32(length);
    }

    std::string bytes;
};

/// A file whose ReferencedImageSequence (defined length) holds one item; the item's length is
/// `itemLength` while its content is `content`.
std::string overrunningItemFile(std::uint32_t extraItemLength) {
    RawFile file;
    file.element(0x0008, 0x0016, "UI", std::string(UID_CTImageStorage) + '\0');
    file.element(0x0008, 0x0018, "UI", "1.2.3.4.5");
    file.element(0x0008, 0x0060, "CS", "CT");
    RawFile content;
    content.bytes.clear();
    content.element(0x0008, 0x1150, "UI", std::string(UID_CTImageStorage) + '\0');
    content.element(0x0008, 0x1155, "UI", "1.2.3.4.6");
    file.sequence(0x0008, 0x1140, std::uint32_t(8 + content.bytes.size()));
    file.item(std::uint32_t(content.bytes.size()) + extraItemLength);
    file.bytes += content.bytes;
    file.us(0x0028, 0x0010, 4); // Rows: 10 bytes that the too-long item swallows
    file.us(0x0028, 0x0011, 4);
    file.us(0x0028, 0x0100, 16);
    file.u16(0x7FE0);
    file.u16(0x0010);
    file.bytes.append("OW\0\0", 4);
    file.u32(32);
    file.bytes.append(32, '\x01');
    return file.bytes;
}

} // namespace

// ---- well-formed files --------------------------------------------------------------------------

TEST(DicomHeaderScanner, ExplicitLittleEndianValuesAndPixelLocation) {
    const std::string path = makeTempFolder("scan-exp") + "/explicit.dcm";
    writeSynthetic(sampleImage(EXS_LittleEndianExplicit), path);
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    expectSampleAttributes(scan);
    EXPECT_EQ(scan.header.transferSyntax, syntax::ExplicitLittle);
    EXPECT_TRUE(scan.header.dataSet.find(tags::Rows)->isVr("US"));
    EXPECT_TRUE(scan.header.dataSet.find(tags::PixelSpacing)->isVr("DS"));
    expectDirectPixels(scan, path);
}

TEST(DicomHeaderScanner, ImplicitLittleEndianValuesAndPixelLocation) {
    const std::string path = makeTempFolder("scan-imp") + "/implicit.dcm";
    writeSynthetic(sampleImage(EXS_LittleEndianImplicit), path);
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    expectSampleAttributes(scan);
    EXPECT_EQ(scan.header.transferSyntax, syntax::ImplicitLittle);
    expectDirectPixels(scan, path);
}

TEST(DicomHeaderScanner, BigEndianGoesThroughDcmtkWithTheSameValues) {
    const std::string path = makeTempFolder("scan-big") + "/big.dcm";
    writeSynthetic(sampleImage(EXS_BigEndianExplicit), path);
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    expectSampleAttributes(scan);
    EXPECT_TRUE(scan.header.readByDcmtk);
    EXPECT_FALSE(scan.header.directPixelAccess);
    EXPECT_EQ(scan.header.transferSyntax, syntax::ExplicitBig);
    EXPECT_EQ(scan.header.fileSize, fs::file_size(path));
}

TEST(DicomHeaderScanner, DeflatedGoesThroughDcmtkWithTheSameValues) {
    const std::string path = makeTempFolder("scan-dfl") + "/deflated.dcm";
    writeSynthetic(sampleImage(EXS_DeflatedLittleEndianExplicit), path);
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    expectSampleAttributes(scan);
    EXPECT_TRUE(scan.header.readByDcmtk);
    EXPECT_FALSE(scan.header.directPixelAccess);
    EXPECT_EQ(scan.header.transferSyntax, syntax::Deflated);
}

TEST(DicomHeaderScanner, EveryEncodingDecodesToTheSamePixelValues) {
    // The header reader decides how pixels are read: a byte-order or inflate mistake shows as
    // wrong values, so the four encodings of one image must load to identical numbers.
    const std::string folder = makeTempFolder("scan-pixels");
    const std::vector<std::int16_t> expected = sampleValues();
    for (const auto& [syntax, name] :
         {std::pair{EXS_LittleEndianExplicit, "explicit"},
          std::pair{EXS_LittleEndianImplicit, "implicit"}, std::pair{EXS_BigEndianExplicit, "big"},
          std::pair{EXS_DeflatedLittleEndianExplicit, "deflated"}}) {
        SCOPED_TRACE(name);
        const std::string path = folder + "/" + name + ".dcm";
        writeSynthetic(sampleImage(syntax), path);
        const SeriesLoadResult result = SeriesLoader().load({path});
        ASSERT_TRUE(result.ok()) << result.error;
        const Volume& volume = *result.volume;
        ASSERT_EQ(volume.size()[0], 16u);
        ASSERT_EQ(volume.size()[1], 12u);
        ASSERT_EQ(volume.size()[2], 1u);
        EXPECT_DOUBLE_EQ(volume.spacing.x, 0.8); // column spacing
        EXPECT_DOUBLE_EQ(volume.spacing.y, 0.7); // row spacing
        int wrong = 0;
        for (std::size_t j = 0; j < 12; ++j) {
            for (std::size_t i = 0; i < 16; ++i) {
                const double v = volume.value(i, j, 0);
                if (v != expected[j * 16 + i] && ++wrong <= 3) {
                    ADD_FAILURE() << "pixel (" << i << "," << j << ") is " << v << ", wrote "
                                  << expected[j * 16 + i];
                }
            }
        }
        EXPECT_EQ(wrong, 0);
    }
}

TEST(DicomHeaderScanner, PydicomBigEndianAndImplicitMatchExplicit) {
    REQUIRE_PYDICOM();
    const DicomScanResult reference = DicomHeaderScanner::scan(pydicomFile("MR_small.dcm"));
    ASSERT_TRUE(reference.ok()) << reference.reason;
    EXPECT_FALSE(reference.header.readByDcmtk);
    const SeriesLoadResult referenceVolume = SeriesLoader().load({pydicomFile("MR_small.dcm")});
    ASSERT_TRUE(referenceVolume.ok()) << referenceVolume.error;
    for (const char* name : {"MR_small_bigendian.dcm", "MR_small_implicit.dcm"}) {
        SCOPED_TRACE(name);
        const DicomScanResult scan = DicomHeaderScanner::scan(pydicomFile(name));
        ASSERT_TRUE(scan.ok()) << scan.reason;
        EXPECT_EQ(scan.header.readByDcmtk, std::string(name) == "MR_small_bigendian.dcm");
        for (DicomTag tag : {tags::Rows, tags::Columns, tags::BitsAllocated}) {
            EXPECT_EQ(scan.header.dataSet.integer(tag), reference.header.dataSet.integer(tag))
                << describeTag(tag);
        }
        EXPECT_EQ(scan.header.dataSet.numbers(tags::PixelSpacing),
                  reference.header.dataSet.numbers(tags::PixelSpacing));
        EXPECT_EQ(scan.header.dataSet.numbers(tags::ImagePositionPatient),
                  reference.header.dataSet.numbers(tags::ImagePositionPatient));
        EXPECT_EQ(scan.header.dataSet.text(tags::PatientName),
                  reference.header.dataSet.text(tags::PatientName));
        const SeriesLoadResult loaded = SeriesLoader().load({pydicomFile(name)});
        ASSERT_TRUE(loaded.ok()) << loaded.error;
        const Volume& a = *referenceVolume.volume;
        const Volume& b = *loaded.volume;
        ASSERT_EQ(a.size(), b.size());
        ASSERT_EQ(a.byteSize(), b.byteSize());
        EXPECT_EQ(std::memcmp(a.data(), b.data(), a.byteSize()), 0) << "pixel values differ";
    }
}

// ---- bad input ----------------------------------------------------------------------------------

TEST(DicomHeaderScannerBadInput, ZeroByteFileIsEmpty) {
    const std::string path = makeTempFolder("scan-empty") + "/empty.dcm";
    writeAll(path, "");
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    EXPECT_EQ(scan.status, DicomScanResult::Status::NotDicom);
    EXPECT_NE(scan.reason.find("empty"), std::string::npos) << scan.reason;
}

TEST(DicomHeaderScannerBadInput, TextFileIsNotDicom) {
    const std::string path = makeTempFolder("scan-text") + "/report.txt";
    std::string text;
    for (int i = 0; i < 20; ++i) {
        text += "Findings: no acute abnormality. Impression: normal study.\n";
    }
    writeAll(path, text);
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    EXPECT_EQ(scan.status, DicomScanResult::Status::NotDicom) << scan.reason;
    EXPECT_NE(scan.reason.find("not a DICOM file"), std::string::npos) << scan.reason;
}

TEST(DicomHeaderScannerBadInput, RandomBytesAreNeverAccepted) {
    const std::string folder = makeTempFolder("scan-random");
    std::mt19937 random(1234);
    for (int n = 0; n < 50; ++n) {
        std::string bytes(std::size_t(100 + random() % 5000), '\0');
        for (char& c : bytes) {
            c = char(random() & 0xFF);
        }
        const std::string path = folder + "/random" + std::to_string(n);
        writeAll(path, bytes);
        const DicomScanResult scan = DicomHeaderScanner::scan(path);
        EXPECT_FALSE(scan.ok()) << path << " accepted as DICOM";
        EXPECT_TRUE(scan.status == DicomScanResult::Status::NotDicom ||
                    scan.status == DicomScanResult::Status::Broken);
        EXPECT_FALSE(scan.reason.empty()) << path;
    }
}

TEST(DicomHeaderScannerBadInput, TruncatedInsideAHeaderValueNamesTheElement) {
    const std::string folder = makeTempFolder("scan-trunc-header");
    const std::string path = folder + "/cut.dcm";
    writeSynthetic(sampleImage(EXS_LittleEndianExplicit), path);
    const DicomScanResult whole = DicomHeaderScanner::scan(path);
    ASSERT_TRUE(whole.ok()) << whole.reason;
    const DicomElement* name = whole.header.dataSet.find(tags::PatientName);
    ASSERT_NE(name, nullptr);
    ASSERT_GT(name->fileOffset, 132u);
    fs::resize_file(path, name->fileOffset + name->length / 2);
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    EXPECT_EQ(scan.status, DicomScanResult::Status::Broken);
    EXPECT_NE(scan.reason.find("truncated"), std::string::npos) << scan.reason;
    EXPECT_NE(scan.reason.find("(0010,0010)"), std::string::npos) << scan.reason;
}

TEST(DicomHeaderScannerBadInput, TruncatedInsideAnElementHeader) {
    // Cut four bytes into the Rows element's header (its tag is there, its VR and length are
    // not): the file is truncated, as DCMTK also says ("premature end of stream"), not fine.
    const std::string path = makeTempFolder("scan-trunc-tag") + "/cut.dcm";
    writeSynthetic(sampleImage(EXS_LittleEndianExplicit), path);
    const DicomScanResult whole = DicomHeaderScanner::scan(path);
    ASSERT_TRUE(whole.ok());
    const DicomElement* rows = whole.header.dataSet.find(tags::Rows);
    ASSERT_NE(rows, nullptr);
    const std::uint64_t elementStart = rows->fileOffset - 8; // explicit VR US: 8-byte header
    fs::resize_file(path, elementStart + 4);
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    EXPECT_EQ(scan.status, DicomScanResult::Status::Broken)
        << "a file cut inside an element header was accepted (hasPixelData "
        << scan.header.hasPixelData << ")";
    EXPECT_NE(scan.reason.find("truncated"), std::string::npos) << scan.reason;
}

TEST(DicomHeaderScannerBadInput, TruncatedInThePixelData) {
    const std::string path = makeTempFolder("scan-trunc-pixels") + "/cut.dcm";
    writeSynthetic(sampleImage(EXS_LittleEndianExplicit), path);
    const DicomScanResult whole = DicomHeaderScanner::scan(path);
    ASSERT_TRUE(whole.ok());
    fs::resize_file(path, whole.header.pixelDataOffset + whole.header.pixelDataLength / 2);
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    EXPECT_EQ(scan.status, DicomScanResult::Status::Broken);
    EXPECT_NE(scan.reason.find("truncated"), std::string::npos) << scan.reason;
    EXPECT_NE(scan.reason.find("PixelData"), std::string::npos) << scan.reason;
}

TEST(DicomHeaderScannerBadInput, EveryTruncationPointIsHandled) {
    // Cut a valid file at every byte: never a crash, never "OK with pixel data", and a cut
    // inside a value always says truncated.
    const std::string folder = makeTempFolder("scan-trunc-all");
    const std::string source = folder + "/whole.dcm";
    writeSynthetic(sampleImage(EXS_LittleEndianExplicit), source);
    const DicomScanResult whole = DicomHeaderScanner::scan(source);
    ASSERT_TRUE(whole.ok());
    const std::string bytes = readAll(source);
    const std::string path = folder + "/cut.dcm";
    for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
        writeAll(path, bytes.substr(0, cut));
        const DicomScanResult scan = DicomHeaderScanner::scan(path);
        ASSERT_FALSE(scan.ok() && scan.header.hasPixelData)
            << "cut at " << cut << " of " << bytes.size() << " accepted with pixel data";
        bool insideValue = cut > whole.header.pixelDataOffset;
        for (const DicomElement& e : whole.header.dataSet.elements()) {
            if (e.length > 0 && e.fileOffset > 132 && cut > e.fileOffset &&
                cut < e.fileOffset + e.length) {
                insideValue = true;
            }
        }
        if (insideValue) {
            ASSERT_EQ(scan.status, DicomScanResult::Status::Broken) << "cut at " << cut;
            ASSERT_NE(scan.reason.find("truncated"), std::string::npos)
                << "cut at " << cut << ": " << scan.reason;
        } else if (!scan.ok()) {
            ASSERT_FALSE(scan.reason.empty()) << "cut at " << cut;
        }
    }
}

TEST(DicomHeaderScannerBadInput, PydicomTruncatedMr) {
    REQUIRE_PYDICOM();
    const DicomScanResult scan = DicomHeaderScanner::scan(pydicomFile("MR_truncated.dcm"));
    EXPECT_EQ(scan.status, DicomScanResult::Status::Broken);
    EXPECT_NE(scan.reason.find("truncated"), std::string::npos) << scan.reason;
}

TEST(DicomHeaderScannerBadInput, PydicomBadVrNamesNumberOfFrames) {
    REQUIRE_PYDICOM();
    const std::string path = pydicomFile("badVR.dcm");
    const DicomScanResult scan = DicomHeaderScanner::scan(path);
    // The header itself is well formed: the scanner reads it; the value is what is wrong.
    ASSERT_TRUE(scan.ok()) << scan.reason;
    EXPECT_EQ(scan.header.dataSet.text(tags::NumberOfFrames), "1A");
    try {
        readIdentity(scan.header.dataSet);
        ADD_FAILURE() << "readIdentity accepted NumberOfFrames '1A'";
    } catch (const DicomValueError& e) {
        EXPECT_NE(std::string(e.what()).find("NumberOfFrames"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("1A"), std::string::npos) << e.what();
    }
    try {
        readImage(scan.header, path);
        ADD_FAILURE() << "readImage accepted NumberOfFrames '1A'";
    } catch (const DicomValueError& e) {
        EXPECT_NE(std::string(e.what()).find("NumberOfFrames"), std::string::npos) << e.what();
    }
    const SeriesLoadResult loaded = SeriesLoader().load({path});
    EXPECT_FALSE(loaded.ok());
    EXPECT_NE(loaded.error.find("NumberOfFrames"), std::string::npos) << loaded.error;
}

TEST(DicomHeaderScannerBadInput, SequencesNestedDeeperThan32LevelsAreRefused) {
    const std::string folder = makeTempFolder("scan-nested");
    for (E_TransferSyntax syntax : {EXS_LittleEndianExplicit, EXS_LittleEndianImplicit}) {
        SCOPED_TRACE(syntax == EXS_LittleEndianExplicit ? "explicit" : "implicit");
        // 32 levels are still read, down to the innermost value.
        SyntheticImage ok = sampleImage(syntax);
        ok.customize = nestSequences(32);
        writeSynthetic(ok, folder + "/deep32.dcm");
        const DicomScanResult deep = DicomHeaderScanner::scan(folder + "/deep32.dcm");
        ASSERT_TRUE(deep.ok()) << deep.reason;
        const DicomDataSet* item = &deep.header.dataSet;
        for (int level = 0; level < 32; ++level) {
            const auto& items = item->items(dicomTag(0x0008, 0x1140));
            ASSERT_EQ(items.size(), 1u) << "level " << level;
            item = &items.front();
        }
        EXPECT_EQ(item->text(dicomTag(0x0008, 0x1155)), "1.2.3.4");
        EXPECT_EQ(deep.header.dataSet.integer(tags::Rows), 12);

        SyntheticImage bad = sampleImage(syntax);
        bad.customize = nestSequences(33);
        writeSynthetic(bad, folder + "/deep33.dcm");
        const DicomScanResult scan = DicomHeaderScanner::scan(folder + "/deep33.dcm");
        EXPECT_EQ(scan.status, DicomScanResult::Status::Broken);
        EXPECT_NE(scan.reason.find("nested"), std::string::npos) << scan.reason;
        EXPECT_NE(scan.reason.find("32"), std::string::npos) << scan.reason;

        SyntheticImage absurd = sampleImage(syntax);
        absurd.customize = nestSequences(500);
        writeSynthetic(absurd, folder + "/deep500.dcm");
        const DicomScanResult worse = DicomHeaderScanner::scan(folder + "/deep500.dcm");
        EXPECT_EQ(worse.status, DicomScanResult::Status::Broken);
        EXPECT_NE(worse.reason.find("nested"), std::string::npos) << worse.reason;
    }
}

TEST(DicomHeaderScannerBadInput, SequenceItemOverrunningItsSequence) {
    const std::string folder = makeTempFolder("scan-overrun");
    // Sanity: the same file with a correct item length is read, sequence and all.
    writeAll(folder + "/good.dcm", overrunningItemFile(0));
    const DicomScanResult good = DicomHeaderScanner::scan(folder + "/good.dcm");
    ASSERT_TRUE(good.ok()) << good.reason;
    ASSERT_EQ(good.header.dataSet.items(dicomTag(0x0008, 0x1140)).size(), 1u);
    EXPECT_EQ(good.header.dataSet.integer(tags::Rows), 4);
    EXPECT_TRUE(good.header.directPixelAccess);

    // The item claims the following Rows element too (ends on an element boundary), or four
    // bytes more than its sequence holds (ends inside Rows).
    for (std::uint32_t extra : {10u, 4u}) {
        SCOPED_TRACE("item " + std::to_string(extra) + " bytes too long");
        const std::string path = folder + "/overrun" + std::to_string(extra) + ".dcm";
        writeAll(path, overrunningItemFile(extra));
        const DicomScanResult scan = DicomHeaderScanner::scan(path);
        EXPECT_EQ(scan.status, DicomScanResult::Status::Broken);
        EXPECT_NE(scan.reason.find("overrun"), std::string::npos) << scan.reason;
    }
}

TEST(DicomHeaderScannerBadInput, MissingFileAndFolder) {
    const std::string folder = makeTempFolder("scan-missing");
    const DicomScanResult missing = DicomHeaderScanner::scan(folder + "/nothing-here.dcm");
    EXPECT_FALSE(missing.ok());
    EXPECT_NE(missing.reason.find("cannot open"), std::string::npos) << missing.reason;
    const DicomScanResult directory = DicomHeaderScanner::scan(folder);
    EXPECT_FALSE(directory.ok());
    EXPECT_NE(directory.reason.find("not a regular file"), std::string::npos) << directory.reason;
}
