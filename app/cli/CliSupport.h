#pragma once
// What every radiolens-cli command shares: argument parsing and the error convention (exit 1
// with a one-line reason, 2 for a usage error).

#include <map>
#include <string>
#include <vector>

#include "core/ml/MlEngine.h"

namespace radiolens::cli {

constexpr const char* kProgram = "radiolens-cli";

/// A failure to report on one line and exit with `code`.
struct CliError {
    std::string message;
    int code = 1;
};

/// Throws a usage error (exit 2) for `command`.
[[noreturn]] void usageError(const std::string& command, const std::string& message);

/// Parsed arguments of one subcommand: positional arguments and --options.
struct Arguments {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options; ///< "--series" -> "1.2.3"; flags map to ""
    /// Every value of each valued option in order, for options that may repeat ("--data A
    /// --data B"); `options` keeps the last.
    std::map<std::string, std::vector<std::string>> repeated;

    bool has(const std::string& name) const { return options.count(name) != 0; }
    std::string get(const std::string& name, const std::string& fallback = {}) const {
        const auto it = options.find(name);
        return it == options.end() ? fallback : it->second;
    }
    /// All values given for `name`, in order (empty when it was not given).
    std::vector<std::string> all(const std::string& name) const {
        const auto it = repeated.find(name);
        return it == repeated.end() ? std::vector<std::string>{} : it->second;
    }
};

/// Splits argv into positionals and options; `valued` options take the next argument.
Arguments parse(const std::string& command, const std::vector<std::string>& args,
                const std::vector<std::string>& flags, const std::vector<std::string>& valued);

/// The value of `option` as a number, refusing trailing text ("1mm").
double parseNumber(const std::string& command, const std::string& option, const std::string& text);

/// --threads N (1-256), or 0 when not given.
int parseThreads(const std::string& command, const Arguments& args);

/// Usage errors for positional arguments (when `positionalAllowed` is false) and for missing
/// `required` options.
void checkArguments(const std::string& command, const Arguments& args,
                    const std::vector<std::string>& required, bool positionalAllowed = false);

/// The whole number `option` in [lo, hi], or 0 when it is not given.
int positiveInt(const std::string& command, const Arguments& args, const std::string& option,
                int lo, int hi);

/// The files under `paths`: files as given, folders recursively, each folder's in name order.
/// A path that does not exist, or a folder that cannot be read, is added to `unreadable` as
/// (path, reason) and the rest are still listed.
std::vector<std::string> filesUnder(const std::vector<std::string>& paths,
                                    std::vector<std::pair<std::string, std::string>>& unreadable);

/// printf-style formatting of up to three numbers.
std::string fmt(const char* pattern, double a, double b = 0, double c = 0);

/// The ML engine (the plugin is opened on first use); its reason as a CLI error otherwise.
MlEngine& engine(const std::string& command);

/// The options of `train` (also taken by `retrain`): --arch, --stem, --pooling, --gradcam-flips,
/// --epochs, --image-size, --width, --batch, --patience, --seed, --lr, --id. Usage errors for
/// bad values.
TrainOptions trainOptions(const std::string& command, const Arguments& args);

/// Prints training progress on stderr: a line per epoch, and a percentage on a terminal.
TrainObserver terminalTrainObserver();

/// The machine-learning commands (MlCommands.cpp).
int runTrain(const std::vector<std::string>& argv);
int runEvaluate(const std::vector<std::string>& argv);
int runClassify(const std::vector<std::string>& argv);
int runDemoModel(const std::vector<std::string>& argv);
extern const char* const kMlCommandsHelp;

/// The patient-forecast commands (ForecastCommands.cpp): forecast import.
int runForecast(const std::vector<std::string>& argv);

/// Labelling and the local store (LabelCommands.cpp): label, audit, models, retrain.
int runLabel(const std::vector<std::string>& argv);
int runAudit(const std::vector<std::string>& argv);
int runModels(const std::vector<std::string>& argv);
int runRetrain(const std::vector<std::string>& argv);
extern const char* const kLabelCommandsHelp;

/// The local store's health and backups (StoreCommands.cpp): store check|backup|restore.
int runStore(const std::vector<std::string>& argv);
extern const char* const kStoreCommandsHelp;

/// DICOM networking (PacsCommands.cpp): pacs echo|find|get|move|store, listen.
int runPacs(const std::vector<std::string>& argv);
int runListen(const std::vector<std::string>& argv);
extern const char* const kPacsCommandsHelp;

} // namespace radiolens::cli
