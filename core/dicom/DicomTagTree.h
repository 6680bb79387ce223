#pragma once

// Every element of a DICOM file as display text, for the tag browser. Plain C++; DCMTK stays in
// the .cpp.

#include <cstddef>
#include <string>
#include <vector>

namespace radiolens {

/// One row of the tag browser: an element, or an item of a sequence. Text is UTF-8.
struct DicomTagNode {
    /// "(0010,0010)" (hex digits upper case); "Item 1", "Item 2", ... for sequence items.
    std::string tag;
    /// Keyword from DCMTK's data dictionary ("PatientName"). Private elements: "Private (CREATOR)"
    /// followed by the private dictionary's name when it knows one; "Unknown" when the private
    /// creator is missing or a standard tag is not in the dictionary. Empty for items.
    std::string keyword;
    /// VR as read ("PN", "SQ"); empty for items.
    std::string vr;
    /// Display text of the value:
    /// - text and numbers: all values joined with '\\', in UTF-8 (SpecificCharacterSet applied);
    ///   longer than kMaxValueText bytes: cut there and followed by "... (N bytes)";
    /// - binary VRs (OB, OW, OD, OF, OL, OV, UN): the first kHexPreviewBytes bytes in hex
    ///   ("00 01 FF") then "... (N bytes)", or " (N bytes)" when that is all of it;
    /// - pixel data (7FE0,0008/0009/0010), never read: "OW, 524288 bytes", or
    ///   "OB, encapsulated, 3 fragments, 12345 bytes" for compressed data;
    /// - sequences: "2 items"; items: empty.
    std::string value;
    /// Items of a sequence; elements of an item. Empty otherwise.
    std::vector<DicomTagNode> children;
};

/// Value text longer than this (in bytes) is cut.
constexpr std::size_t kMaxValueText = 256;
/// Leading bytes of a binary value shown in hex.
constexpr std::size_t kHexPreviewBytes = 16;

/// Reads every element of the DICOM file at `path`: the file meta group first (when the file has
/// one), then the data set in file order, nested sequences as children. Values larger than a few
/// KiB are never loaded whole (only their first bytes are read from the file for display) and
/// pixel data is never read at all, so this costs little memory even for large multi-frame files.
///
/// Throws DicomValueError (core/dicom/DicomDataSet.h), with the path and the reason in its
/// message, when the file is missing or DCMTK cannot read it (including exceptions DCMTK throws
/// on hostile input). Thread-safe: it may run on any thread, several at once.
std::vector<DicomTagNode> readTagTree(const std::string& path);

} // namespace radiolens
