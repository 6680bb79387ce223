// libFuzzer harness: a forecaster's card (forecast.json) read by ForecastCard::fromJson, as
// loading a forecast model does, through the project's JSON parser (JsonValue, JsonFields).
//
// Promises checked besides the sanitizers': a card that cannot be used is a std::runtime_error
// with a message naming the field; a card that was accepted is written back (toJson) and that
// text is accepted again with the same shape.

#include "core/domain/ForecastCard.h"

#include "tests/fuzz/FuzzInput.h"

#include <cstdint>
#include <stdexcept>

using namespace radiolens;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    ForecastCard card;
    try {
        card = ForecastCard::fromJson(text);
    } catch (const std::runtime_error& e) {
        if (std::string(e.what()).empty()) {
            fuzz::finding("a forecast card refused without a reason");
        }
        return 0;
    }
    const std::string written = card.toJson();
    try {
        const ForecastCard again = ForecastCard::fromJson(written);
        // Text fields may come back re-encoded (bytes that are not UTF-8 are written as
        // Latin-1 characters); what decides how the model runs must come back as it was.
        if (again.hours != card.hours || again.members != card.members ||
            again.weightsSha256 != card.weightsSha256 ||
            again.series.size() != card.series.size() ||
            again.calibrationSlope.size() != card.calibrationSlope.size()) {
            fuzz::finding("a forecast card read back differs from the card written:\n" + written);
        }
    } catch (const std::runtime_error& e) {
        fuzz::finding(std::string("a forecast card that was accepted cannot be read back: ") +
                      e.what() + "\n" + written);
    }
    return 0;
}
