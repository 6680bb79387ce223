#include "app/cli/CliSupport.h"

#include "core/ml/MlRuntime.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace radiolens::cli {

void usageError(const std::string& command, const std::string& message) {
    throw CliError{command + ": " + message + " (see '" + kProgram + " " + command + " --help')",
                   2};
}

/// Splits argv into positionals and options; `valued` options take the next argument.
Arguments parse(const std::string& command, const std::vector<std::string>& args,
                const std::vector<std::string>& flags, const std::vector<std::string>& valued) {
    Arguments out;
    const auto contains = [](const std::vector<std::string>& list, const std::string& s) {
        return std::find(list.begin(), list.end(), s) != list.end();
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-h" && contains(flags, "--help")) {
            out.options["--help"] = "";
            continue;
        }
        if (a.size() > 1 && a[0] == '-' && a.compare(0, 2, "--") != 0) {
            usageError(command, "unknown option " + a);
        }
        if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
            std::string name = a;
            std::string value;
            const auto eq = a.find('=');
            if (eq != std::string::npos) {
                name = a.substr(0, eq);
                value = a.substr(eq + 1);
            }
            if (contains(flags, name)) {
                out.options[name] = "";
            } else if (contains(valued, name)) {
                if (eq == std::string::npos) {
                    if (i + 1 >= args.size()) {
                        usageError(command, name + " needs a value");
                    }
                    value = args[++i];
                }
                out.options[name] = value;
                out.repeated[name].push_back(value);
            } else {
                usageError(command, "unknown option " + name);
            }
        } else {
            out.positional.push_back(a);
        }
    }
    return out;
}

/// The value of `option` as a number, refusing trailing text ("1mm").
double parseNumber(const std::string& command, const std::string& option, const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(value)) {
        usageError(command, option + " takes a number, not '" + text + "'");
    }
    return value;
}

int parseThreads(const std::string& command, const Arguments& args) {
    if (!args.has("--threads")) {
        return 0;
    }
    // The text outlives `end`, which points into it.
    const std::string text = args.get("--threads");
    char* end = nullptr;
    const long n = std::strtol(text.c_str(), &end, 10);
    if (*end != '\0' || n < 1 || n > 256) {
        usageError(command, "--threads takes a number from 1 to 256");
    }
    return int(n);
}

std::string fmt(const char* pattern, double a, double b, double c) {
    char text[256];
    std::snprintf(text, sizeof text, pattern, a, b, c);
    return text;
}

void checkArguments(const std::string& command, const Arguments& args,
                    const std::vector<std::string>& required, bool positionalAllowed) {
    if (!positionalAllowed && !args.positional.empty()) {
        usageError(command, "unexpected argument " + args.positional.front());
    }
    std::string missing;
    int count = 0;
    for (const std::string& option : required) {
        if (!args.has(option)) {
            missing += (missing.empty() ? "" : " and ") + option;
            ++count;
        }
    }
    if (count > 0) {
        usageError(command, missing + (count > 1 ? " are required" : " is required"));
    }
}

int positiveInt(const std::string& command, const Arguments& args, const std::string& option,
                int lo, int hi) {
    if (!args.has(option)) {
        return 0;
    }
    const double v = parseNumber(command, option, args.get(option));
    if (v != std::floor(v) || v < lo || v > hi) {
        usageError(command, option + " takes a whole number from " + std::to_string(lo) + " to " +
                                std::to_string(hi));
    }
    return int(v);
}

MlEngine& engine(const std::string& command) {
    try {
        return MlRuntime::engine();
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
}

std::vector<std::string> filesUnder(const std::vector<std::string>& paths,
                                    std::vector<std::pair<std::string, std::string>>& unreadable) {
    namespace fs = std::filesystem;
    std::vector<std::string> files;
    for (const std::string& path : paths) {
        std::error_code error;
        if (fs::is_directory(path, error)) {
            std::vector<std::string> found;
            for (auto it = fs::recursive_directory_iterator(
                     path, fs::directory_options::skip_permission_denied, error);
                 !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
                if (it->is_regular_file(error)) {
                    found.push_back(it->path().string());
                }
            }
            if (error) {
                unreadable.push_back({path, "cannot be read: " + error.message()});
            }
            std::sort(found.begin(), found.end());
            files.insert(files.end(), found.begin(), found.end());
        } else if (fs::is_regular_file(path, error)) {
            files.push_back(path);
        } else {
            unreadable.push_back({path, "no such file or folder"});
        }
    }
    return files;
}

} // namespace radiolens::cli
