#include "core/dicom/NetworkSupport.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcuid.h>

namespace radiolens {

namespace {

/// Groups of transfer syntaxes, most common first; each group becomes one context.
const std::vector<std::vector<std::string>>& syntaxGroups() {
    static const std::vector<std::vector<std::string>> groups = {
        {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
         UID_BigEndianExplicitTransferSyntax},
        {UID_JPEGProcess14SV1TransferSyntax, UID_JPEGProcess14TransferSyntax},
        {UID_JPEGProcess1TransferSyntax, UID_JPEGProcess2_4TransferSyntax},
        {UID_JPEGLSLosslessTransferSyntax, UID_JPEGLSLossyTransferSyntax},
        {UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax},
        {UID_RLELosslessTransferSyntax},
        {UID_DeflatedExplicitVRLittleEndianTransferSyntax},
    };
    return groups;
}

} // namespace

const std::vector<std::string>& readableTransferSyntaxes() {
    static const std::vector<std::string> all = [] {
        std::vector<std::string> list;
        for (const auto& group : syntaxGroups()) {
            list.insert(list.end(), group.begin(), group.end());
        }
        return list;
    }();
    return all;
}

std::vector<ContextProposal> receivingContexts(const std::set<std::string>& sopClasses,
                                               std::size_t room) {
    std::vector<ContextProposal> out;
    const std::size_t groups = syntaxGroups().size();
    std::size_t left = sopClasses.size();
    for (const std::string& sopClass : sopClasses) {
        // Keep one context for each class still to come.
        const std::size_t budget = room > out.size() + left ? room - out.size() - (left - 1) : 1;
        const std::size_t use = std::min(groups, std::max<std::size_t>(1, budget));
        for (std::size_t g = 0; g < use && out.size() < room; ++g) {
            out.push_back({sopClass, syntaxGroups()[g]});
        }
        --left;
    }
    return out;
}

std::vector<ContextProposal>
sendingContexts(const std::map<std::string, std::set<std::string>>& syntaxesBySopClass) {
    std::vector<ContextProposal> out;
    for (const auto& [sopClass, syntaxes] : syntaxesBySopClass) {
        for (const std::string& syntax : syntaxes) {
            if (syntax != UID_LittleEndianExplicitTransferSyntax &&
                syntax != UID_LittleEndianImplicitTransferSyntax) {
                out.push_back({sopClass, {syntax}});
            }
        }
        out.push_back(
            {sopClass,
             {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax}});
    }
    return out;
}

bool isValidUid(const std::string& uid) {
    if (uid.empty() || uid.size() > 64) {
        return false;
    }
    std::size_t start = 0;
    while (true) {
        std::size_t end = uid.find('.', start);
        if (end == std::string::npos) {
            end = uid.size();
        }
        if (end == start || (uid[start] == '0' && end - start > 1)) {
            return false; // an empty component, or a leading zero
        }
        for (std::size_t i = start; i < end; ++i) {
            if (uid[i] < '0' || uid[i] > '9') {
                return false;
            }
        }
        if (end == uid.size()) {
            return true;
        }
        start = end + 1;
    }
}

std::vector<std::string> commonStorageSopClasses() {
    std::vector<std::string> out;
    for (int i = 0; i < numberOfDcmLongSCUStorageSOPClassUIDs; ++i) {
        out.push_back(dcmLongSCUStorageSOPClassUIDs[i]);
    }
    return out;
}

std::vector<std::string> storageSopClasses() {
    std::vector<std::string> out;
    for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i) {
        out.push_back(dcmAllStorageSOPClassUIDs[i]);
    }
    return out;
}

} // namespace radiolens
