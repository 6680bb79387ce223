#pragma once

#include "core/domain/Label.h"

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace radiolens {

class StudyStore;

/// Which labels current() returns.
struct LabelQuery {
    std::string annotator;           ///< empty: every annotator
    std::optional<LabelLevel> level; ///< empty: every level
    std::string item;                ///< empty: every item
    bool includeWithdrawn = false;   ///< also the labels that withdraw an earlier one
};

/// What the annotators' current, trusted labels say about each item of one level, for training:
/// an item every annotator who labelled it put in the same class is in `items`; one they
/// disagree on is in `disagreements` and is not trained on until they agree.
struct Consensus {
    std::map<std::string, std::string> items;                ///< item -> class
    std::map<std::string, std::vector<Label>> disagreements; ///< item -> the labels that differ
    std::size_t unconfirmedSuggestions = 0; ///< model suggestions no person confirmed (not used)
    /// SHA-256 of the sorted "level item class" lines of `items`: the exact label set.
    std::string sha256;
};

/// Labels in the store (see Label): at image, series or study level, by any number of
/// annotators; append-only, every change with an entry in the audit log, committed durably
/// before the call returns. The class list grows as classes are first used, in that order.
/// Thread-safety: as StudyStore.
class LabelStore {
public:
    explicit LabelStore(StudyStore& store);

    /// The classes, in the order they were first defined or used.
    std::vector<std::string> classes() const;
    /// Defines class `name` (nothing when it exists). Returns true when it was new. Throws
    /// std::invalid_argument for an empty name or one with control characters.
    bool addClass(const std::string& name, const std::string& actor);

    /// Saves `label`: its time (0: now) and id are filled in and the saved label returned. A
    /// class not yet defined is defined first (`newClass` tells). Throws std::invalid_argument
    /// naming the field for an empty item or annotator, a model suggestion without its model,
    /// or a probability outside [0, 1]; std::runtime_error when the database fails (nothing is
    /// saved then).
    Label add(Label label, bool* newClass = nullptr);

    /// Saves every label of `labels` in one transaction: all or none. `what` describes the batch
    /// for the audit log ("import labels.csv"). Returns the labels as saved.
    std::vector<Label> addAll(std::vector<Label> labels, const std::string& actor,
                              const std::string& what);

    /// The current label of each (level, item, annotator) matching `query`: the newest one.
    /// Withdrawn ones are left out unless asked for. Oldest first.
    std::vector<Label> current(const LabelQuery& query = {}) const;
    /// Every label ever given for one item, by anyone, oldest first.
    std::vector<Label> history(LabelLevel level, const std::string& item) const;
    /// Current labels per class, of `annotator` (empty: everyone's).
    std::map<std::string, std::size_t> counts(const std::string& annotator = {}) const;
    /// Everyone who has labelled something, in order of their first label.
    std::vector<std::string> annotators() const;
    /// Number of labels ever saved (withdrawals and replaced ones included).
    std::size_t size() const;

    /// Cohen's kappa of two annotators' current labels on the items (of `level`, or of any level)
    /// both labelled.
    Agreement agreement(const std::string& readerA, const std::string& readerB,
                        std::optional<LabelLevel> level = {}) const;

    /// The trusted current labels of `level` merged over annotators (see Consensus).
    Consensus consensus(LabelLevel level) const;

    /// Keeps a model version's class probabilities for images (SOP Instance UIDs), replacing
    /// earlier ones of the same version; one transaction.
    void saveSuggestions(const std::string& modelId, const std::string& modelVersion,
                         const std::map<std::string, std::vector<double>>& probabilities);
    /// The probabilities a model version gave for one image; empty when it has not read it.
    std::vector<double> suggestion(const std::string& modelId, const std::string& modelVersion,
                                   const std::string& item) const;
    /// The probabilities a model version gave, by image.
    std::map<std::string, std::vector<double>> suggestions(const std::string& modelId,
                                                           const std::string& modelVersion) const;

private:
    StudyStore& m_store;
};

} // namespace radiolens
