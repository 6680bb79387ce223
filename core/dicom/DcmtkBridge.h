#pragma once

// DCMTK-backed helpers shared inside core/dicom. Plain C++ interface; DCMTK stays in the .cpp.

#include "core/dicom/DicomHeaderScanner.h"

#include <string>

class DcmItem;

namespace radiolens {

/// Registers DCMTK's JPEG, JPEG-LS and RLE decoders, quiets its logger (Radiolens reports
/// problems itself) and checks that the data dictionary is loaded. Idempotent and thread-safe;
/// decoders are unregistered at process exit. Throws std::runtime_error when DCMTK's
/// dictionary is missing.
void initialiseDcmtk();

/// Reads a header with DCMTK (for encodings the fast scanner leaves to it) into the same
/// DicomFileHeader form. Never throws.
DicomScanResult readHeaderWithDcmtk(const std::string& path);

/// Copies a DCMTK item (data set, sequence item or directory record) into `out`: values up to
/// DicomDataSet::kMaxLoadedValue bytes, sequences recursively.
void copyDcmtkItem(DcmItem& item, DicomDataSet& out);

} // namespace radiolens
