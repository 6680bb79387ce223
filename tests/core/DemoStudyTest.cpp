#include "dcmtk/config/osconfig.h"

#include "core/dicom/DemoStudy.h"
#include "core/imaging/SyntheticChest.h"

#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace radiolens {
namespace {

namespace fs = std::filesystem;

/// A fresh directory under the test temporary directory, removed with its contents at the end.
class TempFolder {
public:
    TempFolder() {
        std::string pattern = (fs::path(::testing::TempDir()) / "radiolens-demo-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed for " + pattern);
        }
        m_path = pattern;
    }
    ~TempFolder() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    TempFolder(const TempFolder&) = delete;
    TempFolder& operator=(const TempFolder&) = delete;

    const fs::path& path() const { return m_path; }

private:
    fs::path m_path;
};

/// One DICOM file read back with DCMTK.
struct Loaded {
    std::unique_ptr<DcmFileFormat> file = std::make_unique<DcmFileFormat>();

    DcmDataset& data() const { return *file->getDataset(); }

    std::string text(const DcmTagKey& tag, long index = -1) const {
        OFString value;
        const OFCondition c = index < 0 ? data().findAndGetOFStringArray(tag, value)
                                        : data().findAndGetOFString(tag, value, index);
        return c.good() ? std::string(value.c_str()) : std::string();
    }

    double number(const DcmTagKey& tag, unsigned long index = 0) const {
        Float64 value = NAN;
        data().findAndGetFloat64(tag, value, index);
        return value;
    }

    Uint16 us(const DcmTagKey& tag) const {
        Uint16 value = 0;
        data().findAndGetUint16(tag, value);
        return value;
    }

    /// Stored value at (column, row).
    Uint16 stored(int column, int row) const {
        const Uint16* pixels = nullptr;
        if (data().findAndGetUint16Array(DCM_PixelData, pixels).bad() || pixels == nullptr) {
            throw std::runtime_error("no pixel data");
        }
        return pixels[std::size_t(row) * us(DCM_Columns) + column];
    }

    /// Modality value (stored * slope + intercept) at (column, row): HU for the CT.
    double value(int column, int row) const {
        return stored(column, row) * number(DCM_RescaleSlope) + number(DCM_RescaleIntercept);
    }

    /// Mean modality value over the (2r+1) x (2r+1) square centred at (column, row).
    double mean(int column, int row, int r) const {
        double sum = 0.0;
        for (int y = row - r; y <= row + r; ++y) {
            for (int x = column - r; x <= column + r; ++x) {
                sum += value(x, y);
            }
        }
        return sum / ((2 * r + 1) * (2 * r + 1));
    }
};

Loaded load(const std::string& path) {
    Loaded loaded;
    const OFCondition c = loaded.file->loadFile(path.c_str());
    if (c.bad()) {
        throw std::runtime_error("cannot load " + path + ": " + c.text());
    }
    return loaded;
}

DemoStudyOptions smallOptions() {
    DemoStudyOptions options;
    options.columns = 128;
    options.rows = 128;
    options.slices = 64;
    return options;
}

/// Records every reported fraction; cancels once `cancelAfter` reports have been made.
class RecordingProgress final : public ProgressSink {
public:
    explicit RecordingProgress(int cancelAfter = -1)
        : m_cancelAfter(cancelAfter) {}
    bool report(double fraction) override {
        m_fractions.push_back(fraction);
        return m_cancelAfter < 0 || int(m_fractions.size()) < m_cancelAfter;
    }
    const std::vector<double>& fractions() const { return m_fractions; }

private:
    int m_cancelAfter;
    std::vector<double> m_fractions;
};

/// Checks the CT series of `study` against its expected size; returns the middle slice.
Loaded checkCtSeries(const DemoStudy& study, const DemoStudyOptions& options) {
    EXPECT_EQ(study.ctFiles.size(), std::size_t(options.slices));
    double previousZ = -1e9;
    double thickness = 0.0;
    for (std::size_t i = 0; i < study.ctFiles.size(); ++i) {
        const Loaded slice = load(study.ctFiles[i]);
        if (i == 0) {
            EXPECT_EQ(slice.text(DCM_SOPClassUID), UID_CTImageStorage);
            EXPECT_EQ(slice.data().getOriginalXfer(), EXS_LittleEndianExplicit);
            EXPECT_EQ(slice.text(DCM_Modality), "CT");
            EXPECT_EQ(slice.text(DCM_PatientName), "Demo^Phantom");
            EXPECT_EQ(slice.text(DCM_PatientID), "RADIOLENS-DEMO");
            EXPECT_EQ(slice.us(DCM_Columns), options.columns);
            EXPECT_EQ(slice.us(DCM_Rows), options.rows);
            EXPECT_EQ(slice.us(DCM_BitsAllocated), 16);
            EXPECT_EQ(slice.us(DCM_BitsStored), 12);
            EXPECT_EQ(slice.us(DCM_PixelRepresentation), 0);
            EXPECT_EQ(slice.text(DCM_PhotometricInterpretation), "MONOCHROME2");
            EXPECT_EQ(slice.text(DCM_ImageOrientationPatient), "1\\0\\0\\0\\1\\0");
            EXPECT_EQ(slice.text(DCM_WindowCenterWidthExplanation), "BRAIN\\BONE");
            EXPECT_DOUBLE_EQ(slice.number(DCM_RescaleIntercept), -1024.0);
            EXPECT_DOUBLE_EQ(slice.number(DCM_RescaleSlope), 1.0);
            thickness = slice.number(DCM_SliceThickness);
            EXPECT_GT(thickness, 0.0);
            // The volume is centred on the origin in-plane.
            const double spacing = slice.number(DCM_PixelSpacing, 0);
            EXPECT_NEAR(slice.number(DCM_ImagePositionPatient, 0),
                        -0.5 * (options.columns - 1) * spacing, 1e-3);
        }
        EXPECT_EQ(slice.text(DCM_StudyInstanceUID), study.studyInstanceUid);
        EXPECT_EQ(slice.text(DCM_SeriesInstanceUID), study.ctSeriesInstanceUid);
        EXPECT_EQ(slice.text(DCM_InstanceNumber), std::to_string(i + 1));
        const double z = slice.number(DCM_ImagePositionPatient, 2);
        if (i > 0) {
            EXPECT_NEAR(z - previousZ, thickness, 1e-3) << "slice " << i + 1;
        }
        EXPECT_NEAR(slice.number(DCM_SliceLocation), z, 1e-3);
        previousZ = z;
    }
    return load(study.ctFiles[study.ctFiles.size() / 2]);
}

/// Checks HU in the middle slice: brain in the centre, air in the corner, bone on the skull
/// along the left-right axis, grey-matter-like region anterior (top of the image).
void checkMiddleSliceHu(const Loaded& slice, const DemoStudyOptions& options) {
    const int cx = options.columns / 2;
    const int cy = options.rows / 2;
    const double centre = slice.value(cx, cy);
    EXPECT_GE(centre, 20.0);
    EXPECT_LE(centre, 50.0);
    EXPECT_NEAR(slice.mean(4, 4, 3), -1000.0, 5.0);

    double skull = -2000.0;
    for (int x = 0; x < options.columns; ++x) {
        skull = std::max(skull, slice.value(x, cy));
    }
    EXPECT_GT(skull, 700.0);

    // Head outline along the centre column: first and last bone pixels.
    int anterior = -1;
    int posterior = -1;
    for (int y = 0; y < options.rows; ++y) {
        if (slice.value(cx, y) > 500.0) {
            anterior = anterior < 0 ? y : anterior;
            posterior = y;
        }
    }
    ASSERT_GE(anterior, 0);
    // The head fills most of the field of view from front to back.
    EXPECT_GT(posterior - anterior, 0.75 * options.rows);
    EXPECT_LT(posterior - anterior, 0.95 * options.rows);
    // Phantom units: the skull reaches +-0.92; the grey-matter-like ellipsoid is centred 0.35
    // anterior (38 HU), plain brain 0.35 posterior (30 HU).
    const double rowsPerUnit = (posterior - anterior) / (2 * 0.92);
    const int offset = int(std::lround(0.35 * rowsPerUnit));
    const double front = slice.mean(cx, cy - offset, 2);
    const double back = slice.mean(cx, cy + offset, 2);
    EXPECT_GT(front - back, 4.0) << "front " << front << " back " << back;
    EXPECT_LT(front - back, 12.0) << "front " << front << " back " << back;
    EXPECT_GT(back, 20.0);
    EXPECT_LT(front, 50.0);
}

void checkRadiograph(const DemoStudy& study) {
    const Loaded dx = load(study.radiographFile);
    EXPECT_EQ(dx.text(DCM_SOPClassUID), UID_DigitalXRayImageStorageForPresentation);
    EXPECT_EQ(dx.text(DCM_Modality), "DX");
    EXPECT_EQ(dx.text(DCM_PhotometricInterpretation), "MONOCHROME1");
    EXPECT_EQ(dx.text(DCM_PatientOrientation), "L\\F");
    EXPECT_EQ(dx.text(DCM_ViewPosition), "AP");
    EXPECT_EQ(dx.text(DCM_StudyInstanceUID), study.studyInstanceUid);
    EXPECT_EQ(dx.text(DCM_SeriesInstanceUID), study.radiographSeriesInstanceUid);
    EXPECT_NE(study.radiographSeriesInstanceUid, study.ctSeriesInstanceUid);
    EXPECT_GT(dx.number(DCM_PixelSpacing, 0), 0.0);
    EXPECT_DOUBLE_EQ(dx.number(DCM_PixelSpacing, 1), dx.number(DCM_ImagerPixelSpacing, 1));
    EXPECT_FALSE(dx.data().tagExists(DCM_ImagePositionPatient));
    EXPECT_FALSE(dx.data().tagExists(DCM_NumberOfFrames));
    const int columns = dx.us(DCM_Columns);
    const int rows = dx.us(DCM_Rows);
    ASSERT_GT(columns, 64);
    ASSERT_GT(rows, 64);
    // MONOCHROME1: more attenuation shows brighter, i.e. a lower stored value.
    const Uint16 corner = dx.stored(0, 0);
    const Uint16 centre = dx.stored(columns / 2, rows / 2);
    EXPECT_LT(centre + 1000, corner);
    Uint16 highest = 0;
    for (int y = 0; y < rows; y += 7) {
        for (int x = 0; x < columns; x += 7) {
            highest = std::max(highest, dx.stored(x, y));
        }
    }
    EXPECT_EQ(corner, highest);
    // The display window covers everything from air to the most attenuating ray.
    const double windowLow = dx.number(DCM_WindowCenter) - 0.5 * dx.number(DCM_WindowWidth);
    const double windowHigh = dx.number(DCM_WindowCenter) + 0.5 * dx.number(DCM_WindowWidth);
    EXPECT_LE(windowLow, centre);
    EXPECT_GE(windowHigh, corner);
}

TEST(DemoStudyTest, SmallStudyHasCtGeometryRealisticHuAndRadiograph) {
    TempFolder temp;
    const DemoStudyOptions options = smallOptions();
    RecordingProgress progress;
    const DemoStudy study = writeDemoStudy((temp.path() / "demo").string(), options, &progress);
    EXPECT_FALSE(study.studyInstanceUid.empty());
    const Loaded middle = checkCtSeries(study, options);
    checkMiddleSliceHu(middle, options);
    checkRadiograph(study);

    ASSERT_FALSE(progress.fractions().empty());
    EXPECT_TRUE(std::is_sorted(progress.fractions().begin(), progress.fractions().end()));
    EXPECT_DOUBLE_EQ(progress.fractions().back(), 1.0);
    // Nothing but the study folder is left next to it.
    EXPECT_EQ(std::distance(fs::directory_iterator(temp.path()), fs::directory_iterator()), 1);
}

TEST(DemoStudyTest, DefaultSizeStudyIsComplete) {
    TempFolder temp;
    const auto start = std::chrono::steady_clock::now();
    const DemoStudy study = writeDemoStudy((temp.path() / "demo").string());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "writeDemoStudy at default size took " << seconds << " s\n";
    const DemoStudyOptions options;
    const Loaded middle = checkCtSeries(study, options);
    checkMiddleSliceHu(middle, options);
    checkRadiograph(study);
}

/// The chest radiographs: DX 512 x 512, MONOCHROME2, every other one with a nodule that is
/// brighter than the lung around it, and the manifest remembers where.
void checkChests(const DemoStudy& study, const DemoStudyOptions& options) {
    ASSERT_EQ(study.chests.size(), std::size_t(options.chests));
    std::set<std::string> patients;
    for (std::size_t i = 0; i < study.chests.size(); ++i) {
        const DemoStudy::Chest& chest = study.chests[i];
        SCOPED_TRACE(chest.file);
        const Loaded dx = load(chest.file);
        EXPECT_EQ(dx.text(DCM_Modality), "DX");
        EXPECT_EQ(dx.text(DCM_PhotometricInterpretation), "MONOCHROME2");
        EXPECT_EQ(dx.text(DCM_StudyInstanceUID), chest.studyInstanceUid);
        EXPECT_EQ(dx.text(DCM_SeriesInstanceUID), chest.seriesInstanceUid);
        EXPECT_EQ(dx.us(DCM_Columns), options.chestSize);
        EXPECT_NEAR(dx.number(DCM_PixelSpacing), 358.4 / options.chestSize, 1e-6);
        patients.insert(dx.text(DCM_PatientID));
        EXPECT_EQ(chest.nodule, i % 2 == 0);
        if (!chest.nodule) {
            continue;
        }
        // Nodule centre against a ring just outside it: brighter (denser) by a visible margin.
        const int c = int(chest.noduleColumn), r = int(chest.noduleRow);
        const int ring = int(chest.noduleRadius * 1.6);
        const double inside = dx.mean(c, r, 2);
        double outside = 0.0;
        for (int k = 0; k < 8; ++k) {
            const double a = k * 3.14159265 / 4.0;
            outside += dx.mean(c + int(ring * std::cos(a)), r + int(ring * std::sin(a)), 2) / 8.0;
        }
        EXPECT_GT(inside - outside, 40.0) << "nodule at " << c << "," << r;
        EXPECT_GE(chest.noduleRadius, 9.0 / dx.number(DCM_PixelSpacing) - 1e-6);
        EXPECT_LE(chest.noduleRadius, 15.0 / dx.number(DCM_PixelSpacing) + 1e-6);
    }
    EXPECT_EQ(patients.size(), study.chests.size()) << "one patient per radiograph";
}

TEST(SyntheticChestTest, NoduleChangesOnlyItsOwnDisc) {
    // The same case with and without the nodule: identical outside the disc, brighter inside.
    const SyntheticChest with = syntheticChest(128, 42, true);
    const SyntheticChest without = syntheticChest(128, 42, false);
    ASSERT_TRUE(with.hasNodule);
    ASSERT_EQ(with.stored.size(), std::size_t(128 * 128));
    std::size_t brighter = 0, insideCount = 0;
    for (int row = 0; row < 128; ++row) {
        for (int column = 0; column < 128; ++column) {
            const std::size_t i = std::size_t(row) * 128 + std::size_t(column);
            const double pad = 1.5; // anti-aliased edge
            const double d =
                std::hypot(column + 0.5 - with.noduleColumn, row + 0.5 - with.noduleRow);
            if (d > with.noduleRadius + pad) {
                ASSERT_EQ(with.stored[i], without.stored[i]) << column << "," << row;
            } else if (d < with.noduleRadius * 0.7) {
                ++insideCount;
                brighter += with.stored[i] > without.stored[i] ? 1 : 0;
            }
        }
    }
    EXPECT_GT(insideCount, 0U);
    EXPECT_EQ(brighter, insideCount);
    // Deterministic, and the same patient at another size.
    EXPECT_EQ(syntheticChest(128, 42, true).stored, with.stored);
    const SyntheticChest big = syntheticChest(512, 42, true);
    EXPECT_NEAR(big.noduleColumn, with.noduleColumn * 4, 1e-9);
    EXPECT_NEAR(big.noduleRadius, with.noduleRadius * 4, 1e-9);
    // Lungs are darker than the spine: a radiograph, not noise.
    const std::vector<std::uint8_t> grey = chestDisplayPixels(without);
    EXPECT_LT(grey[std::size_t(50) * 128 + 30], grey[std::size_t(50) * 128 + 64]);
}

TEST(DemoStudyTest, NoiseIsMildAndDeterministic) {
    TempFolder temp;
    const DemoStudyOptions options = smallOptions();
    const DemoStudy a = writeDemoStudy((temp.path() / "a").string(), options);
    const DemoStudy b = writeDemoStudy((temp.path() / "b").string(), options);
    EXPECT_NE(a.studyInstanceUid, b.studyInstanceUid);
    const Loaded sliceA = load(a.ctFiles[options.slices / 2]);
    const Loaded sliceB = load(b.ctFiles[options.slices / 2]);
    double sum = 0.0;
    double sumSquares = 0.0;
    int count = 0;
    for (int y = options.rows / 2 - 6; y <= options.rows / 2 + 6; ++y) {
        for (int x = options.columns / 2 - 6; x <= options.columns / 2 + 6; ++x) {
            ASSERT_EQ(sliceA.stored(x, y), sliceB.stored(x, y));
            const double v = sliceA.value(x, y);
            sum += v;
            sumSquares += v * v;
            ++count;
        }
    }
    const double mean = sum / count;
    const double deviation = std::sqrt(sumSquares / count - mean * mean);
    EXPECT_GT(deviation, 1.5);
    EXPECT_LT(deviation, 5.0);
}

TEST(DemoStudyTest, EnsureKeepsCompleteStudyAndRewritesWithoutManifest) {
    TempFolder temp;
    const std::string folder = (temp.path() / "demo").string();
    const DemoStudy first = ensureDemoStudy(folder);
    ASSERT_EQ(first.ctFiles.size(), std::size_t(DemoStudyOptions().slices));
    const auto firstTime = fs::last_write_time(first.ctFiles.front());

    const DemoStudy second = ensureDemoStudy(folder);
    EXPECT_EQ(second.studyInstanceUid, first.studyInstanceUid);
    EXPECT_EQ(second.ctFiles, first.ctFiles);
    EXPECT_EQ(second.radiographFile, first.radiographFile);
    EXPECT_EQ(fs::last_write_time(first.ctFiles.front()), firstTime);
    EXPECT_EQ(load(first.ctFiles.front()).text(DCM_StudyInstanceUID), first.studyInstanceUid);

    ASSERT_TRUE(fs::remove(fs::path(folder) / ".radiolens-demo.txt"));
    const DemoStudy third = ensureDemoStudy(folder);
    EXPECT_NE(third.studyInstanceUid, first.studyInstanceUid);
    EXPECT_EQ(load(third.ctFiles.front()).text(DCM_StudyInstanceUID), third.studyInstanceUid);
    EXPECT_EQ(load(third.radiographFile).text(DCM_StudyInstanceUID), third.studyInstanceUid);

    // A listed file that went missing makes the study incomplete too.
    ASSERT_TRUE(fs::remove(third.ctFiles.back()));
    const DemoStudy fourth = ensureDemoStudy(folder);
    EXPECT_NE(fourth.studyInstanceUid, third.studyInstanceUid);
    EXPECT_TRUE(fs::exists(fourth.ctFiles.back()));
}

TEST(DemoStudyTest, CancellingLeavesNoFolderBehind) {
    TempFolder temp;
    const std::string folder = (temp.path() / "demo").string();
    RecordingProgress progress(10);
    try {
        writeDemoStudy(folder, smallOptions(), &progress);
        FAIL() << "writeDemoStudy did not stop when cancelled";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "cancelled");
    }
    EXPECT_EQ(progress.fractions().size(), 10u);
    EXPECT_TRUE(fs::is_empty(temp.path()));
}

TEST(DemoStudyTest, CancellingKeepsPreviousStudy) {
    TempFolder temp;
    const std::string folder = (temp.path() / "demo").string();
    const DemoStudy previous = writeDemoStudy(folder, smallOptions());
    RecordingProgress progress(5);
    EXPECT_THROW(writeDemoStudy(folder, smallOptions(), &progress), std::runtime_error);
    EXPECT_EQ(std::distance(fs::directory_iterator(temp.path()), fs::directory_iterator()), 1);
    const DemoStudy kept = ensureDemoStudy(folder);
    EXPECT_EQ(kept.studyInstanceUid, previous.studyInstanceUid);
}

TEST(DemoStudyTest, RefusesToReplaceFolderWithOtherFiles) {
    TempFolder temp;
    const fs::path folder = temp.path() / "demo";
    fs::create_directories(folder);
    const fs::path precious = folder / "notes.txt";
    std::ofstream(precious) << "keep me";
    EXPECT_THROW(writeDemoStudy(folder.string(), smallOptions()), std::runtime_error);
    EXPECT_TRUE(fs::exists(precious));
    EXPECT_FALSE(fs::exists(folder / "CT"));
}

} // namespace
} // namespace radiolens
