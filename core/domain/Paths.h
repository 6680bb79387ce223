#pragma once

#include <string>

namespace radiolens {

/// The user's Radiolens data folder: $XDG_DATA_HOME/Radiolens, else ~/.local/share/Radiolens
/// (the same folder Qt calls AppDataLocation for this application). Not created here.
std::string userDataFolder();

/// Folder of the built-in demo study inside the user's data folder.
std::string demoStudyFolder();

/// Where a Radiolens plugin (a shared library opened at run time) is: $`environmentVariable`
/// when set, else ../lib/`fileName` next to the running executable (build tree and install
/// layout), else the executable's own folder. Returns the first candidate that exists, or the
/// ../lib path when none does.
std::string findPlugin(const std::string& fileName, const char* environmentVariable);

/// The whole content of `path`. Throws std::runtime_error("<path>: cannot be read").
std::string readTextFile(const std::string& path);

/// Writes `content` to `path` so that a reader sees the old file or the whole new one, never a
/// part: a temporary file beside it, flushed to disk, then renamed over `path`. Throws
/// std::runtime_error naming the file when it cannot be written.
void writeFileAtomically(const std::string& path, const std::string& content);

/// Flushes a file, or a folder's entries (after a rename into it), to disk. Throws
/// std::runtime_error naming the path when it cannot be opened or flushed.
void syncToDisk(const std::string& path);

/// Renames folder `from` to `to` (which must not exist) so that `to` appears whole or not at
/// all: every file in `from` is flushed first, and the parent folder after the rename. Throws
/// std::runtime_error naming the folders when `to` exists or the rename fails.
void publishFolder(const std::string& from, const std::string& to);

} // namespace radiolens
