// The plain C++ side of the ML layer: JSON, SHA-256, model cards, .npz datasets and metrics.

#include "core/domain/JsonValue.h"
#include "core/domain/ModelCard.h"
#include "core/domain/Sha256.h"
#include "core/ml/ImageDataset.h"
#include "core/ml/Metrics.h"
#include "core/ml/NpyArchive.h"

#include "tests/common/Scratch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

using test::scratch;

std::string thrownMessage(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(nothing thrown)";
}

ModelCard sampleCard() {
    ModelCard card;
    card.id = "pneumonia";
    card.version = "3";
    card.architecture = "resnet18";
    card.stem = "small";
    card.task = "binary";
    card.classNames = {"normal", "pneumonia"};
    card.input.modalities = {"CR", "DX"};
    card.input.size = 28;
    card.input.mean = 0.57;
    card.input.std = 0.17;
    card.temperature = 1.25;
    card.training["dataset"] = "pneumoniamnist.npz";
    card.metrics["validation"] = {0.98, 0.93, 0.95, 0.88, 0.02, 524};
    card.weightsSha256 = std::string(64, 'a');
    card.parentVersion = "2";
    return card;
}

} // namespace

TEST(Json, ParsesNestedValuesAndEscapes) {
    const JsonValue v = JsonValue::parse(
        R"({"a": [1, -2.5e2, true, null], "b": {"c": "x\"y\u00e9\ud83d\ude00"}, "a2": false})");
    ASSERT_TRUE(v.isObject());
    const JsonValue* a = v.find("a");
    ASSERT_NE(a, nullptr);
    ASSERT_EQ(a->items().size(), 4u);
    EXPECT_EQ(a->items()[1].asNumber(), -250.0);
    EXPECT_TRUE(a->items()[2].asBool());
    EXPECT_TRUE(a->items()[3].isNull());
    EXPECT_EQ(v.find("b")->find("c")->asString(), "x\"y\xc3\xa9\xf0\x9f\x98\x80");
    EXPECT_EQ(v.find("missing"), nullptr);
}

TEST(Json, ReportsTheLineAndColumnOfAnError) {
    EXPECT_EQ(thrownMessage([] { JsonValue::parse("{\n  \"a\": tru\n}"); }),
              "JSON error at line 2, column 8: unexpected character 't'");
    EXPECT_NE(thrownMessage([] { JsonValue::parse("[1, 2"); }).find("expected ',' or ']'"),
              std::string::npos);
    EXPECT_NE(thrownMessage([] { JsonValue::parse("{} x"); }).find("after the document"),
              std::string::npos);
}

TEST(Sha256, MatchesTheStandardTestVectors) {
    Sha256 empty;
    EXPECT_EQ(empty.hexDigest(),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    Sha256 abc;
    abc.update("abc", 3);
    EXPECT_EQ(abc.hexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // 1,000,000 x 'a' in uneven pieces (FIPS 180-2 appendix B.3).
    Sha256 million;
    const std::string chunk(997, 'a');
    std::size_t left = 1000000;
    while (left > 0) {
        const std::size_t n = std::min(left, chunk.size());
        million.update(chunk.data(), n);
        left -= n;
    }
    EXPECT_EQ(million.hexDigest(),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(ModelCard, RoundTripsThroughJson) {
    const ModelCard card = sampleCard();
    const ModelCard back = ModelCard::fromJson(card.toJson());
    EXPECT_EQ(back.id, "pneumonia");
    EXPECT_EQ(back.version, "3");
    EXPECT_EQ(back.classNames, card.classNames);
    EXPECT_EQ(back.input.modalities, card.input.modalities);
    EXPECT_DOUBLE_EQ(back.input.mean, 0.57);
    EXPECT_DOUBLE_EQ(back.temperature, 1.25);
    EXPECT_EQ(back.training.at("dataset"), "pneumoniamnist.npz");
    EXPECT_DOUBLE_EQ(back.metrics.at("validation").auc, 0.98);
    EXPECT_EQ(back.metrics.at("validation").n, 524u);
    EXPECT_EQ(back.weightsSha256, card.weightsSha256);
    EXPECT_EQ(back.parentVersion, "2");
}

TEST(ModelCard, NamesTheFieldThatIsMissingOrWrong) {
    std::string json = sampleCard().toJson();
    const auto without = [](std::string text, const std::string& field) {
        const std::size_t at = text.find("\"" + field + "\"");
        const std::size_t end = text.find('\n', at);
        return text.erase(at, end - at + 1);
    };
    EXPECT_EQ(thrownMessage([&] { ModelCard::fromJson(without(json, "architecture")); }),
              "model card: 'architecture' is missing");
    EXPECT_EQ(thrownMessage([&] { ModelCard::fromJson(without(json, "size")); }),
              "model card: 'input.size' is missing");
    std::string bad = json;
    bad.replace(bad.find("\"binary\""), 8, "\"regression\"");
    EXPECT_NE(thrownMessage([&] { ModelCard::fromJson(bad); }).find("'task' is 'regression'"),
              std::string::npos);
    const fs::path dir = scratch("card-missing");
    EXPECT_NE(
        thrownMessage([&] { ModelCard::read(dir.string()); }).find("card.json: cannot be read"),
        std::string::npos);
    sampleCard().write(dir.string());
    EXPECT_EQ(ModelCard::read(dir.string()).id, "pneumonia");
}

TEST(Metrics, AucCountsTiesHalfAndEceMeasuresOverconfidence) {
    EXPECT_DOUBLE_EQ(rocAuc({0.1, 0.4, 0.35, 0.8}, {false, false, true, true}), 0.75);
    EXPECT_DOUBLE_EQ(rocAuc({0.5, 0.5}, {false, true}), 0.5);
    EXPECT_TRUE(std::isnan(rocAuc({0.1, 0.2}, {true, true})));
    // Always 90% sure, right half of the time: ECE 0.4.
    EXPECT_NEAR(expectedCalibrationError({0.9, 0.9, 0.9, 0.9}, {true, false, true, false}), 0.4,
                1e-12);
    // Binary: p(positive) with threshold 0.5.
    const ModelMetrics m =
        classificationMetrics({0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.3, 0.7}, 2, {1, 0, 0, 1});
    EXPECT_DOUBLE_EQ(m.accuracy, 0.5); // predictions 0, 1, 0, 1: FN, FP, TN, TP
    EXPECT_DOUBLE_EQ(m.sensitivity, 0.5);
    EXPECT_DOUBLE_EQ(m.specificity, 0.5);
    EXPECT_DOUBLE_EQ(m.auc, 0.25); // positives 0.1, 0.7 against negatives 0.8, 0.4
    EXPECT_EQ(m.n, 4u);
}

TEST(Metrics, MultiLabelMetricsScoreEachFindingOnItsOwn) {
    // Three images, two findings. Finding 0 is ranked and decided perfectly; finding 1 is
    // ranked backwards (AUC 0) and every decision on it is wrong: 3 of 6 decisions right.
    const std::vector<double> p = {0.9, 0.2, 0.1, 0.7, 0.8, 0.6};
    const std::vector<int> labels = {1, 1, 0, 0, 1, 0};
    const ModelMetrics m = multiLabelMetrics(p, 2, labels);
    EXPECT_EQ(m.n, 3U);
    EXPECT_DOUBLE_EQ(m.auc, (1.0 + 0.0) / 2.0);
    EXPECT_DOUBLE_EQ(m.accuracy, 3.0 / 6.0);
    // Finding 0: sensitivity 2/2, specificity 1/1; finding 1: 0/1 and 0/2.
    EXPECT_DOUBLE_EQ(m.sensitivity, 0.5);
    EXPECT_DOUBLE_EQ(m.specificity, 0.5);
    EXPECT_EQ(metricsForTask("multi-label", p, 2, labels).auc, m.auc);
    EXPECT_THROW(multiLabelMetrics(p, 4, labels), std::invalid_argument);
}

TEST(Npz, ReadsPneumoniaMnistWithItsSplitsApart) {
    const fs::path file = fs::path(RADIOLENS_DATA_DIR) / "medmnist" / "pneumoniamnist.npz";
    if (!fs::is_regular_file(file)) {
        GTEST_SKIP() << "shared data not found at " << file
                     << " (set RADIOLENS_DATA_DIR to the ../shared/data folder; issue 5)";
    }
    const ImageDataset data = loadMedMnist(file.string());
    EXPECT_EQ(data.task, "binary");
    EXPECT_EQ(data.classNames, (std::vector<std::string>{"normal", "pneumonia"}));
    EXPECT_EQ(data.train.count, 4708u);
    EXPECT_EQ(data.validation.count, 524u);
    EXPECT_EQ(data.test.count, 624u);
    EXPECT_EQ(data.train.width, 28u);
    EXPECT_EQ(data.train.pixels.size(), 4708u * 28 * 28);
    std::size_t positives = 0;
    for (int label : data.test.labels) {
        positives += label == 1 ? 1 : 0;
    }
    EXPECT_EQ(positives, 390u); // the official test set: 234 normal, 390 pneumonia

    // A truncated copy: the reason names the file.
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const fs::path cut = scratch("npz") / "cut.npz";
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    const std::string why = thrownMessage([&] { loadMedMnist(cut.string()); });
    EXPECT_NE(why.find(cut.string()), std::string::npos) << why;
    EXPECT_NE(why.find("truncated"), std::string::npos) << why;
}

TEST(Npy, RefusesWhatItCannotReadWithTheReason) {
    const auto npy = [](const std::string& header, std::size_t dataBytes) {
        std::string h = header;
        while ((10 + h.size() + 1) % 64 != 0) {
            h += ' ';
        }
        h += '\n';
        std::vector<std::uint8_t> out = {0x93,
                                         'N',
                                         'U',
                                         'M',
                                         'P',
                                         'Y',
                                         1,
                                         0,
                                         std::uint8_t(h.size() & 0xff),
                                         std::uint8_t(h.size() >> 8)};
        out.insert(out.end(), h.begin(), h.end());
        out.resize(out.size() + dataBytes, 7);
        return out;
    };
    const NpyArray ok =
        parseNpy(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", 6), "a");
    EXPECT_EQ(ok.shape, (std::vector<std::size_t>{2, 3}));
    EXPECT_EQ(ok.at(5), 7.0);
    EXPECT_NE(thrownMessage([&] {
                  parseNpy(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", 5),
                           "a.npy");
              }).find("a.npy: truncated"),
              std::string::npos);
    EXPECT_NE(thrownMessage([&] {
                  parseNpy(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4),
                           "b.npy");
              }).find("big-endian"),
              std::string::npos);
    EXPECT_NE(thrownMessage([&] {
                  parseNpy(npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8),
                           "c.npy");
              }).find("unsupported element type"),
              std::string::npos);
    EXPECT_NE(thrownMessage([&] {
                  parseNpy({1, 2, 3}, "d.npy");
              }).find("not a NumPy"),
              std::string::npos);
}
