#pragma once
// Labels to and from files: CSV and JSON, for exchange with other tools and for backups.

#include "core/domain/Label.h"

#include <ostream>
#include <string>
#include <vector>

namespace radiolens {

class LabelStore;

/// CSV with the header
///     level,item,class,annotator,time,source,model,model_version,probability,confirmed
/// one row per label; time ISO 8601 UTC with milliseconds, probability empty for none.
void writeLabelsCsv(std::ostream& out, const std::vector<Label>& labels);

/// JSON: an array of objects with "instance" (image labels), "series" or "study" (the UID),
/// "level", "class", "annotator", "time" (ISO 8601 UTC), "source" ("human" or "model"), and for
/// model suggestions "model", "modelVersion", "probability", "confirmed"; "id" the store's id.
void writeLabelsJson(std::ostream& out, const std::vector<Label>& labels, bool pretty = true);

/// What reading a label file gave.
struct LabelFileContents {
    std::vector<Label> labels;
    /// Rows that could not be read, with the file and line (CSV) or entry (JSON) and the reason;
    /// they are left out, the rest is read.
    std::vector<std::string> problems;
    std::size_t rows = 0; ///< rows or entries read, good and bad
};

/// Reads labels from a CSV or JSON file (by its first character: '[' or '{' is JSON), in the
/// forms written above. CSV needs a header naming at least the item (a column "item" with
/// "level", or one named "instance", "series" or "study") and "class"; "annotator" defaults to
/// `defaultAnnotator`, "time" to now, "source" to human. Throws std::runtime_error naming the
/// file when it cannot be read at all (missing, no header, not JSON).
LabelFileContents readLabelFile(const std::string& path, const std::string& defaultAnnotator);

/// Imports `contents` into `labels` in one transaction, leaving out labels equal to the
/// annotator's current label of the item (so importing an export again changes nothing).
/// Returns the number of labels added.
std::size_t importLabels(LabelStore& labels, const LabelFileContents& contents,
                         const std::string& actor, const std::string& source);

} // namespace radiolens
