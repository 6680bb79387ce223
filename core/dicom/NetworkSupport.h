#pragma once

// Presentation contexts shared by Radiolens's SCU (PacsClient) and SCP (StorageListener).
// Internal to core/dicom; plain C++.

#include <map>
#include <set>
#include <string>
#include <vector>

namespace radiolens {

/// One presentation context to propose: an abstract syntax (a SOP class) and the transfer
/// syntaxes offered for it.
struct ContextProposal {
    std::string abstractSyntax;
    std::vector<std::string> transferSyntaxes;
};

/// The transfer syntaxes Radiolens reads: uncompressed, deflated, RLE, JPEG (baseline,
/// extended, lossless), JPEG-LS and JPEG 2000. Uncompressed explicit little endian first.
const std::vector<std::string>& readableTransferSyntaxes();

/// Contexts for receiving objects of `sopClasses` during a C-GET: one context per group of
/// transfer syntaxes, so the remote can send each file in the syntax it stores (pixel data
/// arrive unchanged). At most `room` contexts: when classes are many, later ones get fewer
/// groups (uncompressed at least), and classes past `room` are left out.
std::vector<ContextProposal> receivingContexts(const std::set<std::string>& sopClasses,
                                               std::size_t room);

/// Contexts for sending files: for each SOP class, one context per transfer syntax the files
/// use, plus uncompressed explicit and implicit little endian (DCMTK converts when the remote
/// accepts only those).
std::vector<ContextProposal>
sendingContexts(const std::map<std::string, std::set<std::string>>& syntaxesBySopClass);

/// A well-formed DICOM UID (PS3.5 9.1): 1-64 characters, digits in dot-separated components
/// without leading zeros. Received UIDs become folder and file names, so nothing else is used.
bool isValidUid(const std::string& uid);

/// The storage SOP classes of everyday imaging (DCMTK's list for storage SCUs, about 60):
/// offered by a C-GET when the remote did not say which classes a study holds.
std::vector<std::string> commonStorageSopClasses();

/// Every storage SOP class DCMTK knows (what the listener accepts).
std::vector<std::string> storageSopClasses();

} // namespace radiolens
