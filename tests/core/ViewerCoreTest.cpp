// The viewer's arithmetic, without widgets: planes of a volume (which voxel a screen pixel
// shows, in which orientation), the screen transform (fit, zoom, pan, rotation, flips), ROI
// statistics, measurement values in mm and degrees, window presets, the volume cache.

#include "core/imaging/MeasurementValues.h"
#include "core/imaging/PlaneView.h"
#include "core/imaging/RoiStatistics.h"
#include "core/imaging/SliceRenderer.h"
#include "core/imaging/ViewTransform.h"
#include "core/imaging/WindowPresets.h"
#include "core/tasks/VolumeCache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

using namespace radiolens;

namespace {

/// nx x ny x nz int16 volume whose voxel (i, j, k) holds 1000 * k + 100 * j + i.
std::shared_ptr<Volume> codedVolume(std::size_t nx, std::size_t ny, std::size_t nz,
                                    Direction direction, Vec3 spacing = {0.5, 0.7, 2.0}) {
    auto v = std::make_shared<Volume>(PixelFormat{ComponentType::Int16, 1},
                                      std::array<std::size_t, 3>{nx, ny, nz});
    auto* p = static_cast<std::int16_t*>(v->data());
    for (std::size_t k = 0; k < nz; ++k) {
        for (std::size_t j = 0; j < ny; ++j) {
            for (std::size_t i = 0; i < nx; ++i) {
                p[(k * ny + j) * nx + i] = std::int16_t(1000 * k + 100 * j + i);
            }
        }
    }
    v->spacing = spacing;
    v->origin = {-10, 20, 30};
    v->direction = direction;
    v->statistics = computeStatistics(*v);
    return v;
}

const Direction kAxial{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
/// A sagittal acquisition: rows run posterior (+y), columns down (-z), slices to the left (+x).
const Direction kSagittal{{0, 1, 0}, {0, 0, -1}, {1, 0, 0}};

void expectVec(const Vec3& a, const Vec3& b, double tolerance = 1e-9) {
    EXPECT_NEAR(a.x, b.x, tolerance);
    EXPECT_NEAR(a.y, b.y, tolerance);
    EXPECT_NEAR(a.z, b.z, tolerance);
}

} // namespace

TEST(PlaneView, AxialCoronalSagittalOfAnAxialVolumeFollowTheRadiologicalConvention) {
    const auto v = codedVolume(8, 6, 3, kAxial);
    const PlaneMapping axial = planeMapping(*v, PlaneKind::Axial);
    expectVec(axial.directionX(*v), {1, 0, 0}); // patient left on screen right
    expectVec(axial.directionY(*v), {0, 1, 0}); // posterior down
    EXPECT_EQ(axial.depth, 3u);
    const PlaneMapping coronal = planeMapping(*v, PlaneKind::Coronal);
    expectVec(coronal.directionX(*v), {1, 0, 0});
    expectVec(coronal.directionY(*v), {0, 0, -1}); // head up
    EXPECT_EQ(coronal.width, 8u);
    EXPECT_EQ(coronal.height, 3u);
    EXPECT_EQ(coronal.depth, 6u);
    EXPECT_DOUBLE_EQ(coronal.spacingY, 2.0);
    const PlaneMapping sagittal = planeMapping(*v, PlaneKind::Sagittal);
    expectVec(sagittal.directionX(*v), {0, 1, 0}); // anterior on the left
    expectVec(sagittal.directionY(*v), {0, 0, -1});
    EXPECT_EQ(sagittal.width, 6u);
    // The strided image shows the right voxels: coronal slice 4 (j = 4), top row is k = 2.
    const StridedImage c = coronal.image(*v, 4);
    EXPECT_EQ(c.value(5, 0), 1000 * 2 + 100 * 4 + 5);
    EXPECT_EQ(c.value(5, 2), 1000 * 0 + 100 * 4 + 5);
    // Sagittal slices run along x cross y (posterior x inferior = towards the patient's
    // right): slice s is i = 7 - s.
    const StridedImage s = sagittal.image(*v, 7);
    EXPECT_EQ(s.value(3, 1), 1000 * 1 + 100 * 3 + 0);
    EXPECT_EQ(sagittal.image(*v, 0).value(3, 1), 1000 * 1 + 100 * 3 + 7);
}

TEST(PlaneView, PatientCoordinatesRoundTripOnEveryPlane) {
    for (const Direction& d : {kAxial, kSagittal}) {
        const auto v = codedVolume(7, 5, 4, d);
        for (PlaneKind kind :
             {PlaneKind::Native, PlaneKind::Axial, PlaneKind::Coronal, PlaneKind::Sagittal}) {
            SCOPED_TRACE(toString(kind));
            const PlaneMapping m = planeMapping(*v, kind);
            const Vec3 p = m.toPatient(*v, 1.25, 2.5, 1.0);
            const auto back = m.fromPatient(*v, p);
            EXPECT_NEAR(back[0], 1.25, 1e-9);
            EXPECT_NEAR(back[1], 2.5, 1e-9);
            EXPECT_NEAR(back[2], 1.0, 1e-9);
            // Pixel (x, y) of slice s holds the voxel whose patient position toPatient gives.
            const StridedImage image = m.image(*v, 2);
            const auto index = patientToIndex(*v, m.toPatient(*v, 1, 3, 2));
            const double expected =
                1000 * std::lround(index[2]) + 100 * std::lround(index[1]) + std::lround(index[0]);
            EXPECT_EQ(image.value(1, 3), expected);
        }
    }
}

TEST(PlaneView, ASagittalAcquisitionShowsAnAxialViewWithLeftOnTheRight) {
    const auto v = codedVolume(6, 5, 4, kSagittal);
    const PlaneMapping axial = planeMapping(*v, PlaneKind::Axial);
    expectVec(axial.directionX(*v), {1, 0, 0});
    expectVec(axial.directionY(*v), {0, 1, 0});
    expectVec(axial.directionS(*v), {0, 0, 1});
    EXPECT_EQ(axial.width, 4u); // the slice axis of the acquisition
    EXPECT_EQ(axial.height, 6u);
    const PlaneMapping native = planeMapping(*v, PlaneKind::Native);
    expectVec(native.directionX(*v), {0, 1, 0}); // native is shown as stored
}

TEST(ViewTransform, FitsWithTrueProportionsAndInvertsExactly) {
    ViewTransform t;
    t.widgetWidth = 800;
    t.widgetHeight = 600;
    t.imageWidth = 512;
    t.imageHeight = 256;
    t.spacingX = 0.5;
    t.spacingY = 1.5; // 256 mm wide, 384 mm high: height decides
    EXPECT_NEAR(t.fitScale(), 600.0 / 384.0, 1e-12);
    const Point2 topLeft = t.toWidget({-0.5, -0.5});
    const Point2 bottomRight = t.toWidget({511.5, 255.5});
    EXPECT_NEAR(bottomRight.y - topLeft.y, 600.0, 1e-9);
    EXPECT_NEAR(bottomRight.x - topLeft.x, 256.0 * 600.0 / 384.0, 1e-9);
    for (int rotation = 0; rotation < 4; ++rotation) {
        for (bool flip : {false, true}) {
            t.rotation = rotation;
            t.flipHorizontal = flip;
            t.zoom = 1.7;
            t.panX = 13;
            t.panY = -7;
            const Point2 w = t.toWidget({100.25, 30.5});
            const Point2 back = t.toImage(w);
            EXPECT_NEAR(back.x, 100.25, 1e-9);
            EXPECT_NEAR(back.y, 30.5, 1e-9);
        }
    }
}

TEST(ViewTransform, RotationAndFlipsMoveTheImageAsExpected) {
    ViewTransform t;
    t.widgetWidth = t.widgetHeight = 100;
    t.imageWidth = t.imageHeight = 11;
    // The right edge of the image (x = 10) is right of the centre...
    EXPECT_GT(t.toWidget({10, 5}).x, 50.0);
    t.rotate(1); // a quarter turn clockwise: the right edge goes to the bottom
    EXPECT_NEAR(t.toWidget({10, 5}).x, 50.0, 1e-9);
    EXPECT_GT(t.toWidget({10, 5}).y, 50.0);
    t.rotate(-1);
    t.flipHorizontal = true; // mirrored: the right edge is on the left
    EXPECT_LT(t.toWidget({10, 5}).x, 50.0);
    t.flipHorizontal = false;
    t.flipVertical = true;
    EXPECT_LT(t.toWidget({5, 10}).y, 50.0);
}

TEST(ViewTransform, ZoomAtKeepsThePointUnderTheCursorAndOneToOneMatchesPixels) {
    ViewTransform t;
    t.widgetWidth = 640;
    t.widgetHeight = 480;
    t.imageWidth = t.imageHeight = 512;
    t.spacingX = t.spacingY = 0.45;
    const Point2 cursor{500, 100};
    const Point2 before = t.toImage(cursor);
    t.zoomAt(2.5, cursor);
    const Point2 after = t.toImage(cursor);
    EXPECT_NEAR(after.x, before.x, 1e-9);
    EXPECT_NEAR(after.y, before.y, 1e-9);
    t.fit();
    t.zoom = t.oneToOneZoom();
    EXPECT_NEAR(t.toWidget({1, 0}).x - t.toWidget({0, 0}).x, 1.0, 1e-9);
}

TEST(RoiStatistics, RectangleAndEllipseOverAKnownRegion) {
    // A 20 x 20 image: a 10 x 10 block alternating 30 / 50 HU inside -1000 HU air.
    auto v = std::make_shared<Volume>(PixelFormat{ComponentType::Int16, 1},
                                      std::array<std::size_t, 3>{20, 20, 1});
    auto* p = static_cast<std::int16_t*>(v->data());
    for (int y = 0; y < 20; ++y) {
        for (int x = 0; x < 20; ++x) {
            const bool inside = x >= 5 && x < 15 && y >= 5 && y < 15;
            p[y * 20 + x] = std::int16_t(inside ? ((x + y) % 2 ? 50 : 30) : -1000);
        }
    }
    const StridedImage image = planeMapping(*v, PlaneKind::Native).image(*v, 0);
    const RoiStatistics r =
        roiStatistics(image, MeasurementKind::Rectangle, 5, 5, 14, 14, 0.5, 0.5);
    EXPECT_EQ(r.pixels, 100u);
    EXPECT_DOUBLE_EQ(r.mean, 40.0);
    EXPECT_NEAR(r.standardDeviation, std::sqrt(100.0 * 100.0 / 99.0), 1e-9); // sample SD of +-10
    EXPECT_EQ(r.min, 30.0);
    EXPECT_EQ(r.max, 50.0);
    EXPECT_NEAR(r.areaMm2, 9 * 0.5 * 9 * 0.5, 1e-12);
    const RoiStatistics e = roiStatistics(image, MeasurementKind::Ellipse, 5, 5, 14, 14, 0.5, 0.5);
    EXPECT_LT(e.pixels, 100u);
    EXPECT_GE(e.pixels, 55u); // pi * 4.5^2 = 63.6 pixels of area
    EXPECT_NEAR(e.mean, 40.0, 2.0);
    EXPECT_NEAR(e.areaMm2, M_PI / 4 * 4.5 * 4.5, 1e-9);
}

TEST(MeasurementValues, DistancesInMillimetresAnglesInDegreesRoiOnItsSlice) {
    const auto v = codedVolume(10, 10, 5, kAxial, {0.5, 0.7, 2.0});
    const PlaneMapping axial = planeMapping(*v, PlaneKind::Native);
    Measurement d;
    d.kind = MeasurementKind::Distance;
    d.points = {axial.toPatient(*v, 1, 1, 2), axial.toPatient(*v, 7, 9, 2)};
    d.axisU = axial.directionX(*v);
    d.axisV = axial.directionY(*v);
    const MeasurementValue dv = measure(*v, d);
    EXPECT_NEAR(dv.lengthMm, std::hypot(6 * 0.5, 8 * 0.7), 1e-9);
    EXPECT_EQ(dv.slice, 2);
    EXPECT_EQ(describe(d, dv, "HU"), "6.4 mm");
    Measurement a;
    a.kind = MeasurementKind::Angle;
    a.points = {{10, 0, 0}, {0, 0, 0}, {0, 10, 0}};
    EXPECT_NEAR(measure(*v, a).angleDegrees, 90.0, 1e-9);
    Measurement r;
    r.kind = MeasurementKind::Rectangle;
    r.points = {axial.toPatient(*v, 2, 3, 4), axial.toPatient(*v, 2, 3, 4)};
    r.axisU = d.axisU;
    r.axisV = d.axisV;
    const MeasurementValue rv = measure(*v, r);
    ASSERT_TRUE(rv.roi.has_value());
    EXPECT_EQ(rv.roi->mean, 1000 * 4 + 100 * 3 + 2); // the single pixel of slice 4
}

TEST(WindowPresets, CtGetsTheTableOthersTheFileAndAutomatic) {
    auto ct = codedVolume(4, 4, 1, kAxial);
    ct->modality = "CT";
    ct->units = "HU";
    const auto presets = windowPresetsFor(*ct, 0);
    ASSERT_EQ(presets.size(), 8u);
    EXPECT_EQ(presets[0].name, "Brain");
    EXPECT_EQ(presets[0].center, 40);
    EXPECT_EQ(presets[0].width, 80);
    EXPECT_EQ(presets[3].name, "Lung");
    EXPECT_EQ(presets[7].name, "Bone");
    auto mr = codedVolume(4, 4, 1, kAxial);
    mr->modality = "MR";
    mr->windows = {{300, 600, "T1"}};
    const auto mrPresets = windowPresetsFor(*mr, 0);
    ASSERT_EQ(mrPresets.size(), 2u);
    EXPECT_EQ(mrPresets[0].name, "T1");
    EXPECT_EQ(mrPresets[1].name, "Automatic");
}

TEST(VolumeCache, KeepsRecentVolumesWithinItsLimit) {
    VolumeCache cache(3 * 1000 * 1000);
    const auto make = [] {
        return std::make_shared<const Volume>(PixelFormat{ComponentType::UInt8, 1},
                                              std::array<std::size_t, 3>{1000, 1000, 1});
    };
    cache.insert("a", make());
    cache.insert("b", make());
    cache.insert("c", make());
    EXPECT_EQ(cache.size(), 3u);
    ASSERT_TRUE(cache.find("a")); // a is now the most recent
    cache.insert("d", make());    // b, the least recent, goes
    EXPECT_EQ(cache.size(), 3u);
    EXPECT_FALSE(cache.find("b"));
    EXPECT_TRUE(cache.find("a"));
    EXPECT_LE(cache.bytes(), cache.limit());
    cache.setLimit(1);
    EXPECT_EQ(cache.size(), 1u); // the most recent always stays
}
