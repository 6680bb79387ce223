// Volume memory and geometry, the ITK view of a volume, writing and reading files, slice-stack
// analysis and resampling onto a regular grid.

#include "core/imaging/GridResampler.h"
#include "core/imaging/ItkVolume.h"
#include "core/imaging/StackGeometry.h"
#include "core/imaging/Volume.h"
#include "core/imaging/VolumeWriter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

std::shared_ptr<Volume> rampVolume() {
    auto v = std::make_shared<Volume>(PixelFormat{ComponentType::Int16, 1},
                                      std::array<std::size_t, 3>{5, 4, 3});
    auto* p = static_cast<std::int16_t*>(v->data());
    for (std::size_t i = 0; i < v->voxelCount(); ++i) {
        p[i] = std::int16_t(int(i) * 7 - 1000);
    }
    v->spacing = {0.5, 0.75, 2.5};
    v->origin = {-10.0, 20.0, 30.5};
    // An oblique, right-handed orientation.
    const double c = std::cos(0.3), s = std::sin(0.3);
    v->direction = {{c, s, 0}, {-s, c, 0}, {0, 0, 1}};
    v->statistics = computeStatistics(*v);
    return v;
}

} // namespace

TEST(PixelBuffer, IsZeroFilledAndRefusesMoreThanPhysicalMemory) {
    auto buffer = PixelBuffer::allocate(std::size_t(5) << 20);
    const auto* bytes = static_cast<const unsigned char*>(buffer->data());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(buffer->data()) % (std::size_t(2) << 20), 0u);
    EXPECT_EQ(bytes[0], 0);
    EXPECT_EQ(bytes[buffer->size() - 1], 0);
    EXPECT_THROW(PixelBuffer::allocate(PixelBuffer::physicalMemory() * 2), std::runtime_error);
}

TEST(Volume, StatisticsAndIndexToPoint) {
    const auto v = rampVolume();
    EXPECT_EQ(v->statistics.min, -1000.0);
    EXPECT_EQ(v->statistics.max, 59.0 * 7 - 1000);
    EXPECT_NEAR(v->statistics.mean, (-1000.0 + (59.0 * 7 - 1000)) / 2.0, 1e-9);
    EXPECT_EQ(v->value(1, 0, 0), -993.0);
    const Vec3 p = v->indexToPoint(2, 1, 1);
    const Vec3 expected =
        v->origin + v->direction.i * 1.0 + v->direction.j * 0.75 + Vec3{0, 0, 2.5};
    EXPECT_NEAR(norm(p - expected), 0.0, 1e-12);
}

TEST(ItkVolume, SharesPixelsAndCarriesLpsGeometry) {
    const auto v = rampVolume();
    auto image = toItkImage<std::int16_t>(*v);
    EXPECT_EQ(image->GetBufferPointer(), v->data()); // no copy
    EXPECT_EQ(image->GetLargestPossibleRegion().GetSize()[0], 5u);
    EXPECT_EQ(image->GetSpacing()[2], 2.5);
    EXPECT_EQ(image->GetOrigin()[1], 20.0);
    EXPECT_NEAR(image->GetDirection()(1, 0), std::sin(0.3), 1e-12); // column 0 is the i axis
    itk::Index<3> index{{2, 1, 1}};
    itk::Point<double, 3> point;
    image->TransformIndexToPhysicalPoint(index, point);
    const Vec3 mine = v->indexToPoint(2, 1, 1);
    EXPECT_NEAR(point[0], mine.x, 1e-9);
    EXPECT_NEAR(point[1], mine.y, 1e-9);
    EXPECT_EQ(image->GetPixel(index), std::int16_t(v->value(2, 1, 1)));
    EXPECT_THROW(toItkImage<float>(*v), std::invalid_argument);
}

TEST(ItkVolume, OutlivesTheVolumeItCameFrom) {
    itk::Image<std::int16_t, 3>::Pointer image;
    {
        const auto v = rampVolume();
        image = toItkImage<std::int16_t>(*v);
    }
    EXPECT_EQ(image->GetPixel({{1, 0, 0}}), -993);
}

class VolumeFiles : public ::testing::TestWithParam<const char*> {};

TEST_P(VolumeFiles, RoundTripKeepsValuesAndGeometry) {
    const auto v = rampVolume();
    const fs::path path = fs::path(::testing::TempDir()) / (std::string("roundtrip") + GetParam());
    writeVolume(*v, path.string());
    const auto back = readVolume(path.string());
    ASSERT_EQ(back->format(), v->format());
    ASSERT_EQ(back->size(), v->size());
    EXPECT_EQ(std::memcmp(back->data(), v->data(), v->byteSize()), 0);
    EXPECT_NEAR(norm(back->origin - v->origin), 0.0, 1e-4);
    EXPECT_NEAR(norm(back->spacing - v->spacing), 0.0, 1e-6);
    EXPECT_NEAR(norm(back->direction.i - v->direction.i), 0.0, 1e-5);
    EXPECT_NEAR(norm(back->direction.j - v->direction.j), 0.0, 1e-5);
    fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Formats, VolumeFiles, ::testing::Values(".mha", ".nrrd", ".nii.gz"));

TEST(VolumeWriter, RefusesUnknownFormatsAndUnwritablePaths) {
    const auto v = rampVolume();
    EXPECT_THROW(writeVolume(*v, "/tmp/out.png"), std::runtime_error);
    EXPECT_THROW(writeVolume(*v, "/nonexistent-folder/out.mha"), std::runtime_error);
    // ITK's NIfTI writer reports failure only on stderr; the writer must still throw.
    EXPECT_THROW(writeVolume(*v, "/nonexistent-folder/out.nii.gz"), std::runtime_error);
    EXPECT_FALSE(fs::exists("/nonexistent-folder/out.nii.gz"));
    // A failed write leaves no partial file behind next to the target.
    const fs::path folder = fs::path(::testing::TempDir()) / "writer-leftovers";
    fs::remove_all(folder);
    fs::create_directories(folder);
    writeVolume(*v, (folder / "ok.nrrd").string());
    std::size_t entries = 0;
    for (const auto& entry : fs::directory_iterator(folder)) {
        (void)entry;
        ++entries;
    }
    EXPECT_EQ(entries, 1u) << "temporary files left next to the output";
}

TEST(StackGeometry, SortsAlongTheNormalAndFindsGapsAndRepeats) {
    // Sagittal slices: row (0,1,0), column (0,0,-1), normal = row x column = (-1,0,0).
    const Vec3 row{0, 1, 0}, column{0, 0, -1};
    std::vector<Vec3> positions = {{-2, 0, 0}, {0, 0, 0}, {-1, 0, 0}, {-5, 0, 0}, {-1, 0, 0}};
    const StackAnalysis a = analyseStack(positions, row, column, 1.0);
    EXPECT_NEAR(a.normal.x, -1.0, 1e-12);
    // Ascending along (-1,0,0) means descending x: 0, -1, -2, -5; the second x=-1 repeats.
    ASSERT_EQ(a.order.size(), 4u);
    EXPECT_EQ(a.order[0], 1u);
    EXPECT_EQ(a.order[1], 2u);
    EXPECT_EQ(a.order[2], 0u);
    EXPECT_EQ(a.order[3], 3u);
    ASSERT_EQ(a.repeated.size(), 1u);
    EXPECT_EQ(a.repeated[0], 4u);
    EXPECT_TRUE(a.report.irregular);
    EXPECT_EQ(a.report.nominalGap, 1.0);
    ASSERT_EQ(a.report.missingAfter.size(), 1u);
    EXPECT_EQ(a.report.missingAfter[0], 2);
    EXPECT_FALSE(a.report.tilted);
}

TEST(StackGeometry, MeasuresGantryTilt) {
    const double t = 20.0 * M_PI / 180.0;
    const Vec3 row{1, 0, 0}, column{0, std::cos(t), -std::sin(t)};
    std::vector<Vec3> positions;
    for (int k = 0; k < 10; ++k) {
        positions.push_back({0, 0, 2.0 * k}); // the table moves along z
    }
    const StackAnalysis a = analyseStack(positions, row, column, 0.5);
    EXPECT_TRUE(a.report.tilted);
    EXPECT_NEAR(a.report.tiltDegrees, 20.0, 1e-9);
    EXPECT_NEAR(a.report.nominalGap, 2.0 * std::cos(t), 0.01);
    EXPECT_NEAR(a.report.steps.front(), 2.0, 1e-12);
}

TEST(GridResampler, PutsASheardStackOnATrueGridWithExactMillimetres) {
    // A tilted stack of slices of the field f(P) = 10 * P.z + P.x (mm); after resampling every
    // voxel must hold f at its own patient position (f is linear, so interpolation is exact).
    const double t = 15.0 * M_PI / 180.0;
    const Vec3 row{1, 0, 0}, column{0, std::cos(t), -std::sin(t)};
    const std::size_t nx = 20, ny = 20, nz = 8;
    Volume input(PixelFormat{ComponentType::Float32, 1}, {nx, ny, nz});
    input.spacing = {1.0, 1.0, 1.0};
    input.direction = {row, column, normalized(cross(row, column))};
    auto* p = static_cast<float*>(input.data());
    const auto field = [](const Vec3& q) {
        return 10.0 * q.z + q.x;
    };
    for (std::size_t k = 0; k < nz; ++k) {
        const Vec3 origin{0, 0, 3.0 * double(k) + (k > 4 ? 1.5 : 0.0)}; // irregular too
        input.slicePositions.push_back(origin);
        for (std::size_t j = 0; j < ny; ++j) {
            for (std::size_t i = 0; i < nx; ++i) {
                const Vec3 q = origin + row * double(i) + column * double(j);
                p[(k * ny + j) * nx + i] = float(field(q));
            }
        }
    }
    input.origin = input.slicePositions.front();
    input.statistics = computeStatistics(input);
    const auto out = GridResampler().resample(input);
    EXPECT_TRUE(out->geometry.resampled);
    std::size_t checked = 0;
    for (std::size_t k = 0; k < out->size()[2]; ++k) {
        for (std::size_t j = 0; j < out->size()[1]; ++j) {
            for (std::size_t i = 0; i < out->size()[0]; ++i) {
                const double value = out->value(i, j, k);
                if (value == input.statistics.min) {
                    continue; // outside the input stack
                }
                EXPECT_NEAR(value, field(out->indexToPoint(double(i), double(j), double(k))), 1e-3)
                    << i << "," << j << "," << k;
                ++checked;
            }
        }
    }
    EXPECT_GT(checked, out->voxelCount() / 2);
}
