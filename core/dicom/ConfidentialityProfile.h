#pragma once

// DICOM PS3.15 Annex E, Table E.1-1: what the Basic Application Level Confidentiality Profile
// does to each attribute, as data (the Basic Profile column of the 2024b edition, 617 attributes,
// plus its rules for curves, overlays and private attributes). Plain C++; no DCMTK.

#include <cstdint>
#include <string_view>
#include <vector>

namespace radiolens {

/// The actions of Table E.1-1a, as Radiolens applies them.
enum class ProfileAction {
    Keep,       ///< K: keep; the items of a kept sequence are de-identified in turn
    Clean,      ///< C: clean; not in the Basic Profile column, done as Dummy
    Dummy,      ///< D: a non-empty dummy value of the attribute's VR
    Zero,       ///< Z: an empty value
    Remove,     ///< X: remove the attribute (a sequence with all its items)
    ReplaceUid, ///< U: a new UID, the same for every occurrence of the same original UID
};

/// One row of Table E.1-1. A row matches a tag when (group & groupMask) == group and
/// (element & elementMask) == element: the masks are 0xFFFF except in the pattern rows
/// (curve data 50xx, overlay data and comments 60xx, private attributes in odd groups).
struct ProfileAttribute {
    std::uint16_t group = 0;
    std::uint16_t element = 0;
    const char* name = "";           ///< as the standard names it
    const char* standardAction = ""; ///< as the table writes it: "X", "Z/D", "X/Z/U*", ...
    ProfileAction action = ProfileAction::Keep; ///< what Radiolens does (see resolve())
    std::uint16_t groupMask = 0xFFFF;
    std::uint16_t elementMask = 0xFFFF;

    bool matches(std::uint16_t g, std::uint16_t e) const {
        return (g & groupMask) == group && (e & elementMask) == element;
    }
    bool isPattern() const { return groupMask != 0xFFFF || elementMask != 0xFFFF; }
};

/// The Basic Profile's table. Immutable; thread-safe.
class ConfidentialityProfile {
public:
    /// Every row: the attributes in tag order, then the pattern rows.
    static const std::vector<ProfileAttribute>& attributes();

    /// The row that applies to a tag (an exact row before a pattern row), or nullptr when the
    /// profile does not name the attribute (it is kept).
    static const ProfileAttribute* find(std::uint16_t group, std::uint16_t element);

    /// What a de-identifier that knows nothing of the IOD does for a table action: the
    /// strictest choice the action allows. X where X is allowed (X/Z, X/D, X/Z/D, X/Z/U*), else
    /// Z (Z/D), else the action itself (D, Z, U, K, C).
    static ProfileAction resolve(std::string_view standardAction);

    /// The one-letter code of an action ("X").
    static const char* code(ProfileAction action);
};

} // namespace radiolens
