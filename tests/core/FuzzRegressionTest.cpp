// Inputs other than DICOM that the libFuzzer harnesses (tests/fuzz, issue 9) found crashing,
// reading out of bounds, allocating without bound or hitting undefined behaviour. Each is kept in
// tests/core/hostile (the DICOM ones are checked by HostileFilesTest) and must now be refused
// with a message that names the file or the field, and never take the process down.

#include "core/domain/ForecastCard.h"
#include "core/domain/ModelCard.h"
#include "core/domain/Paths.h"
#include "core/ml/ImageDataset.h"
#include "core/ml/NpyArchive.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

using namespace radiolens;

namespace {

std::string hostile(const std::string& name) {
    return std::string(RADIOLENS_HOSTILE_DIR) + "/" + name;
}

std::vector<std::uint8_t> bytesOf(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The message of the std::runtime_error `read` throws; a failure when it throws nothing or
/// anything else.
std::string refusal(const std::function<void()>& read) {
    try {
        read();
    } catch (const std::runtime_error& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not a std::runtime_error: " << e.what();
        return {};
    }
    ADD_FAILURE() << "accepted";
    return {};
}

struct Case {
    std::string file;
    std::function<void(const std::string&)> read;
    std::vector<std::string> words; ///< each must be in the message
};

const auto kModelCard = [](const std::string& path) {
    ModelCard::fromJson(readTextFile(path));
};
const auto kForecastCard = [](const std::string& path) {
    ForecastCard::fromJson(readTextFile(path));
};

} // namespace

TEST(FuzzRegression, EveryInputIsRefusedWithAReasonNamingTheFieldOrFile) {
    const std::vector<Case> cases = {
        // ASan heap-buffer-overflow in NpyArray::at(): a float16 ('<f2') array was accepted and
        // read as 8-byte doubles.
        {"asan-heap-overflow-NpyArray-at-float16.npy",
         [](const std::string& path) { parseNpy(bytesOf(path), "float16.npy"); },
         {"float16.npy", "unsupported element type <f2"}},
        // libFuzzer out-of-memory: a 1 KB archive whose member claims 4 GiB was allocated before
        // its size was checked.
        {"oom-readNpz-member-size-4GiB.npz",
         [](const std::string& path) { loadMedMnist(path); },
         {"oom-readNpz-member-size-4GiB.npz", "corrupt zip member sizes"}},
        // libFuzzer out-of-memory: a member with an unknown compression method (140) and a
        // size of 1.8 GB was allocated before the method was checked.
        {"oom-readNpz-unsupported-method-1857028096-bytes.npz",
         [](const std::string& path) { loadMedMnist(path); },
         {"oom-readNpz-unsupported-method-1857028096-bytes.npz",
          "unsupported zip compression method"}},
        // UBSan: a label of -inf (float32 labels) converted to int.
        {"ub-loadMedMnist-label-minus-inf-to-int.npz",
         [](const std::string& path) { loadMedMnist(path); },
         {"ub-loadMedMnist-label-minus-inf-to-int.npz", "_labels holds -inf",
          "class labels are whole numbers below 10000"}},
        // UBSan: memcpy from a null pointer for a stored member of 0 bytes (whose CRC is then
        // found wrong).
        {"ub-readNpz-memcpy-null-empty-stored-member.npz",
         [](const std::string& path) { loadMedMnist(path); },
         {"ub-readNpz-memcpy-null-empty-stored-member.npz", "CRC mismatch"}},
        // A card with a non-hex weightsSha256 (a byte that is not UTF-8) was accepted, then
        // written back as a longer text that the same reader refused.
        {"logic-ModelCard-weightsSha256-not-hex.json",
         kModelCard,
         {"'weightsSha256' must be 64 hex digits"}},
        {"logic-ForecastCard-sha256-not-hex.json",
         kForecastCard,
         {"forecast card", "must be 64 hex digits"}},
        // UBSan: "width": 1e99964 parsed as infinity and converted to int (undefined); the
        // same for a finite 1e300 and for a forecast card's hours.
        {"ub-ModelCard-width-1e99964.json", kModelCard, {"number out of range", "line 7"}},
        {"ub-ModelCard-width-1e300.json", kModelCard, {"'width' must be 4 to 512"}},
        {"ub-ForecastCard-hours-1e300.json", kForecastCard, {"'hours' must be 1 to 336"}},
        // A std of 21e3084 (infinity) was accepted and written back as null, which the same
        // reader refused.
        {"logic-ForecastCard-std-21e3084-not-written-back.json",
         kForecastCard,
         {"number out of range '21e3084'"}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.file);
        const auto start = std::chrono::steady_clock::now();
        const std::string message = refusal([&] { c.read(hostile(c.file)); });
        for (const std::string& word : c.words) {
            EXPECT_NE(message.find(word), std::string::npos) << "message: " << message;
        }
        EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                  5.0);
    }
}

TEST(FuzzRegression, CardsAtTheEdgesOfTheirRangesAreAcceptedAndWrittenBack) {
    // The ranges checked before converting numbers include their ends, and what the readers
    // accept is written back readably (as the card harnesses check on every input).
    ModelCard card;
    card.id = "edges";
    card.version = "1";
    card.classNames = {"a", "b"};
    card.width = 512;
    card.input.size = 1024;
    card.input.channels = 3;
    card.metrics["test"].n = 2000000000;
    card.weightsSha256 = std::string(32, 'f') + std::string(32, '0');
    const ModelCard again = ModelCard::fromJson(card.toJson());
    EXPECT_EQ(again.width, 512);
    EXPECT_EQ(again.input.size, 1024);
    EXPECT_EQ(again.metrics.at("test").n, 2000000000u);
    EXPECT_EQ(again.weightsSha256, card.weightsSha256);
    card.width = 4;
    card.input.size = 8;
    EXPECT_EQ(ModelCard::fromJson(card.toJson()).width, 4);
}
