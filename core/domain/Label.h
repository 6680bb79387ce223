#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace radiolens {

/// What a label is about: one image (a SOP instance), a whole series or a whole study.
enum class LabelLevel { Image, Series, Study };

/// Who said it: a person, or a model's suggestion (with the model's id and version).
enum class LabelSource { Human, Model };

/// One labelling act, as the store keeps it. Labels are never edited or deleted: a new label
/// for the same item and annotator replaces the earlier one (the earlier one stays in the
/// history), and a label with an empty `className` withdraws the annotator's label. So every
/// change is traceable and can be undone by adding the earlier state again.
struct Label {
    std::int64_t id = 0; ///< store id; 0 until saved. Ids grow with time.
    LabelLevel level = LabelLevel::Image;
    std::string item;        ///< SOP Instance, Series Instance or Study Instance UID
    std::string className;   ///< empty: the annotator withdrew their label for the item
    std::string annotator;   ///< who labelled (a person's name or login)
    std::int64_t timeMs = 0; ///< milliseconds since 1970 (UTC); 0: now, when saved
    LabelSource source = LabelSource::Human;
    std::string modelId;       ///< source Model: the model that suggested the class
    std::string modelVersion;  ///< source Model: its registry version
    double probability = -1.0; ///< source Model: the suggested class's probability; -1 for none
    /// Source Model: a person (`annotator`) looked at the suggestion and accepted it. An
    /// unconfirmed suggestion is never trained on.
    bool confirmed = false;

    bool withdrawn() const { return className.empty(); }
    /// Trainable: a human label, or a suggestion a human confirmed; not withdrawn.
    bool trusted() const { return !withdrawn() && (source == LabelSource::Human || confirmed); }
};

/// "image", "series", "study"; "human", "model". The parsers return false for anything else.
const char* toString(LabelLevel level);
bool parseLabelLevel(const std::string& text, LabelLevel& level);
const char* toString(LabelSource source);
bool parseLabelSource(const std::string& text, LabelSource& source);

/// `ms` since 1970 as ISO 8601 UTC with milliseconds: "2026-12-03T13:45:12.345Z".
std::string isoTimeMs(std::int64_t ms);
/// Parses ISO 8601 date-times (as parseIsoDateTime does) to milliseconds since 1970.
bool parseIsoTimeMs(const std::string& text, std::int64_t& ms);
/// Now, in milliseconds since 1970 (UTC).
std::int64_t nowMs();

/// Agreement of two readers on the items both labelled (Cohen 1960): kappa = (po - pe) /
/// (1 - pe), po the share of items on which they agree, pe the agreement expected by chance
/// from each reader's class frequencies. kappa is 1 for perfect agreement, 0 for chance;
/// NaN when fewer than one item is shared or pe is 1 (both always said the same one class).
struct Agreement {
    std::string readerA;
    std::string readerB;
    std::size_t items = 0; ///< labelled by both
    double observed = 0.0; ///< po
    double expected = 0.0; ///< pe
    double kappa = 0.0;
    std::vector<std::string> classes;    ///< rows and columns of `table`, sorted
    std::vector<std::vector<int>> table; ///< table[a][b]: items A called classes[a], B classes[b]
};

/// Cohen's kappa of two readers' classes for the same items: `pairs` holds (class of A, class
/// of B), one per item both labelled.
Agreement cohensKappa(const std::vector<std::pair<std::string, std::string>>& pairs);

} // namespace radiolens
