#pragma once
// CSV (RFC 4180) cells: split a line, quote a cell.

#include <string>
#include <vector>

namespace radiolens {

/// The cells of one CSV line: commas separate cells, double quotes enclose cells that hold
/// commas or quotes ("" is a quote inside them); spaces and tabs around a cell and a trailing
/// CR are dropped.
std::vector<std::string> splitCsvLine(const std::string& line);

/// `cell` as a CSV cell: quoted when it holds a comma, a quote, a line break or leading or
/// trailing spaces.
std::string csvCell(const std::string& cell);

} // namespace radiolens
