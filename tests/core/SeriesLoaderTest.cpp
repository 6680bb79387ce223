// SeriesLoader: series files -> Volume. What a radiologist would notice: slices in anatomical
// order whatever the file names and instance numbers, millimetres and directions from the
// positions, tilt and gaps reported, HU exact to the unit, colour right, stray files left out
// with a reason, the middle slice first, Cancel working.

#include "SyntheticDicom.h"

#include "core/dicom/SeriesLoader.h"

#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrleerg.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace radiolens;
using namespace radiolens::test;

namespace {

constexpr double kPi = 3.14159265358979323846;

std::string ds(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.10g", v);
    return text;
}

std::string ds3(const Vec3& v) {
    return ds(v.x) + "\\" + ds(v.y) + "\\" + ds(v.z);
}

void expectNear(const Vec3& a, const Vec3& b, double tolerance, const std::string& what) {
    EXPECT_NEAR(a.x, b.x, tolerance) << what;
    EXPECT_NEAR(a.y, b.y, tolerance) << what;
    EXPECT_NEAR(a.z, b.z, tolerance) << what;
}

/// Writes one file per position (slice k at positions[k], orientation row/column, stored
/// values value(i, j, k) as int16), named so that name order is not slice order, with instance
/// numbers given by `instance(k)` (default: a scrambled order). Returns paths in slice order.
std::vector<std::string> writeStack(const std::string& folder, const std::vector<Vec3>& positions,
                                    const Vec3& row, const Vec3& column,
                                    const std::function<int(int, int, int)>& value,
                                    SyntheticImage base = {},
                                    std::function<int(int)> instance = nullptr) {
    if (base.studyUid.empty()) {
        base.studyUid = newUid();
    }
    if (base.seriesUid.empty()) {
        base.seriesUid = newUid();
    }
    const int n = int(positions.size());
    std::vector<std::string> paths;
    for (int k = 0; k < n; ++k) {
        SyntheticImage image = base;
        image.position = positions[std::size_t(k)];
        image.orientation =
            std::array<double, 6>{row.x, row.y, row.z, column.x, column.y, column.z};
        image.instanceNumber = instance ? instance(k) : (k * 5 + 3) % n + 1;
        std::vector<std::int16_t> values(std::size_t(image.rows * image.columns));
        for (int j = 0; j < image.rows; ++j) {
            for (int i = 0; i < image.columns; ++i) {
                values[std::size_t(j * image.columns + i)] = std::int16_t(value(i, j, k));
            }
        }
        image.pixels = bytesOf(values);
        char name[32];
        std::snprintf(name, sizeof name, "Z%05d", (k * 7919 + 17) % 100000);
        paths.push_back(folder + "/" + name);
        writeSynthetic(image, paths.back());
    }
    return paths;
}

/// Checks slice k of `volume` against value(i, j, writtenSlice) and reports the first few
/// differences.
void expectSlice(const Volume& volume, std::size_t k, const std::function<double(int, int)>& value,
                 const std::string& what, double tolerance = 0.0) {
    int wrong = 0;
    for (std::size_t j = 0; j < volume.size()[1]; ++j) {
        for (std::size_t i = 0; i < volume.size()[0]; ++i) {
            const double got = volume.value(i, j, k);
            const double want = value(int(i), int(j));
            if (std::abs(got - want) > tolerance && ++wrong <= 3) {
                ADD_FAILURE() << what << ": voxel (" << i << "," << j << "," << k << ") is " << got
                              << ", expected " << want;
            }
        }
    }
    EXPECT_EQ(wrong, 0) << what << ": " << wrong << " wrong voxels in slice " << k;
}

bool anyContains(const std::vector<std::string>& texts, const std::string& word) {
    return std::any_of(texts.begin(), texts.end(),
                       [&](const std::string& t) { return t.find(word) != std::string::npos; });
}

std::string joined(const std::vector<std::string>& texts) {
    std::string out;
    for (const auto& t : texts) {
        out += "  " + t + "\n";
    }
    return out;
}

std::string problemsText(const SeriesLoadResult& result) {
    std::string out;
    for (const auto& p : result.problems) {
        out += "  " + p.path + ": " + p.reason + "\n";
    }
    return out;
}

const Problem* problemFor(const SeriesLoadResult& result, const std::string& path) {
    for (const auto& p : result.problems) {
        if (p.path == path) {
            return &p;
        }
    }
    return nullptr;
}

std::vector<std::string> reversed(std::vector<std::string> v) {
    std::reverse(v.begin(), v.end());
    return v;
}

std::vector<std::string> nameSorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

int sliceCode(int i, int j, int k) {
    return 1000 * k + 16 * j + i;
}

} // namespace

// ---- slice order and geometry -------------------------------------------------------------------

TEST(SeriesLoaderGeometry, SortsByPositionNotByNameOrInstanceNumber) {
    const std::string folder = makeTempFolder("load-sort");
    const std::vector<std::string> files =
        writeSeries(folder, 7, -20.0, 2.5,
                    [](int i, int j, int k) { return std::int16_t(sliceCode(i, j, k)); });
    for (const auto& order : {nameSorted(files), reversed(files), files}) {
        const SeriesLoadResult result = SeriesLoader().load(order);
        ASSERT_TRUE(result.ok()) << result.error;
        EXPECT_TRUE(result.problems.empty()) << problemsText(result);
        const Volume& v = *result.volume;
        ASSERT_EQ(v.size()[0], 8u);
        ASSERT_EQ(v.size()[1], 8u);
        ASSERT_EQ(v.size()[2], 7u);
        for (std::size_t k = 0; k < 7; ++k) {
            expectSlice(
                v, k, [k](int i, int j) { return sliceCode(i, j, int(k)); }, "sorted");
            ASSERT_EQ(v.slicePositions.size(), 7u);
            EXPECT_DOUBLE_EQ(v.slicePositions[k].z, -20.0 + 2.5 * double(k));
        }
        expectNear(v.origin, {0, 0, -20.0}, 1e-9, "origin is the lowest slice");
        EXPECT_NEAR(v.spacing.z, 2.5, 1e-9);
        EXPECT_DOUBLE_EQ(v.spacing.x, 0.5);
        EXPECT_DOUBLE_EQ(v.spacing.y, 0.5);
        expectNear(v.direction.k, {0, 0, 1}, 1e-12, "direction k");
        EXPECT_FALSE(v.geometry.tilted);
        EXPECT_FALSE(v.geometry.irregular);
        EXPECT_TRUE(v.geometry.missingAfter.empty());
        EXPECT_NEAR(v.geometry.minGap, 2.5, 1e-9);
        EXPECT_NEAR(v.geometry.maxGap, 2.5, 1e-9);
        EXPECT_TRUE(v.geometry.hasPatientGeometry);
        // The voxel grid puts each slice where its file says.
        for (std::size_t k = 0; k < 7; ++k) {
            expectNear(v.indexToPoint(3, 5, double(k)), {1.5, 2.5, -20.0 + 2.5 * double(k)}, 1e-9,
                       "indexToPoint");
        }
        EXPECT_EQ(v.modality, "CT");
        EXPECT_EQ(v.units, "HU");
    }
}

TEST(SeriesLoaderGeometry, PositionsDecreasingOrIncreasingWithInstanceNumber) {
    for (double dz : {3.0, -3.0}) {
        SCOPED_TRACE("dz " + std::to_string(dz));
        const std::string folder = makeTempFolder("load-negative");
        // Slice k at z = 10 + dz * k, instance number 6 - k: for dz > 0 the positions fall as
        // instance numbers rise, for dz < 0 they rise with them.
        const std::vector<std::string> files =
            writeSeries(folder, 6, 10.0, dz,
                        [](int i, int j, int k) { return std::int16_t(sliceCode(i, j, k)); });
        const SeriesLoadResult result = SeriesLoader().load(files);
        ASSERT_TRUE(result.ok()) << result.error;
        const Volume& v = *result.volume;
        ASSERT_EQ(v.size()[2], 6u);
        for (std::size_t k = 0; k < 6; ++k) {
            // Volume slice k is the k-th lowest; which written slice that is depends on dz.
            const int written = dz > 0 ? int(k) : 5 - int(k);
            expectSlice(
                v, k, [written](int i, int j) { return sliceCode(i, j, written); }, "slice");
            EXPECT_NEAR(v.slicePositions[k].z, 10.0 + dz * written, 1e-9);
        }
        expectNear(v.direction.k, {0, 0, 1}, 1e-12, "direction k is row x column");
        EXPECT_NEAR(v.spacing.z, 3.0, 1e-9) << "spacing is positive along the normal";
        EXPECT_NEAR(v.origin.z, std::min(10.0, 10.0 + 5 * dz), 1e-9);
    }
}

TEST(SeriesLoaderGeometry, SagittalAndObliqueStacksRunAlongRowCrossColumn) {
    const double a = 30.0 * kPi / 180.0, b = 20.0 * kPi / 180.0;
    struct Case {
        const char* name;
        Vec3 row, column;
    };
    const Case cases[] = {
        {"sagittal", {0, 1, 0}, {0, 0, -1}},
        {"coronal", {1, 0, 0}, {0, 0, -1}},
        {"oblique",
         {std::cos(a), std::sin(a), 0},
         {-std::sin(a) * std::cos(b), std::cos(a) * std::cos(b), -std::sin(b)}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const Vec3 normal = cross(c.row, c.column);
        const Vec3 p0{-12.5, 40.0, 7.0};
        // Written with positions stepping backwards along the normal: file k lies at -4k mm.
        std::vector<Vec3> positions;
        for (int k = 0; k < 5; ++k) {
            positions.push_back(p0 + normal * (-4.0 * k));
        }
        const std::string folder = makeTempFolder("load-oblique");
        const auto files = writeStack(folder, positions, c.row, c.column,
                                      [](int i, int j, int k) { return sliceCode(i, j, k); });
        const SeriesLoadResult result = SeriesLoader().load(files);
        ASSERT_TRUE(result.ok()) << result.error;
        const Volume& v = *result.volume;
        ASSERT_EQ(v.size()[2], 5u);
        expectNear(v.direction.i, c.row, 1e-9, "direction i");
        expectNear(v.direction.j, c.column, 1e-9, "direction j");
        expectNear(v.direction.k, normal, 1e-9, "direction k");
        EXPECT_NEAR(v.spacing.z, 4.0, 1e-6);
        expectNear(v.origin, positions[4], 1e-6, "origin is the first slice along the normal");
        for (std::size_t k = 0; k < 5; ++k) {
            const int written = 4 - int(k);
            expectSlice(
                v, k, [written](int i, int j) { return sliceCode(i, j, written); }, "slice");
            expectNear(v.slicePositions[k], positions[std::size_t(written)], 1e-6, "position");
            if (k > 0) {
                EXPECT_GT(dot(v.slicePositions[k] - v.slicePositions[k - 1], v.direction.k), 3.99);
            }
        }
        EXPECT_FALSE(v.geometry.tilted);
        EXPECT_NEAR(v.geometry.tiltDegrees, 0.0, 0.01);
    }
}

TEST(SeriesLoaderGeometry, GantryTiltIsMeasuredAndResampledToTrueMillimetres) {
    const double t = 15.0 * kPi / 180.0;
    const Vec3 row{1, 0, 0};
    const Vec3 column{0, std::cos(t), -std::sin(t)};
    const double pixel = 0.5;
    const int size = 16;
    const int slices = 10;
    std::vector<Vec3> positions;
    for (int k = 0; k < slices; ++k) {
        positions.push_back({-4.0, -4.0, 2.0 * k}); // the table moves along z
    }
    // Each voxel stores 10 x its patient z (mm), rounded: a linear function of position that
    // any correct resampling reproduces.
    const auto zOf = [&](int i, int j, int k) {
        return (positions[std::size_t(k)] + row * (i * pixel) + column * (j * pixel)).z;
    };
    SyntheticImage base;
    base.rows = base.columns = size;
    base.pixelSpacing = std::array<double, 2>{pixel, pixel};
    const std::string folder = makeTempFolder("load-tilt");
    const auto files = writeStack(
        folder, positions, row, column,
        [&](int i, int j, int k) { return int(std::lround(10.0 * zOf(i, j, k))); }, base);

    const SeriesLoadResult plain = SeriesLoader().load(files);
    ASSERT_TRUE(plain.ok()) << plain.error;
    const Volume& v = *plain.volume;
    EXPECT_TRUE(v.geometry.tilted);
    EXPECT_NEAR(v.geometry.tiltDegrees, 15.0, 0.01);
    EXPECT_FALSE(v.geometry.resampled);
    EXPECT_TRUE(anyContains(v.warnings, "tilt")) << joined(v.warnings);
    // Gaps are along the normal (2 cos 15 mm), steps are the table moves (2 mm).
    ASSERT_EQ(v.geometry.gaps.size(), std::size_t(slices - 1));
    EXPECT_NEAR(v.geometry.gaps[0], 2.0 * std::cos(t), 1e-6);
    ASSERT_EQ(v.geometry.steps.size(), std::size_t(slices - 1));
    EXPECT_NEAR(v.geometry.steps[0], 2.0, 1e-6);
    for (int k = 0; k < slices; ++k) {
        expectNear(v.slicePositions[std::size_t(k)], positions[std::size_t(k)], 1e-9, "position");
    }

    SeriesLoadOptions options;
    options.resample = true;
    const SeriesLoadResult result = SeriesLoader(options).load(files);
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& r = *result.volume;
    EXPECT_TRUE(r.geometry.resampled);
    expectNear(r.direction.k, cross(row, column), 1e-9, "resampled k is the slice normal");
    expectNear(r.direction.j, column, 1e-9, "resampled j");
    EXPECT_GE(r.size()[1], std::size_t(size)) << "the sheared stack needs a taller grid";
    // Every output voxel inside the input stack holds 10 x its own patient z.
    const Vec3 normal = cross(row, column);
    std::size_t checked = 0;
    int wrong = 0;
    for (std::size_t k = 0; k < r.size()[2]; ++k) {
        for (std::size_t j = 0; j < r.size()[1]; ++j) {
            for (std::size_t i = 0; i < r.size()[0]; ++i) {
                const Vec3 p = r.indexToPoint(double(i), double(j), double(k));
                // Inside both input slices around p?
                const double depth = dot(p, normal);
                bool inside = true;
                int below = -1;
                for (int s = 0; s + 1 < slices; ++s) {
                    if (dot(positions[std::size_t(s)], normal) <= depth + 1e-9 &&
                        depth <= dot(positions[std::size_t(s + 1)], normal) + 1e-9) {
                        below = s;
                        break;
                    }
                }
                if (below < 0) {
                    continue;
                }
                for (int s : {below, below + 1}) {
                    const Vec3 d = p - positions[std::size_t(s)];
                    const double x = dot(d, row) / pixel, y = dot(d, column) / pixel;
                    inside =
                        inside && x >= 0.01 && y >= 0.01 && x <= size - 1.01 && y <= size - 1.01;
                }
                if (!inside) {
                    continue;
                }
                ++checked;
                const double got = r.value(i, j, k);
                if (std::abs(got - 10.0 * p.z) > 1.0 && ++wrong <= 5) {
                    ADD_FAILURE() << "voxel (" << i << "," << j << "," << k << ") at z = " << p.z
                                  << " mm holds " << got << ", expected " << 10.0 * p.z;
                }
            }
        }
    }
    EXPECT_EQ(wrong, 0) << wrong << " of " << checked << " voxels off by more than 0.1 mm";
    EXPECT_GT(checked, std::size_t(size * size * 4)) << "too few voxels inside to judge";
}

TEST(SeriesLoaderGeometry, IrregularSpacingAndAMissingSliceAreReported) {
    // Gaps 2, 2, 2, 2, 4 (a slice missing), 2, 2.5, 2 mm.
    const std::vector<double> zs = {0, 2, 4, 6, 8, 12, 14, 16.5, 18.5};
    std::vector<Vec3> positions;
    for (double z : zs) {
        positions.push_back({0, 0, z});
    }
    const std::string folder = makeTempFolder("load-gaps");
    const auto files = writeStack(folder, positions, {1, 0, 0}, {0, 1, 0}, [&](int, int, int k) {
        return int(std::lround(10.0 * zs[std::size_t(k)]));
    });
    const SeriesLoadResult result = SeriesLoader().load(files);
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& v = *result.volume;
    ASSERT_EQ(v.size()[2], zs.size());
    EXPECT_TRUE(v.geometry.irregular);
    EXPECT_NEAR(v.geometry.minGap, 2.0, 1e-9);
    EXPECT_NEAR(v.geometry.maxGap, 4.0, 1e-9);
    EXPECT_NEAR(v.geometry.nominalGap, 2.0, 1e-9);
    EXPECT_EQ(v.geometry.missingAfter, std::vector<int>{4});
    EXPECT_FALSE(v.geometry.tilted);
    EXPECT_TRUE(anyContains(v.warnings, "irregular")) << joined(v.warnings);
    EXPECT_TRUE(anyContains(v.warnings, "missing")) << joined(v.warnings);
    for (std::size_t k = 0; k < zs.size(); ++k) {
        EXPECT_DOUBLE_EQ(v.slicePositions[k].z, zs[k]);
        expectSlice(
            v, k, [&](int, int) { return 10.0 * zs[k]; }, "slice");
    }

    // Resampled at 2 mm: every output slice holds 10 x its z, the gap filled by interpolation.
    SeriesLoadOptions options;
    options.resample = true;
    const SeriesLoadResult regular = SeriesLoader(options).load(files);
    ASSERT_TRUE(regular.ok()) << regular.error;
    const Volume& r = *regular.volume;
    EXPECT_TRUE(r.geometry.resampled);
    EXPECT_NEAR(r.spacing.z, 2.0, 1e-9);
    ASSERT_EQ(r.size()[2], 10u);
    for (std::size_t k = 0; k < r.size()[2]; ++k) {
        const double z = r.indexToPoint(0, 0, double(k)).z;
        EXPECT_NEAR(z, 2.0 * double(k), 1e-9);
        expectSlice(
            r, k, [z](int, int) { return 10.0 * z; }, "resampled", 0.5);
    }
}

TEST(SeriesLoaderGeometry, RepeatedPositionsKeepOneSlicePerPosition) {
    // Two echoes at each of four positions: echo 1 (instances 1-4) stores 100 + k, echo 2
    // (instances 5-8) stores 200 + k.
    std::vector<Vec3> positions;
    for (int echo = 0; echo < 2; ++echo) {
        for (int k = 0; k < 4; ++k) {
            positions.push_back({0, 0, 5.0 * k});
        }
    }
    const std::string folder = makeTempFolder("load-echoes");
    const auto files = writeStack(
        folder, positions, {1, 0, 0}, {0, 1, 0},
        [](int, int, int n) { return (n < 4 ? 100 : 200) + n % 4; }, {},
        [](int n) { return n + 1; });
    const SeriesLoadResult result = SeriesLoader().load(reversed(files));
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& v = *result.volume;
    ASSERT_EQ(v.size()[2], 4u);
    EXPECT_NEAR(v.spacing.z, 5.0, 1e-9);
    EXPECT_TRUE(anyContains(v.warnings, "repeat")) << joined(v.warnings);
    EXPECT_FALSE(v.geometry.irregular);
    for (std::size_t k = 0; k < 4; ++k) {
        // The first at each position (lowest instance number): echo 1.
        expectSlice(
            v, k, [k](int, int) { return 100.0 + double(k); }, "echo 1");
    }
}

// ---- values -------------------------------------------------------------------------------------

TEST(SeriesLoaderValues, Unsigned12BitWithGarbageHighBitsToExactHu) {
    SyntheticImage image;
    image.bitsStored = 12;
    image.highBit = 11;
    image.pixelRepresentation = 0;
    image.intercept = "-1024";
    image.slope = "1";
    std::vector<std::uint16_t> stored(64);
    std::vector<int> expected(64);
    for (int n = 0; n < 64; ++n) {
        const int v = (n * 613 + 7) % 4096;                           // 0 .. 4095
        stored[std::size_t(n)] = std::uint16_t(v | ((n % 16) << 12)); // garbage above bit 11
        expected[std::size_t(n)] = v - 1024;
    }
    stored[0] = 0xF000; // 0 with all garbage bits: -1024 HU (air)
    expected[0] = -1024;
    stored[1] = 0x0FFF | 0xA000; // 4095 -> 3071 HU
    expected[1] = 3071;
    image.pixels = bytesOf(stored);
    const std::string path = makeTempFolder("load-u12") + "/ct.dcm";
    writeSynthetic(image, path);
    const SeriesLoadResult result = SeriesLoader().load({path});
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& v = *result.volume;
    EXPECT_EQ(v.format().component, ComponentType::Int16) << toString(v.format());
    EXPECT_EQ(v.units, "HU");
    expectSlice(
        v, 0, [&](int i, int j) { return double(expected[std::size_t(j * 8 + i)]); }, "HU");
    EXPECT_DOUBLE_EQ(v.statistics.min, -1024.0);
    EXPECT_DOUBLE_EQ(v.statistics.max, 3071.0);
}

TEST(SeriesLoaderValues, Signed12BitIsSignExtended) {
    SyntheticImage image;
    image.bitsStored = 12;
    image.highBit = 11;
    image.pixelRepresentation = 1;
    std::vector<std::uint16_t> stored(64);
    std::vector<int> expected(64);
    for (int n = 0; n < 64; ++n) {
        const int v = (n * 97) % 4096 - 2048; // -2048 .. 2047
        // 12-bit two's complement, with the top 4 bits holding junk instead of the sign.
        stored[std::size_t(n)] = std::uint16_t((v & 0x0FFF) | ((n * 5 % 16) << 12));
        expected[std::size_t(n)] = v;
    }
    stored[2] = 0x0800; // -2048
    expected[2] = -2048;
    stored[3] = 0x0FFF; // -1
    expected[3] = -1;
    stored[4] = 0x07FF; // 2047
    expected[4] = 2047;
    image.pixels = bytesOf(stored);
    const std::string path = makeTempFolder("load-s12") + "/ct.dcm";
    writeSynthetic(image, path);
    const SeriesLoadResult result = SeriesLoader().load({path});
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& v = *result.volume;
    EXPECT_TRUE(v.format().isSigned()) << toString(v.format());
    expectSlice(
        v, 0, [&](int i, int j) { return double(expected[std::size_t(j * 8 + i)]); },
        "sign-extended");
    EXPECT_DOUBLE_EQ(v.statistics.min, -2048.0);
    EXPECT_DOUBLE_EQ(v.statistics.max, 2047.0);
}

TEST(SeriesLoaderValues, NonIntegerRescaleGivesExactFloats) {
    SyntheticImage image;
    image.modality = "PT";
    image.sopClassUid = UID_PositronEmissionTomographyImageStorage;
    image.pixelRepresentation = 0;
    image.slope = "0.5";
    image.intercept = "-10.25";
    std::vector<std::uint16_t> stored(64);
    for (int n = 0; n < 64; ++n) {
        stored[std::size_t(n)] = std::uint16_t(n * 1001 % 65536);
    }
    stored[63] = 65535;
    image.pixels = bytesOf(stored);
    const std::string path = makeTempFolder("load-float") + "/pt.dcm";
    writeSynthetic(image, path);
    const SeriesLoadResult result = SeriesLoader().load({path});
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& v = *result.volume;
    EXPECT_EQ(v.format().component, ComponentType::Float32) << toString(v.format());
    expectSlice(
        v, 0, [&](int i, int j) { return stored[std::size_t(j * 8 + i)] * 0.5 - 10.25; },
        "slope 0.5 intercept -10.25");
    EXPECT_DOUBLE_EQ(v.statistics.max, 65535 * 0.5 - 10.25);
    EXPECT_DOUBLE_EQ(v.statistics.min, -10.25);
}

TEST(SeriesLoaderValues, RescaledValuesOutsideInt16WidenToInt32Exactly) {
    struct Case {
        const char* intercept;
        std::int16_t extreme;
        ComponentType type;
    };
    // 32000 - 1024 still fits int16 (narrowest exact type kept); 32000 + 1024 and
    // -32000 - 1024 do not: the loader widens to int32.
    const Case cases[] = {{"-1024", 32000, ComponentType::Int16},
                          {"1024", 32000, ComponentType::Int32},
                          {"-1024", -32000, ComponentType::Int32}};
    for (const Case& c : cases) {
        SCOPED_TRACE(std::string("intercept ") + c.intercept + " stored " +
                     std::to_string(c.extreme));
        const std::string folder = makeTempFolder("load-wide");
        const double intercept = std::stod(c.intercept);
        SyntheticImage base;
        base.intercept = c.intercept;
        base.slope = "1";
        // Three slices; only the middle one (decoded first) holds the extreme value, in one
        // voxel.
        const auto files = writeSeries(
            folder, 3, 0.0, 1.0,
            [&](int i, int j, int k) {
                return std::int16_t(k == 1 && i == 2 && j == 3 ? c.extreme : 100 * k + i - j);
            },
            base);
        struct LastVolume : SeriesLoadObserver {
            void volumeStarted(const std::shared_ptr<const Volume>& v) override { last = v; }
            std::shared_ptr<const Volume> last;
        } observer;
        const SeriesLoadResult result = SeriesLoader().load(files, &observer);
        ASSERT_TRUE(result.ok()) << result.error;
        const Volume& v = *result.volume;
        EXPECT_EQ(v.format().component, c.type) << toString(v.format());
        EXPECT_EQ(observer.last.get(), result.volume.get())
            << "after widening, the observer must be given the volume that is the result";
        for (std::size_t k = 0; k < 3; ++k) {
            expectSlice(
                v, k,
                [&](int i, int j) {
                    return (k == 1 && i == 2 && j == 3 ? c.extreme : 100.0 * double(k) + i - j) +
                           intercept;
                },
                "exact");
        }
        EXPECT_DOUBLE_EQ(c.extreme > 0 ? v.statistics.max : v.statistics.min,
                         c.extreme + intercept);
    }
}

TEST(SeriesLoaderValues, Monochrome1KeepsValuesAndSaysSo) {
    SyntheticImage image;
    image.modality = "CR";
    image.sopClassUid = UID_ComputedRadiographyImageStorage;
    image.photometric = "MONOCHROME1";
    image.pixelRepresentation = 0;
    image.bitsStored = 12;
    image.highBit = 11;
    std::vector<std::uint16_t> stored(64);
    for (int n = 0; n < 64; ++n) {
        stored[std::size_t(n)] = std::uint16_t(n * 63);
    }
    image.pixels = bytesOf(stored);
    const std::string path = makeTempFolder("load-mono1") + "/cr.dcm";
    writeSynthetic(image, path);
    const SeriesLoadResult result = SeriesLoader().load({path});
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& v = *result.volume;
    EXPECT_EQ(v.photometric, Photometric::Monochrome1);
    expectSlice(
        v, 0, [&](int i, int j) { return double(stored[std::size_t(j * 8 + i)]); },
        "MONOCHROME1 values are not inverted");
}

TEST(SeriesLoaderValues, RgbColourByPlaneComesOutInterleaved) {
    SyntheticImage image;
    image.modality = "OT";
    image.sopClassUid = UID_SecondaryCaptureImageStorage;
    image.samplesPerPixel = 3;
    image.photometric = "RGB";
    image.planarConfiguration = 1;
    image.bitsAllocated = 8;
    image.bitsStored = 8;
    image.highBit = 7;
    image.pixelRepresentation = 0;
    image.rows = 6;
    image.columns = 10;
    const int pixels = 60;
    const auto red = [](int i, int j) {
        return (i * 25) % 256;
    };
    const auto green = [](int i, int j) {
        return (j * 40 + 3) % 256;
    };
    const auto blue = [](int i, int j) {
        return (255 - i * j) % 256;
    };
    std::vector<std::uint8_t> planes(std::size_t(pixels * 3));
    for (int j = 0; j < 6; ++j) {
        for (int i = 0; i < 10; ++i) {
            const int p = j * 10 + i;
            planes[std::size_t(p)] = std::uint8_t(red(i, j));
            planes[std::size_t(pixels + p)] = std::uint8_t(green(i, j));
            planes[std::size_t(2 * pixels + p)] = std::uint8_t(blue(i, j));
        }
    }
    image.pixels = planes;
    const std::string path = makeTempFolder("load-rgb") + "/rgb.dcm";
    writeSynthetic(image, path);
    const SeriesLoadResult result = SeriesLoader().load({path});
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& v = *result.volume;
    EXPECT_EQ(v.photometric, Photometric::Rgb);
    EXPECT_EQ(v.format().components, 3);
    EXPECT_EQ(v.format().component, ComponentType::UInt8);
    ASSERT_EQ(v.size()[0], 10u);
    ASSERT_EQ(v.size()[1], 6u);
    int wrong = 0;
    for (int j = 0; j < 6; ++j) {
        for (int i = 0; i < 10; ++i) {
            const int want[3] = {red(i, j), green(i, j), blue(i, j)};
            for (int c = 0; c < 3; ++c) {
                if (v.value(std::size_t(i), std::size_t(j), 0, c) != want[c] && ++wrong <= 3) {
                    ADD_FAILURE() << "pixel (" << i << "," << j << ") component " << c << " is "
                                  << v.value(std::size_t(i), std::size_t(j), 0, c) << ", expected "
                                  << want[c];
                }
            }
        }
    }
    EXPECT_EQ(wrong, 0);
    // Interleaved in memory: R G B of pixel 0, then of pixel 1.
    const auto* bytes = static_cast<const std::uint8_t*>(v.data());
    EXPECT_EQ(bytes[0], red(0, 0));
    EXPECT_EQ(bytes[1], green(0, 0));
    EXPECT_EQ(bytes[2], blue(0, 0));
    EXPECT_EQ(bytes[3], red(1, 0));
}

TEST(SeriesLoaderValues, YbrFullConvertsToRgb) {
    SyntheticImage image;
    image.modality = "US";
    image.sopClassUid = UID_UltrasoundImageStorage;
    image.samplesPerPixel = 3;
    image.photometric = "YBR_FULL";
    image.planarConfiguration = 0;
    image.bitsAllocated = 8;
    image.bitsStored = 8;
    image.highBit = 7;
    image.pixelRepresentation = 0;
    image.rows = 8;
    image.columns = 8;
    std::vector<std::uint8_t> ybr(64 * 3);
    for (int p = 0; p < 64; ++p) {
        ybr[std::size_t(3 * p)] = std::uint8_t((p * 37 + 20) % 256);      // Y
        ybr[std::size_t(3 * p + 1)] = std::uint8_t((p * 53 + 90) % 256);  // Cb
        ybr[std::size_t(3 * p + 2)] = std::uint8_t((p * 71 + 150) % 256); // Cr
    }
    // Grey (Cb = Cr = 128) must stay grey.
    ybr[0] = 77;
    ybr[1] = 128;
    ybr[2] = 128;
    image.pixels = ybr;
    const std::string path = makeTempFolder("load-ybr") + "/us.dcm";
    writeSynthetic(image, path);
    const SeriesLoadResult result = SeriesLoader().load({path});
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& v = *result.volume;
    EXPECT_EQ(v.photometric, Photometric::Rgb);
    ASSERT_EQ(v.format().components, 3);
    int wrong = 0;
    for (int p = 0; p < 64; ++p) {
        const double y = ybr[std::size_t(3 * p)];
        const double cb = ybr[std::size_t(3 * p + 1)] - 128.0;
        const double cr = ybr[std::size_t(3 * p + 2)] - 128.0;
        const double rgb[3] = {y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb};
        for (int c = 0; c < 3; ++c) {
            const double want = std::clamp(rgb[c], 0.0, 255.0);
            const double got = v.value(std::size_t(p % 8), std::size_t(p / 8), 0, c);
            if (std::abs(got - want) > 1.0 && ++wrong <= 3) {
                ADD_FAILURE() << "pixel " << p << " component " << c << " is " << got
                              << ", formula gives " << want;
            }
        }
    }
    EXPECT_EQ(wrong, 0);
    for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(v.value(0, 0, 0, c), 77.0) << "grey stays grey";
    }
}

// ---- multi-frame --------------------------------------------------------------------------------

TEST(SeriesLoaderMultiFrame, ClassicNmWithSpacingBetweenSlices) {
    SyntheticImage image;
    image.modality = "NM";
    image.sopClassUid = UID_NuclearMedicineImageStorage;
    image.frames = 5;
    image.pixelRepresentation = 0;
    image.position = Vec3{10, 20, 30};
    image.pixelSpacing = std::array<double, 2>{4.0, 4.0};
    image.customize = [](DcmDataset& d) {
        d.putAndInsertString(DCM_SpacingBetweenSlices, "4.5");
    };
    std::vector<std::uint16_t> stored;
    for (int f = 0; f < 5; ++f) {
        for (int p = 0; p < 64; ++p) {
            stored.push_back(std::uint16_t(1000 * f + p));
        }
    }
    image.pixels = bytesOf(stored);
    const std::string path = makeTempFolder("load-nm") + "/nm.dcm";
    writeSynthetic(image, path);
    const SeriesLoadResult result = SeriesLoader().load({path});
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& v = *result.volume;
    ASSERT_EQ(v.size()[2], 5u);
    ASSERT_EQ(v.slicePositions.size(), 5u);
    EXPECT_TRUE(v.geometry.hasPatientGeometry);
    EXPECT_NEAR(v.spacing.z, 4.5, 1e-9);
    expectNear(v.origin, {10, 20, 30}, 1e-9, "origin");
    for (std::size_t f = 0; f < 5; ++f) {
        expectNear(v.slicePositions[f], {10, 20, 30 + 4.5 * double(f)}, 1e-9, "frame position");
        expectSlice(
            v, f, [f](int i, int j) { return 1000.0 * double(f) + j * 8 + i; }, "frame");
    }
}

TEST(SeriesLoaderMultiFrame, EnhancedPerFramePositionsAndRescale) {
    // Four frames written out of position order, each with its own intercept; orientation and
    // pixel spacing shared.
    const std::vector<double> z = {6, 0, 9, 3};
    const std::vector<int> intercept = {-1000, -1024, -500, 0};
    SyntheticImage image;
    image.sopClassUid = UID_EnhancedCTImageStorage;
    image.frames = 4;
    image.position.reset();
    image.orientation.reset();
    image.pixelSpacing.reset();
    image.customize = [z, intercept](DcmDataset& d) {
        DcmItem* shared = nullptr;
        ASSERT_TRUE(
            d.findOrCreateSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0).good());
        DcmItem* orientation = nullptr;
        shared->findOrCreateSequenceItem(DCM_PlaneOrientationSequence, orientation, 0);
        orientation->putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
        DcmItem* measures = nullptr;
        shared->findOrCreateSequenceItem(DCM_PixelMeasuresSequence, measures, 0);
        measures->putAndInsertString(DCM_PixelSpacing, "0.6\\0.7");
        measures->putAndInsertString(DCM_SliceThickness, "3");
        for (std::size_t f = 0; f < z.size(); ++f) {
            DcmItem* frame = nullptr;
            ASSERT_TRUE(
                d.findOrCreateSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frame, -2).good());
            DcmItem* plane = nullptr;
            frame->findOrCreateSequenceItem(DCM_PlanePositionSequence, plane, 0);
            plane->putAndInsertString(DCM_ImagePositionPatient, ds3({-5, 7, z[f]}).c_str());
            DcmItem* transform = nullptr;
            frame->findOrCreateSequenceItem(DCM_PixelValueTransformationSequence, transform, 0);
            transform->putAndInsertString(DCM_RescaleIntercept,
                                          std::to_string(intercept[f]).c_str());
            transform->putAndInsertString(DCM_RescaleSlope, "1");
            transform->putAndInsertString(DCM_RescaleType, "HU");
        }
    };
    std::vector<std::int16_t> stored;
    for (int f = 0; f < 4; ++f) {
        for (int p = 0; p < 64; ++p) {
            stored.push_back(std::int16_t(100 * f + p));
        }
    }
    image.pixels = bytesOf(stored);
    const std::string folder = makeTempFolder("load-enhanced");
    // The functional groups are nested sequences: read by the fast scanner in explicit and
    // implicit VR, by DCMTK in big endian.
    for (const auto& [syntax, name] : {std::pair{EXS_LittleEndianExplicit, "explicit"},
                                       std::pair{EXS_LittleEndianImplicit, "implicit"},
                                       std::pair{EXS_BigEndianExplicit, "big endian"}}) {
        SCOPED_TRACE(name);
        image.transferSyntax = syntax;
        const std::string path = folder + "/" + name + ".dcm";
        writeSynthetic(image, path);
        const SeriesLoadResult result = SeriesLoader().load({path});
        ASSERT_TRUE(result.ok()) << result.error;
        const Volume& v = *result.volume;
        ASSERT_EQ(v.size()[2], 4u);
        EXPECT_DOUBLE_EQ(v.spacing.x, 0.7);
        EXPECT_DOUBLE_EQ(v.spacing.y, 0.6);
        EXPECT_NEAR(v.spacing.z, 3.0, 1e-9);
        expectNear(v.origin, {-5, 7, 0}, 1e-9, "origin");
        EXPECT_EQ(v.units, "HU");
        // Slice k is the frame at z = 3k: frames 1, 3, 0, 2.
        const int frameAt[4] = {1, 3, 0, 2};
        for (std::size_t k = 0; k < 4; ++k) {
            const int f = frameAt[k];
            expectNear(v.slicePositions[k], {-5, 7, 3.0 * double(k)}, 1e-9, "position");
            expectSlice(
                v, k,
                [&](int i, int j) { return 100.0 * f + j * 8 + i + intercept[std::size_t(f)]; },
                "frame " + std::to_string(f) + " with its own intercept");
        }
    }
}

// ---- what does not belong -----------------------------------------------------------------------

TEST(SeriesLoaderProblems, MixedSizesKeepTheMajorityAndNameTheOthers) {
    const std::string folder = makeTempFolder("load-mixed");
    SyntheticImage base;
    base.rows = base.columns = 16;
    base.seriesUid = newUid();
    base.studyUid = newUid();
    auto files = writeSeries(
        folder, 6, 0.0, 2.5, [](int i, int j, int k) { return std::int16_t(sliceCode(i, j, k)); },
        base);
    std::vector<std::string> small;
    for (int n = 0; n < 2; ++n) {
        SyntheticImage odd = base;
        odd.rows = odd.columns = 8;
        odd.position = Vec3{0, 0, 1.25 + 5.0 * n}; // between the big slices
        small.push_back(folder + "/small" + std::to_string(n));
        writeSynthetic(odd, small.back());
        files.push_back(small.back());
    }
    const SeriesLoadResult result = SeriesLoader().load(files);
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& v = *result.volume;
    EXPECT_EQ(v.size()[0], 16u);
    EXPECT_EQ(v.size()[1], 16u);
    ASSERT_EQ(v.size()[2], 6u);
    EXPECT_FALSE(v.geometry.irregular) << "the small images must not be in the stack";
    for (std::size_t k = 0; k < 6; ++k) {
        expectSlice(
            v, k, [k](int i, int j) { return sliceCode(i, j, int(k)); }, "slice");
    }
    ASSERT_EQ(result.problems.size(), 2u) << problemsText(result);
    for (const auto& path : small) {
        const Problem* p = problemFor(result, path);
        ASSERT_NE(p, nullptr) << path << " not reported\n" << problemsText(result);
        EXPECT_NE(p->reason.find("8 x 8"), std::string::npos) << p->reason;
        EXPECT_NE(p->reason.find("16 x 16"), std::string::npos) << p->reason;
    }
    EXPECT_TRUE(anyContains(v.warnings, "left out")) << joined(v.warnings);
}

TEST(SeriesLoaderProblems, LocalizerWithAnotherOrientationIsLeftOut) {
    const std::string folder = makeTempFolder("load-localizer");
    SyntheticImage base;
    base.seriesUid = newUid();
    base.studyUid = newUid();
    auto files = writeSeries(
        folder, 5, 0.0, 3.0, [](int i, int j, int k) { return std::int16_t(sliceCode(i, j, k)); },
        base);
    SyntheticImage localizer = base;
    localizer.orientation = std::array<double, 6>{0, 1, 0, 0, 0, -1}; // sagittal
    localizer.position = Vec3{0, -50, 60};
    localizer.instanceNumber = 1;
    const std::string scout = folder + "/scout";
    writeSynthetic(localizer, scout);
    files.insert(files.begin(), scout);
    const SeriesLoadResult result = SeriesLoader().load(files);
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& v = *result.volume;
    ASSERT_EQ(v.size()[2], 5u);
    expectNear(v.direction.k, {0, 0, 1}, 1e-12, "axial stack");
    for (std::size_t k = 0; k < 5; ++k) {
        expectSlice(
            v, k, [k](int i, int j) { return sliceCode(i, j, int(k)); }, "slice");
    }
    ASSERT_EQ(result.problems.size(), 1u) << problemsText(result);
    EXPECT_EQ(result.problems[0].path, scout);
    EXPECT_NE(result.problems[0].reason.find("orientation"), std::string::npos)
        << result.problems[0].reason;
}

TEST(SeriesLoaderProblems, AbsurdSizeIsRefusedBeforeAllocating) {
    const std::string folder = makeTempFolder("load-absurd");
    SyntheticImage image;
    image.rows = 65535;
    image.columns = 65535;
    image.frames = 100000;
    image.pixels.assign(16, 0x11); // a tiny pixel data element
    const std::string path = folder + "/absurd.dcm";
    writeSynthetic(image, path);
    ASSERT_LT(fs::file_size(path), 4096u);
    const SeriesLoadResult result = SeriesLoader().load({path});
    EXPECT_FALSE(result.ok());
    EXPECT_NE(result.error.find("refused"), std::string::npos) << result.error;
    EXPECT_NE(result.error.find("65535 x 65535"), std::string::npos) << result.error;

    // Plausible size, pixel data far too short: refused too, naming PixelData.
    SyntheticImage short_ = image;
    short_.rows = 512;
    short_.columns = 512;
    short_.frames = 300;
    const std::string shortPath = folder + "/short.dcm";
    writeSynthetic(short_, shortPath);
    const SeriesLoadResult shortResult = SeriesLoader().load({shortPath});
    EXPECT_FALSE(shortResult.ok());
    EXPECT_NE(shortResult.error.find("PixelData"), std::string::npos) << shortResult.error;
}

TEST(SeriesLoaderProblems, MissingPixelDataIsNamed) {
    SyntheticImage image;
    image.omitPixelData = true;
    const std::string path = makeTempFolder("load-nopixels") + "/nopixels.dcm";
    writeSynthetic(image, path);
    const SeriesLoadResult result = SeriesLoader().load({path});
    EXPECT_FALSE(result.ok());
    EXPECT_NE(result.error.find("pixel data"), std::string::npos) << result.error;
}

TEST(SeriesLoaderProblems, EmptyAndNonDicomFilesAmongGoodSlices) {
    const std::string folder = makeTempFolder("load-bad-files");
    auto files = writeSeries(folder, 5, 0.0, 2.0,
                             [](int i, int j, int k) { return std::int16_t(sliceCode(i, j, k)); });
    const std::string empty = folder + "/empty";
    std::ofstream(empty).close();
    const std::string text = folder + "/readme.txt";
    std::ofstream(text) << "This CD contains images for referring physicians.\n";
    files.insert(files.begin() + 2, empty);
    files.push_back(text);
    const SeriesLoadResult result = SeriesLoader().load(files);
    ASSERT_TRUE(result.ok()) << result.error;
    const Volume& v = *result.volume;
    ASSERT_EQ(v.size()[2], 5u);
    for (std::size_t k = 0; k < 5; ++k) {
        expectSlice(
            v, k, [k](int i, int j) { return sliceCode(i, j, int(k)); }, "slice");
    }
    ASSERT_EQ(result.problems.size(), 2u) << problemsText(result);
    const Problem* e = problemFor(result, empty);
    ASSERT_NE(e, nullptr);
    EXPECT_NE(e->reason.find("empty"), std::string::npos) << e->reason;
    const Problem* t = problemFor(result, text);
    ASSERT_NE(t, nullptr);
    EXPECT_NE(t->reason.find("not a DICOM"), std::string::npos) << t->reason;
    EXPECT_FALSE(v.geometry.irregular);
}

// ---- progressive loading and cancel -------------------------------------------------------------

namespace {

/// Records what the loader tells it, checking that a slice announced as decoded holds its
/// final values at that moment.
class RecordingObserver : public SeriesLoadObserver {
public:
    explicit RecordingObserver(std::function<double(int, int, int)> expected = nullptr,
                               int cancelAtProgressCall = -1)
        : m_expected(std::move(expected))
        , m_cancelAt(cancelAtProgressCall) {}

    void volumeStarted(const std::shared_ptr<const Volume>& volume) override {
        std::lock_guard<std::mutex> lock(mutex);
        events.push_back("started");
        this->volume = volume;
    }
    void sliceDecoded(std::size_t k) override {
        std::lock_guard<std::mutex> lock(mutex);
        events.push_back("slice " + std::to_string(k));
        decoded.push_back(k);
        if (m_expected && volume) {
            for (std::size_t j = 0; j < volume->size()[1]; ++j) {
                for (std::size_t i = 0; i < volume->size()[0]; ++i) {
                    if (volume->value(i, j, k) != m_expected(int(i), int(j), int(k))) {
                        ++notFinal;
                    }
                }
            }
        }
    }
    bool progress(double fraction) override {
        std::lock_guard<std::mutex> lock(mutex);
        fractions.push_back(fraction);
        return m_cancelAt < 0 || int(fractions.size()) < m_cancelAt;
    }

    std::mutex mutex;
    std::vector<std::string> events;
    std::vector<std::size_t> decoded;
    std::vector<double> fractions;
    std::shared_ptr<const Volume> volume;
    int notFinal = 0;

private:
    std::function<double(int, int, int)> m_expected;
    int m_cancelAt;
};

} // namespace

TEST(SeriesLoaderProgress, MiddleSliceFirstAndVolumeStartedBeforeAnySlice) {
    const std::string folder = makeTempFolder("load-middle");
    const auto files = writeSeries(
        folder, 9, 0.0, 1.0, [](int i, int j, int k) { return std::int16_t(sliceCode(i, j, k)); });
    for (int threads : {1, 0}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        SeriesLoadOptions options;
        options.threads = threads;
        RecordingObserver observer([](int i, int j, int k) { return double(sliceCode(i, j, k)); });
        const SeriesLoadResult result = SeriesLoader(options).load(files, &observer);
        ASSERT_TRUE(result.ok()) << result.error;
        ASSERT_FALSE(observer.events.empty());
        EXPECT_EQ(observer.events.front(), "started");
        EXPECT_EQ(std::count(observer.events.begin(), observer.events.end(), "started"), 1);
        EXPECT_EQ(observer.volume.get(), result.volume.get())
            << "the volume announced is the result";
        ASSERT_EQ(observer.decoded.size(), 9u);
        if (threads == 1) {
            EXPECT_EQ(observer.decoded.front(), 4u) << "the middle slice (depth / 2) first";
        } else {
            // With several threads the first decoded is among the first slices handed out.
            EXPECT_LE(std::abs(int(observer.decoded.front()) - 4), 1);
        }
        std::vector<std::size_t> sorted = observer.decoded;
        std::sort(sorted.begin(), sorted.end());
        for (std::size_t k = 0; k < 9; ++k) {
            EXPECT_EQ(sorted[k], k) << "each slice decoded exactly once";
        }
        EXPECT_EQ(observer.notFinal, 0) << "slices announced before their values were final";
        ASSERT_FALSE(observer.fractions.empty());
        EXPECT_DOUBLE_EQ(observer.fractions.back(), 1.0);
        EXPECT_TRUE(std::is_sorted(observer.fractions.begin(), observer.fractions.end()));
        EXPECT_GT(result.timing.total, 0.0);
        EXPECT_LE(result.timing.headers, result.timing.firstSlice);
        EXPECT_LE(result.timing.firstSlice, result.timing.total);
    }
}

TEST(SeriesLoaderProgress, CancelGivesNoVolume) {
    const std::string folder = makeTempFolder("load-cancel");
    const auto files =
        writeSeries(folder, 12, 0.0, 1.0, [](int i, int j, int k) { return std::int16_t(k); });
    for (int cancelAt : {1, 2}) {
        SCOPED_TRACE("cancel at progress call " + std::to_string(cancelAt));
        SeriesLoadOptions options;
        options.threads = 1;
        RecordingObserver observer(nullptr, cancelAt);
        const SeriesLoadResult result = SeriesLoader(options).load(files, &observer);
        EXPECT_TRUE(result.cancelled);
        EXPECT_FALSE(result.ok());
        EXPECT_EQ(result.volume, nullptr);
        EXPECT_LT(observer.decoded.size(), 12u) << "decoding went on after Cancel";
        EXPECT_EQ(int(observer.fractions.size()), cancelAt) << "progress asked again after Cancel";
    }
}

// ---- regressions from review: what earlier versions got wrong -----------------------------------

TEST(SeriesLoaderRegression, OrientationFloatNoiseDoesNotSplitASeries) {
    // Scanners write cosines with float noise; values either side of a rounding boundary
    // (0.86650001 / 0.86649999) once put half the slices in another group.
    const std::string folder = makeTempFolder("noise");
    const double c = 0.8665, s = std::sqrt(1.0 - c * c);
    std::vector<std::string> files;
    for (int k = 0; k < 10; ++k) {
        const double wobble = (k % 2 ? 1e-8 : -1e-8);
        SyntheticImage image;
        image.studyUid = "1.2.3.4";
        image.seriesUid = "1.2.3.4.5";
        image.orientation = std::array<double, 6>{c + wobble, s, 0, -s, c, 0};
        image.position = Vec3{0, 0, 2.0 * k};
        image.instanceNumber = k + 1;
        files.push_back(folder + "/s" + std::to_string(k));
        writeSynthetic(image, files.back());
    }
    const SeriesLoadResult result = SeriesLoader().load(files);
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.volume->size()[2], 10u) << problemsText(result);
    EXPECT_NEAR(result.volume->spacing.z, 2.0, 1e-6);
    EXPECT_TRUE(result.problems.empty()) << problemsText(result);
}

TEST(SeriesLoaderRegression, SlicesWithAnotherPixelSpacingAreLeftOutWithAReason) {
    const std::string folder = makeTempFolder("spacing");
    std::vector<std::string> files;
    for (int k = 0; k < 6; ++k) {
        SyntheticImage image;
        image.studyUid = "1.2.3.4";
        image.seriesUid = "1.2.3.4.6";
        image.position = Vec3{0, 0, double(k)};
        image.pixelSpacing = std::array<double, 2>{k < 4 ? 0.5 : 0.9, k < 4 ? 0.5 : 0.9};
        files.push_back(folder + "/s" + std::to_string(k));
        writeSynthetic(image, files.back());
    }
    const SeriesLoadResult result = SeriesLoader().load(files);
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.volume->size()[2], 4u);
    EXPECT_DOUBLE_EQ(result.volume->spacing.x, 0.5);
    ASSERT_EQ(result.problems.size(), 2u) << problemsText(result);
    EXPECT_NE(result.problems[0].reason.find("pixel spacing"), std::string::npos);
}

TEST(SeriesLoaderRegression, RadiographViewsAreNeverStacked) {
    // A PA and a lateral view in one DX series: each is its own image; by default the first is
    // shown and a warning counts them; `instance` picks the other.
    const std::string folder = makeTempFolder("views");
    std::vector<std::string> files;
    for (int k = 0; k < 2; ++k) {
        SyntheticImage image;
        image.modality = "DX";
        image.sopClassUid = UID_DigitalXRayImageStorageForPresentation;
        image.studyUid = "1.2.3.4";
        image.seriesUid = "1.2.3.4.7";
        image.position.reset();
        image.orientation.reset();
        image.rows = 8 + 8 * k; // different sizes, as real views often are
        image.instanceNumber = k + 1;
        image.pixelRepresentation = 0;
        image.customize = [k](DcmDataset& d) {
            d.putAndInsertString(DCM_PatientOrientation, k == 0 ? "L\\F" : "P\\F");
        };
        std::vector<std::uint16_t> values(std::size_t(image.rows * image.columns),
                                          std::uint16_t(100 + k));
        image.pixels = bytesOf(values);
        files.push_back(folder + "/view" + std::to_string(k));
        writeSynthetic(image, files.back());
    }
    const SeriesLoadResult first = SeriesLoader().load(files);
    ASSERT_TRUE(first.ok()) << first.error;
    EXPECT_EQ(first.volume->size()[2], 1u);
    EXPECT_EQ(first.volume->value(0, 0, 0), 100.0);
    EXPECT_TRUE(anyContains(first.volume->warnings, "2 projection images"))
        << joined(first.volume->warnings);
    EXPECT_TRUE(first.problems.empty()) << problemsText(first);
    SeriesLoadOptions options;
    options.instance = 1;
    const SeriesLoadResult second = SeriesLoader(options).load(files);
    ASSERT_TRUE(second.ok()) << second.error;
    EXPECT_EQ(second.volume->size()[1], 16u);
    EXPECT_EQ(second.volume->value(0, 0, 0), 101.0);
    EXPECT_NEAR(second.volume->direction.i.y, 1.0, 1e-12); // P: the lateral view's rows
    options.instance = 2;
    const SeriesLoadResult none = SeriesLoader(options).load(files);
    EXPECT_FALSE(none.ok());
    EXPECT_NE(none.error.find("no image 3"), std::string::npos) << none.error;
}

TEST(SeriesLoaderRegression, CineFramesGetNoInventedPositions) {
    // 20 frames of one slice in time (FrameIncrementPointer -> FrameTime): not a 3D stack.
    SyntheticImage image;
    image.modality = "MR";
    image.sopClassUid = UID_MRImageStorage;
    image.frames = 20;
    image.sliceThickness = 8.0;
    image.customize = [](DcmDataset& d) {
        d.putAndInsertTagKey(DCM_FrameIncrementPointer, DCM_FrameTime);
        d.putAndInsertString(DCM_FrameTime, "33.3");
    };
    const std::string path = makeTempFolder("cine") + "/cine.dcm";
    writeSynthetic(image, path);
    const SeriesLoadResult result = SeriesLoader().load({path});
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.volume->size()[2], 20u);
    EXPECT_TRUE(result.volume->slicePositions.empty());
    EXPECT_FALSE(result.volume->geometry.hasPatientGeometry);
    EXPECT_TRUE(anyContains(result.volume->warnings, "time points"))
        << joined(result.volume->warnings);
}

TEST(SeriesLoaderRegression, NotANumberInAPositionIsRefusedAndNamed) {
    const std::string folder = makeTempFolder("nan");
    std::vector<std::string> files;
    for (int k = 0; k < 3; ++k) {
        SyntheticImage image;
        image.studyUid = "1.2.3.4";
        image.seriesUid = "1.2.3.4.8";
        image.position = Vec3{0, 0, double(k)};
        if (k == 1) {
            image.customize = [](DcmDataset& d) {
                d.putAndInsertString(DCM_ImagePositionPatient, "0\\0\\nan");
            };
        }
        files.push_back(folder + "/s" + std::to_string(k));
        writeSynthetic(image, files.back());
    }
    const SeriesLoadResult result = SeriesLoader().load(files);
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.volume->size()[2], 2u);
    EXPECT_TRUE(std::isfinite(result.volume->spacing.z));
    const Problem* bad = problemFor(result, files[1]);
    ASSERT_NE(bad, nullptr) << problemsText(result);
    EXPECT_NE(bad->reason.find("ImagePositionPatient"), std::string::npos) << bad->reason;
}

namespace {

/// Records which slices were announced decoded and which failed.
class FailureObserver : public SeriesLoadObserver {
public:
    void sliceDecoded(std::size_t k) override {
        std::lock_guard<std::mutex> lock(m_mutex);
        decoded.push_back(k);
    }
    void sliceFailed(std::size_t k, const std::string& reason) override {
        std::lock_guard<std::mutex> lock(m_mutex);
        failed.emplace_back(k, reason);
    }
    std::vector<std::size_t> decoded;
    std::vector<std::pair<std::size_t, std::string>> failed;

private:
    std::mutex m_mutex;
};

} // namespace

TEST(SeriesLoaderRegression, ASliceThatCannotBeDecodedIsNeverAnnouncedAsAnImage) {
    // Slice 1 of 3 is RLE with a destroyed header: its decode fails after the header was read.
    const std::string folder = makeTempFolder("corrupt");
    const auto files = writeSeries(folder, 3, 0.0, 1.0,
                                   [](int i, int j, int k) { return std::int16_t(100 * k + i); });
    {
        DcmRLEEncoderRegistration::registerCodecs();
        DcmFileFormat file;
        ASSERT_TRUE(file.loadFile(files[1].c_str()).good());
        ASSERT_TRUE(file.getDataset()->chooseRepresentation(EXS_RLELossless, nullptr).good());
        ASSERT_TRUE(file.saveFile(files[1].c_str(), EXS_RLELossless).good());
        DcmRLEEncoderRegistration::cleanup();
    }
    // Overwrite the RLE segment table (just after the first fragment's item header) with junk.
    std::fstream raw(files[1], std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(raw)), std::istreambuf_iterator<char>());
    const std::size_t fragment = bytes.rfind(std::string("\xFE\xFF\x00\xE0", 4));
    ASSERT_NE(fragment, std::string::npos);
    raw.seekp(std::streamoff(fragment + 8));
    const std::string junk(64, '\x7F');
    raw.write(junk.data(), std::streamsize(junk.size()));
    raw.close();

    FailureObserver observer;
    const SeriesLoadResult result = SeriesLoader().load(files, &observer);
    ASSERT_TRUE(result.ok()) << result.error;
    ASSERT_EQ(result.volume->size()[2], 3u);
    ASSERT_EQ(observer.failed.size(), 1u);
    EXPECT_EQ(observer.failed.front().first, 1u);
    EXPECT_EQ(std::count(observer.decoded.begin(), observer.decoded.end(), 1u), 0)
        << "the failed slice was announced as decoded";
    EXPECT_EQ(observer.decoded.size(), 2u);
    EXPECT_NE(problemFor(result, files[1]), nullptr) << problemsText(result);
    EXPECT_TRUE(anyContains(result.volume->warnings, "could not be decoded"));
    // The failed slice shows the darkest value, not zeros.
    EXPECT_EQ(result.volume->value(3, 3, 1), result.volume->statistics.min);
}

// ---- resource limits (issue 9) ------------------------------------------------------------------

TEST(SeriesLoaderLimits, ASeriesLargerThanTheMemoryThereIsIsRefusedBeforeAllocating) {
    const std::string folder = makeTempFolder("limits-memory");
    const auto files = writeSeries(folder, 6, 0.0, 1.0, [](int, int, int) { return 10; });
    SeriesLoadOptions options;
    options.memoryLimitBytes = 1000; // the 8 x 8 x 6 series needs more as 32-bit values
    const SeriesLoadResult refused = SeriesLoader(options).load(files);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error.find("of memory but only 1 kB can be used now; it was not loaded"),
              std::string::npos)
        << refused.error;
    EXPECT_TRUE(SeriesLoader().load(files).ok()) << "the default limit is the machine's memory";
}

TEST(SeriesLoaderLimits, HeadersDeclaringMoreThanTheMachineHasAreRefusedNotAllocated) {
    // One file declaring 60,000 x 60,000 pixels x 400 frames (5.8 TB as 16 bits), 128 bytes
    // present: refused by the file's own limit.
    const std::string folder = makeTempFolder("limits-huge");
    SyntheticImage image;
    image.pixels.assign(8 * 8 * 2, 0);
    image.customize = [](DcmDataset& data) {
        data.putAndInsertUint16(DCM_Rows, 60000);
        data.putAndInsertUint16(DCM_Columns, 60000);
        data.putAndInsertString(DCM_NumberOfFrames, "400");
    };
    writeSynthetic(image, folder + "/huge.dcm");
    const SeriesLoadResult one = SeriesLoader().load({folder + "/huge.dcm"});
    ASSERT_FALSE(one.ok());
    EXPECT_NE(one.error.find("huge.dcm"), std::string::npos) << one.error;
    EXPECT_NE(one.error.find("refused before allocating"), std::string::npos) << one.error;

    // 300 JPEG files each declaring 16,384 x 16,384 (legal on its own; the compressed data are a
    // few bytes): together 322 GB as 32-bit values, more than any workstation has. Refused by
    // the series' limit, naming the need, before anything is decoded.
    std::vector<std::string> files;
    for (int k = 0; k < 300; ++k) {
        SyntheticImage slice;
        slice.pixels.assign(8 * 8 * 2, 0);
        slice.studyUid = "1.2.826.0.1.3680043.9.9.1";
        slice.seriesUid = "1.2.826.0.1.3680043.9.9.2";
        slice.instanceNumber = k + 1;
        slice.position = Vec3{0, 0, double(k)};
        slice.bitsAllocated = 8;
        slice.bitsStored = 8;
        slice.highBit = 7;
        slice.pixelRepresentation = 0;
        slice.pixels.assign(8 * 8, 0);
        slice.transferSyntax = EXS_JPEGProcess1;
        slice.customize = [](DcmDataset& data) {
            data.putAndInsertUint16(DCM_Rows, 16384);
            data.putAndInsertUint16(DCM_Columns, 16384);
            // One fragment of made-up JPEG bytes in place of the native pixels.
            auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
            sequence->insert(new DcmPixelItem(DCM_PixelItemTag)); // empty offset table
            auto* fragment = new DcmPixelItem(DCM_PixelItemTag);
            const Uint8 bytes[16] = {0xFF, 0xD8, 0xFF, 0xDB, 0, 4, 0,    0,
                                     0,    0,    0,    0,    0, 0, 0xFF, 0xD9};
            fragment->putUint8Array(bytes, sizeof bytes);
            sequence->insert(fragment);
            auto* pixels = new DcmPixelData(DCM_PixelData);
            pixels->putOriginalRepresentation(EXS_JPEGProcess1, nullptr, sequence);
            data.insert(pixels, true);
        };
        files.push_back(folder + "/big" + std::to_string(k) + ".dcm");
        writeSynthetic(slice, files.back());
    }
    const SeriesLoadResult many = SeriesLoader().load(files);
    ASSERT_FALSE(many.ok());
    EXPECT_NE(many.error.find("of memory but only"), std::string::npos) << many.error;
}

TEST(SeriesLoaderLimits, FramesPastTheTimeBudgetOfTheirFileAreRefusedWithTheReason) {
    const std::string folder = makeTempFolder("limits-time");
    const auto files = writeSeries(folder, 4, 0.0, 1.0, [](int, int, int) { return 10; });
    SeriesLoadOptions options;
    options.fileTimeBudgetSeconds = 1e-9; // every decode takes longer
    const SeriesLoadResult result = SeriesLoader(options).load(files);
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.error.find("decoding took longer than the budget of 0 s per file"),
              std::string::npos)
        << result.error;
}
