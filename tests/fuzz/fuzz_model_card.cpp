// libFuzzer harness: a model card (card.json) read by ModelCard::fromJson, as loading a model
// package or the registry does, through the project's JSON parser (JsonValue, JsonFields).
//
// Promises checked besides the sanitizers': a card that cannot be used is a std::runtime_error
// with a message naming the field; a card that was accepted is written back (toJson) and that
// text is accepted again with the fields that decide how the model runs.

#include "core/domain/ModelCard.h"

#include "tests/fuzz/FuzzInput.h"

#include <cstdint>
#include <stdexcept>

using namespace radiolens;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    ModelCard card;
    try {
        card = ModelCard::fromJson(text);
    } catch (const std::runtime_error& e) {
        if (std::string(e.what()).empty()) {
            fuzz::finding("a card refused without a reason");
        }
        return 0;
    }
    const std::string written = card.toJson();
    try {
        const ModelCard again = ModelCard::fromJson(written);
        // Text fields may come back re-encoded (bytes that are not UTF-8 are written as
        // Latin-1 characters); what decides how the model runs must come back as it was.
        if (again.task != card.task || again.format != card.format ||
            again.classNames.size() != card.classNames.size() ||
            again.input.size != card.input.size || again.input.channels != card.input.channels ||
            again.weightsSha256 != card.weightsSha256) {
            fuzz::finding("a card read back differs from the card written:\n" + written);
        }
    } catch (const std::runtime_error& e) {
        fuzz::finding(std::string("a card that was accepted cannot be read back: ") + e.what() +
                      "\n" + written);
    }
    return 0;
}
