#include "core/dicom/DcmtkBridge.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcdict.h"
#include "dcmtk/dcmdata/dcobject.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/oflog.h"

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace radiolens {

namespace {

void cleanupDcmtk() {
    DJDecoderRegistration::cleanup();
    DJLSDecoderRegistration::cleanup();
    DcmRLEDecoderRegistration::cleanup();
}

void copyElement(DcmElement& element, DicomDataSet& out);

/// Keeps a binary value: DCMTK holds it in host (little-endian) byte order.
template <typename T>
void keepArray(DcmElement& element, OFCondition (DcmElement::*get)(T*&), DicomDataSet& out,
               DicomElement& e) {
    T* values = nullptr;
    if ((element.*get)(values).good() && values != nullptr) {
        out.keepValue(e, reinterpret_cast<const char*>(values), element.getLength());
    }
}

void copyItem(DcmItem& item, DicomDataSet& out) {
    for (unsigned long i = 0; i < item.card(); ++i) {
        DcmElement* element = item.getElement(i);
        if (element != nullptr) {
            copyElement(*element, out);
        }
    }
}

void copyElement(DcmElement& element, DicomDataSet& out) {
    const DcmTag& tag = element.getTag();
    const DicomTag key = dicomTag(tag.getGroup(), tag.getElement());
    const char* vrName = tag.getVRName();
    const char vr[2] = {vrName[0], vrName[1]};
    const std::uint32_t length = element.getLength();
    if (element.ident() == EVR_SQ) {
        auto& sequence = static_cast<DcmSequenceOfItems&>(element);
        DicomElement& e = out.add(key, vr, length, 0);
        std::vector<DicomDataSet> items;
        for (unsigned long i = 0; i < sequence.card(); ++i) {
            DicomDataSet item = out.makeItem();
            copyItem(*sequence.getItem(i), item);
            items.push_back(std::move(item));
        }
        e.items = std::move(items);
        return;
    }
    if (key == tags::PixelData || key == tags::FloatPixelData ||
        key == tags::DoubleFloatPixelData) {
        out.add(key, vr, length, 0);
        return;
    }
    DicomElement& e = out.add(key, vr, length, 0);
    if (length > DicomDataSet::kMaxLoadedValue) {
        return;
    }
    switch (element.ident()) {
    case EVR_US:
    case EVR_AT:
    case EVR_OW:
        keepArray<Uint16>(element, &DcmElement::getUint16Array, out, e);
        break;
    case EVR_SS:
        keepArray<Sint16>(element, &DcmElement::getSint16Array, out, e);
        break;
    case EVR_UL:
    case EVR_OL:
        keepArray<Uint32>(element, &DcmElement::getUint32Array, out, e);
        break;
    case EVR_SL:
        keepArray<Sint32>(element, &DcmElement::getSint32Array, out, e);
        break;
    case EVR_FL:
    case EVR_OF:
        keepArray<Float32>(element, &DcmElement::getFloat32Array, out, e);
        break;
    case EVR_FD:
    case EVR_OD:
        keepArray<Float64>(element, &DcmElement::getFloat64Array, out, e);
        break;
    case EVR_OB:
    case EVR_UN:
        keepArray<Uint8>(element, &DcmElement::getUint8Array, out, e);
        break;
    default: {
        OFString text;
        if (element.getOFStringArray(text, OFFalse).good()) {
            out.keepValue(e, text.c_str(), text.size());
        }
        break;
    }
    }
}

} // namespace

void copyDcmtkItem(DcmItem& item, DicomDataSet& out) {
    copyItem(item, out);
}

void initialiseDcmtk() {
    static std::once_flag once;
    static std::string failure;
    std::call_once(once, [] {
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        if (!dcmDataDict.isDictionaryLoaded()) {
            failure = "DCMTK's data dictionary is not loaded: install the 'dcmtk' package or set "
                      "DCMDICTPATH to its dicom.dic";
            return;
        }
        // Files that say explicit VR but are implicit (and the reverse) are read as they are.
        dcmAutoDetectDatasetXfer.set(OFTrue);
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
        std::atexit(cleanupDcmtk);
    });
    if (!failure.empty()) {
        throw std::runtime_error(failure);
    }
}

namespace {

DicomScanResult readHeaderUnguarded(const std::string& path);

} // namespace

DicomScanResult readHeaderWithDcmtk(const std::string& path) {
    // DCMTK throws on some hostile input (std::out_of_range from DcmByteString::verify); a header
    // read never throws.
    try {
        return readHeaderUnguarded(path);
    } catch (const std::exception& e) {
        DicomScanResult result;
        result.status = DicomScanResult::Status::Broken;
        result.reason = std::string("DCMTK failed on this file: ") + e.what();
        return result;
    } catch (...) {
        DicomScanResult result;
        result.status = DicomScanResult::Status::Broken;
        result.reason = "DCMTK failed on this file";
        return result;
    }
}

namespace {

DicomScanResult readHeaderUnguarded(const std::string& path) {
    DicomScanResult result;
    try {
        initialiseDcmtk();
    } catch (const std::exception& e) {
        result.reason = e.what();
        return result;
    }
    DcmFileFormat file;
    const OFCondition status = file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange,
                                             DicomDataSet::kMaxLoadedValue, ERM_autoDetect);
    if (status.bad()) {
        result.status = DicomScanResult::Status::Broken;
        result.reason = std::string("DCMTK cannot read it: ") + status.text();
        return result;
    }
    DicomFileHeader& header = result.header;
    header.readByDcmtk = true;
    std::error_code error;
    header.fileSize = std::filesystem::file_size(path, error);
    copyItem(*file.getMetaInfo(), header.dataSet);
    DcmDataset* dataset = file.getDataset();
    copyItem(*dataset, header.dataSet);
    const DcmXfer xfer(dataset->getOriginalXfer());
    header.transferSyntax = header.dataSet.text(tags::TransferSyntaxUID, xfer.getXferID());
    DcmElement* pixels = nullptr;
    for (DicomTag t : {tags::PixelData, tags::FloatPixelData, tags::DoubleFloatPixelData}) {
        if (dataset->findAndGetElement(DcmTagKey(tagGroup(t), tagElement(t)), pixels).good()) {
            header.hasPixelData = true;
            header.pixelDataTag = t;
            header.encapsulated = xfer.isEncapsulated() != OFFalse;
            header.pixelDataLength = header.encapsulated ? 0 : pixels->getLength();
            break;
        }
    }
    if (header.dataSet.elements().size() <= 1 && !header.hasPixelData) {
        result.status = DicomScanResult::Status::NotDicom;
        result.reason = "not a DICOM file";
        return result;
    }
    result.status = DicomScanResult::Status::Ok;
    return result;
}

} // namespace

} // namespace radiolens
