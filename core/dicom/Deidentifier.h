#pragma once

// De-identification on export: DICOM PS3.15 Annex E, the Basic Application Level
// Confidentiality Profile (ConfidentialityProfile holds its table). Plain C++ interface; DCMTK
// stays in the .cpp.

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace radiolens {

/// How one export de-identifies.
struct DeidentifyOptions {
    /// Patient's Name in every output file.
    std::string patientName = "ANONYMOUS";
    /// Patient ID in every output file. Empty: a pseudonym ("ANON" and 12 hex digits) from a
    /// keyed hash (HMAC-SHA-256) of the original Patient ID with a random key drawn for each
    /// Deidentifier: the same patient gets the same pseudonym within one export, and two exports
    /// cannot be linked through it.
    std::string patientId;
    /// Keep private attributes (odd groups); the profile removes them.
    bool keepPrivateTags = false;
};

/// What happened to one file.
struct DeidentifyResult {
    std::string inputPath;
    /// outputDir/<new Study Instance UID>/<new Series Instance UID>/<new SOP Instance UID>.dcm:
    /// no original identifier in the name.
    std::string outputPath;
    /// For the user, each naming the input file: burned-in annotation, recognisable features.
    std::vector<std::string> warnings;
    int removed = 0;      ///< attributes removed (X, private, curves, overlays), sequences as one
    int emptied = 0;      ///< attributes emptied (Z)
    int replaced = 0;     ///< attributes given a dummy value (D), patient name and ID
    int uidsRemapped = 0; ///< UID values replaced in this file (U)
};

/// One de-identifying export. All files of an export go through one Deidentifier, which keeps
/// the map from original to new UIDs, so that references between the files (Referenced SOP
/// Instance UID, Study/Series Instance UID, Frame of Reference UID, ...) stay consistent.
///
/// Per PS3.15 Table E.1-1 (Basic Profile), recursively inside sequences: X removes, Z empties,
/// D writes a dummy of the VR (dates 19000101, times 000000, names ANONYMOUS, other text
/// ANONYMIZED, numbers 0, a sequence with one empty item), U replaces each UID with a new
/// 2.25 UUID-derived UID made once per original UID; compound actions take the strictest choice
/// (see ConfidentialityProfile::resolve). Instance UIDs in attributes the table does not list
/// (Multi-frame Source SOP Instance UID, Volume Frame of Reference UID, ...) are replaced too, and
/// any other UID value (a private attribute's, say) that this export has replaced elsewhere is
/// replaced by the same new UID. Private attributes, curves (50xx) and the overlay
/// groups (60xx, all of them: an overlay without its data is no overlay, and its label and
/// description are free text) are removed; the file meta information is written anew. Patient
/// Identity Removed is YES, De-identification Method and its code sequence (113100, DCM) name
/// the profile.
///
/// Pixel data are copied byte for byte and the transfer syntax is kept (compressed files stay
/// compressed): the profile does not clean burned-in text, so files that may carry it are
/// reported in the warnings.
///
/// Not thread-safe: one export at a time per object.
class Deidentifier {
public:
    explicit Deidentifier(DeidentifyOptions options = {});
    ~Deidentifier();
    Deidentifier(Deidentifier&&) noexcept;
    Deidentifier& operator=(Deidentifier&&) noexcept;
    Deidentifier(const Deidentifier&) = delete;
    Deidentifier& operator=(const Deidentifier&) = delete;

    /// De-identifies one DICOM file into `outputDir` (folders are created; the file is written
    /// under a temporary name and renamed). Throws std::runtime_error naming the input file
    /// when it cannot be read as a DICOM instance or the output cannot be written; the
    /// Deidentifier stays usable for the next file.
    DeidentifyResult deidentifyFile(const std::string& inputPath, const std::string& outputDir);

    /// Original UID -> new UID, for every UID replaced so far in this export.
    const std::map<std::string, std::string>& uidMap() const;

private:
    class Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace radiolens
