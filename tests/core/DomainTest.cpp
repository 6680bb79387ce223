// Plain value types: JSON output that always parses, anatomical direction letters.

#include "core/domain/Geometry.h"
#include "core/domain/JsonWriter.h"
#include "core/domain/PixelFormat.h"

#include <gtest/gtest.h>

#include <sstream>

using namespace radiolens;

TEST(JsonWriter, EscapesAndRepairsText) {
    EXPECT_EQ(jsonQuote("a\"b\\c\n\t\x01"), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
    EXPECT_EQ(jsonQuote("M\xC3\xBCller"), "\"M\xC3\xBCller\"");       // valid UTF-8 kept
    EXPECT_EQ(jsonQuote("M\xFCller"), "\"M\xEF\xBF\xBDller\"");       // Latin-1 byte replaced
    EXPECT_EQ(jsonQuote("\xE2\x82"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\""); // truncated sequence
}

TEST(JsonWriter, WritesNestedStructures) {
    std::ostringstream out;
    JsonWriter json(out, false);
    json.beginObject();
    json.field("name", "x").field("n", 3).field("ok", true).field("v", std::vector<double>{1.5, 2});
    json.key("list").beginArray().value(1.0 / 0.0).null().endArray();
    json.key("empty").beginObject().endObject();
    json.endObject();
    EXPECT_EQ(out.str(),
              R"({"name":"x","n":3,"ok":true,"v":[1.5,2],"list":[null,null],"empty":{}})");
}

TEST(Geometry, OrientationLettersFollowLps) {
    EXPECT_EQ(orientationLetters({1, 0, 0}), "L");
    EXPECT_EQ(orientationLetters({-1, 0, 0}), "R");
    EXPECT_EQ(orientationLetters({0, -1, 0}), "A");
    EXPECT_EQ(orientationLetters({0, 0, 1}), "H");
    EXPECT_EQ(orientationLetters({0, 0.9483, -0.3173}), "PF");
    EXPECT_EQ(orientationLetters({0, 0.1, -0.995}), "F");
}

TEST(Geometry, PatientOrientationLettersBecomeDirections) {
    Vec3 v;
    ASSERT_TRUE(directionFromLetters("L", v));
    EXPECT_EQ(v, (Vec3{1, 0, 0}));
    ASSERT_TRUE(directionFromLetters("FP", v));
    EXPECT_NEAR(v.z, -std::sqrt(0.5), 1e-12);
    EXPECT_NEAR(v.y, std::sqrt(0.5), 1e-12);
    EXPECT_FALSE(directionFromLetters("", v));
    EXPECT_FALSE(directionFromLetters("LR", v)); // cancels out
    EXPECT_NEAR(angleDegrees({1, 0, 0}, {0, 1, 0}), 90.0, 1e-12);
}

TEST(PixelFormat, SizesAndNames) {
    EXPECT_EQ((PixelFormat{ComponentType::Int16, 1}).bytesPerPixel(), 2u);
    EXPECT_EQ((PixelFormat{ComponentType::UInt8, 3}).bytesPerPixel(), 3u);
    EXPECT_EQ(toString(PixelFormat{ComponentType::UInt16, 3}), "rgb-uint16");
    EXPECT_TRUE((PixelFormat{ComponentType::Float32, 1}).isSigned());
    EXPECT_FALSE((PixelFormat{ComponentType::UInt32, 1}).isSigned());
}
