#pragma once

#include <string>

namespace radiolens {

/// Radiolens's operational log: what happened (a command's start and outcome, problems with
/// files, network retrievals, crashes), one line each, for a person supporting the workstation.
///
/// Privacy: a line never carries a patient-identifying value. Every message goes through
/// scrubForLog(), which replaces file paths, DICOM UIDs and person names by tokens (the first
/// 12 hex digits of their SHA-256: the same value gives the same token, so lines can be
/// correlated, but the value cannot be read back); callers never pass patient names, IDs or
/// dates at all.
///
/// The log is `logs/radiolens.log` in the user's data folder, or in $RADIOLENS_LOG_DIR when set;
/// at 5 MB it moves to radiolens.log.1 (one older file is kept). Lines are appended with one
/// write each, so several processes can share the file. Thread-safe; never throws (a log that
/// cannot be written is silently skipped: logging must not stop the work).
void logEvent(const std::string& source, const std::string& message);

/// `text` with absolute paths, DICOM UIDs and person names (family^given) replaced by tokens:
/// "<file:3fa2c1d09b7e.dcm>" (the extension is kept), "<uid:...>", "<name:...>".
std::string scrubForLog(const std::string& text);

/// The folder the log is written to (not created here).
std::string eventLogFolder();

/// Installs handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT that write a crash
/// report (the signal, the program, its version, a stack of code addresses and symbols: no
/// data at all) into the log folder as crash-<time>-<pid>.txt, then let the signal kill the
/// process as it would have. Call once, early in main().
void installCrashReporter(const char* program);

} // namespace radiolens
