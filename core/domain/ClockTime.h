#pragma once
// Points in time as hours since 1970-01-01 00:00 UTC, so that a stay's vitals (ISO 8601 in CSV
// and FHIR) and a patient's imaging studies (DICOM dates and times) can share one time axis.

#include <string>

namespace radiolens {

/// ISO 8601 "YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]" as hours since 1970 (UTC; without
/// an offset the time is taken as UTC). False when `text` is not in that form.
bool parseIsoDateTime(const std::string& text, double& hours);

/// DICOM DA ("YYYYMMDD") and TM ("HHMMSS.FFFFFF", parts may be left out; empty: midnight) as
/// hours since 1970. DICOM times are local and rarely carry an offset; they are taken as UTC,
/// like ISO times without one. False when the date is not a date.
bool parseDicomDateTime(const std::string& date, const std::string& time, double& hours);

} // namespace radiolens
