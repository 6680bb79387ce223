#include "core/dicom/DicomInstance.h"

#include <cmath>
#include <cstdio>
#include <cstring>

namespace radiolens {

namespace {

/// The integer, or `fallback` when absent; a value outside int is a malformed header.
int toInt(const std::optional<long long>& v, int fallback, DicomTag tag = 0) {
    if (!v) {
        return fallback;
    }
    if (*v < -2147483647LL || *v > 2147483647LL) {
        throw DicomValueError(describeTag(tag) + " is " + std::to_string(*v) + ", out of range");
    }
    return int(*v);
}

std::optional<Vec3> readVec3(const std::vector<double>& v, std::size_t first = 0) {
    if (v.size() < first + 3) {
        return std::nullopt;
    }
    return Vec3{v[first], v[first + 1], v[first + 2]};
}

/// The first item of functional group `sequence`, per frame first, then shared; nullptr when
/// neither has it.
const DicomDataSet* functionalGroup(const DicomDataSet* perFrame, const DicomDataSet* shared,
                                    DicomTag sequence) {
    for (const DicomDataSet* group : {perFrame, shared}) {
        if (group != nullptr) {
            const auto& items = group->items(sequence);
            if (!items.empty()) {
                return &items.front();
            }
        }
    }
    return nullptr;
}

std::vector<WindowPreset> readWindows(const DicomDataSet& ds) {
    std::vector<WindowPreset> out;
    const std::vector<double> centers = ds.numbers(tags::WindowCenter);
    const std::vector<double> widths = ds.numbers(tags::WindowWidth);
    for (std::size_t i = 0; i < std::min(centers.size(), widths.size()); ++i) {
        if (widths[i] >= 1.0) {
            std::string name = ds.textValue(tags::WindowCenterWidthExplanation, i);
            out.push_back({centers[i], widths[i], name});
        }
    }
    return out;
}

/// Reads orientation and position into `frame` from a data set (top level or a functional
/// group item), checking that the orientation is two orthogonal unit vectors.
void readPlane(const DicomDataSet* positionSource, const DicomDataSet* orientationSource,
               FrameInfo& frame, std::vector<std::string>& warnings) {
    if (positionSource != nullptr) {
        frame.position = readVec3(positionSource->numbers(tags::ImagePositionPatient));
    }
    if (orientationSource != nullptr) {
        const std::vector<double> iop = orientationSource->numbers(tags::ImageOrientationPatient);
        const auto row = readVec3(iop, 0);
        const auto column = readVec3(iop, 3);
        if (row && column) {
            const double tolerance = 1e-2;
            if (std::abs(norm(*row) - 1.0) > tolerance ||
                std::abs(norm(*column) - 1.0) > tolerance ||
                std::abs(dot(*row, *column)) > tolerance) {
                warnings.push_back(
                    "ImageOrientationPatient is not two orthogonal unit vectors; ignored");
            } else {
                // Orthonormalise (Gram-Schmidt) so the normal and the ITK direction are exact.
                const Vec3 r = normalized(*row);
                frame.rowDirection = r;
                frame.columnDirection = normalized(*column - r * dot(*column, r));
            }
        }
    }
}

void readSpacing(const DicomDataSet& ds, DicomTag tag, FrameInfo& frame) {
    const std::vector<double> spacing = ds.numbers(tag);
    if (spacing.size() >= 2 && spacing[0] > 0.0 && spacing[1] > 0.0) {
        frame.rowSpacing = spacing[0];
        frame.columnSpacing = spacing[1];
    }
}

void readRescale(const DicomDataSet& ds, FrameInfo& frame, std::vector<std::string>& warnings) {
    if (const auto slope = ds.number(tags::RescaleSlope)) {
        if (*slope == 0.0 || !std::isfinite(*slope)) {
            warnings.push_back("RescaleSlope is 0; 1 used");
        } else {
            frame.slope = *slope;
        }
    }
    if (const auto intercept = ds.number(tags::RescaleIntercept)) {
        frame.intercept = *intercept;
    }
}

std::string sizeText(const PixelModule& p) {
    char text[96];
    std::snprintf(text, sizeof text, "%d x %d pixels x %d frame%s", p.columns, p.rows, p.frames,
                  p.frames == 1 ? "" : "s");
    return text;
}

} // namespace

std::size_t PixelModule::frameBytes() const {
    const std::size_t samples =
        std::size_t(rows) * std::size_t(columns) * std::size_t(samplesPerPixel);
    return bitsAllocated == 1 ? (samples + 7) / 8 : samples * std::size_t(bitsAllocated / 8);
}

std::size_t PixelModule::nativeFrameBytes() const {
    if (photometric == "YBR_FULL_422" && samplesPerPixel == 3) {
        return std::size_t(rows) * std::size_t(columns) * 2 * std::size_t(bitsAllocated / 8);
    }
    return frameBytes();
}

std::string toUtf8(const std::string& text, const std::string& specificCharacterSet) {
    bool ascii = true;
    for (unsigned char c : text) {
        if (c >= 0x80) {
            ascii = false;
            break;
        }
    }
    if (ascii) {
        return text;
    }
    if (specificCharacterSet.find("ISO_IR 192") != std::string::npos) {
        return text;
    }
    // ISO_IR 100 (Latin-1), and the common case of Latin-1 text with no declared character set:
    // every byte maps to the code point of the same value.
    const bool latin1 = specificCharacterSet.empty() ||
                        specificCharacterSet.find("ISO_IR 100") != std::string::npos ||
                        specificCharacterSet.find("ISO 2022 IR 100") != std::string::npos;
    std::string out;
    out.reserve(text.size() + 8);
    for (unsigned char c : text) {
        if (c < 0x80) {
            out += char(c);
        } else if (latin1) {
            out += char(0xC0 | (c >> 6));
            out += char(0x80 | (c & 0x3F));
        } else {
            out += "\xEF\xBF\xBD"; // U+FFFD replacement character
        }
    }
    return out;
}

DicomIdentity readIdentity(const DicomDataSet& ds) {
    DicomIdentity id;
    const std::string charset = ds.text(tags::SpecificCharacterSet);
    const auto text = [&](DicomTag tag) {
        return toUtf8(ds.text(tag), charset);
    };
    id.patientId = text(tags::PatientID);
    id.patientName = text(tags::PatientName);
    id.patientBirthDate = ds.text(tags::PatientBirthDate);
    id.patientSex = ds.text(tags::PatientSex);
    id.studyInstanceUid = ds.text(tags::StudyInstanceUID);
    id.studyDate = ds.text(tags::StudyDate);
    id.studyTime = ds.text(tags::StudyTime);
    id.studyDescription = text(tags::StudyDescription);
    id.accessionNumber = text(tags::AccessionNumber);
    id.studyId = text(tags::StudyID);
    id.seriesInstanceUid = ds.text(tags::SeriesInstanceUID);
    id.seriesDate = ds.text(tags::SeriesDate);
    id.seriesTime = ds.text(tags::SeriesTime);
    id.seriesDescription = text(tags::SeriesDescription);
    id.modality = ds.text(tags::Modality);
    id.bodyPart = text(tags::BodyPartExamined);
    id.sopClassUid = ds.text(tags::SOPClassUID, ds.text(tags::MediaStorageSOPClassUID));
    id.sopInstanceUid = ds.text(tags::SOPInstanceUID);
    // Numbers that only order things must not make a file unreadable when malformed.
    try {
        id.seriesNumber = toInt(ds.integer(tags::SeriesNumber), 0, tags::SeriesNumber);
    } catch (const DicomValueError&) {
    }
    try {
        id.instanceNumber = toInt(ds.integer(tags::InstanceNumber), 0, tags::InstanceNumber);
    } catch (const DicomValueError&) {
    }
    id.frames = toInt(ds.integer(tags::NumberOfFrames), 1, tags::NumberOfFrames);
    if (id.frames < 1) {
        throw DicomValueError(describeTag(tags::NumberOfFrames) + " is " +
                              std::to_string(id.frames) + "; an image has at least one frame");
    }
    id.rows = toInt(ds.integer(tags::Rows), 0, tags::Rows);
    id.columns = toInt(ds.integer(tags::Columns), 0, tags::Columns);
    id.hasPixelData = ds.has(tags::PixelData) || ds.has(tags::FloatPixelData) ||
                      ds.has(tags::DoubleFloatPixelData);
    return id;
}

DicomImage readImage(const DicomFileHeader& header, const std::string& path) {
    const DicomDataSet& ds = header.dataSet;
    DicomImage image;
    image.path = path;
    image.identity = readIdentity(ds);
    image.transferSyntax = header.transferSyntax;
    image.encapsulated = header.encapsulated;
    image.directPixelAccess = header.directPixelAccess;
    image.pixelDataOffset = header.pixelDataOffset;
    image.pixelDataLength = header.pixelDataLength;
    image.pixelDataTag = header.pixelDataTag;
    image.fileSize = header.fileSize;
    image.readByDcmtk = header.readByDcmtk;
    if (!header.hasPixelData) {
        throw DicomValueError("no pixel data in the file (" +
                              (image.identity.modality.empty()
                                   ? std::string("no modality")
                                   : image.identity.modality + " object") +
                              ")");
    }

    PixelModule& p = image.pixels;
    const auto required = [&](DicomTag tag) {
        const auto v = ds.integer(tag);
        if (!v) {
            throw DicomValueError(describeTag(tag) + " is missing");
        }
        return *v;
    };
    const long long rows = required(tags::Rows);
    const long long columns = required(tags::Columns);
    if (rows <= 0 || columns <= 0 || rows > 65535 || columns > 65535) {
        throw DicomValueError("image size " + std::to_string(columns) + " x " +
                              std::to_string(rows) + " is not valid");
    }
    p.rows = int(rows);
    p.columns = int(columns);
    p.frames = image.identity.frames;
    p.samplesPerPixel = toInt(ds.integer(tags::SamplesPerPixel), 1, tags::SamplesPerPixel);
    if (header.pixelDataTag == tags::FloatPixelData) {
        p.bitsAllocated = 32;
    } else if (header.pixelDataTag == tags::DoubleFloatPixelData) {
        p.bitsAllocated = 64;
    } else {
        p.bitsAllocated = int(required(tags::BitsAllocated));
    }
    p.bitsStored = toInt(ds.integer(tags::BitsStored), p.bitsAllocated, tags::BitsStored);
    p.highBit = toInt(ds.integer(tags::HighBit), p.bitsStored - 1, tags::HighBit);
    p.pixelRepresentation =
        toInt(ds.integer(tags::PixelRepresentation), 0, tags::PixelRepresentation);
    p.planarConfiguration =
        toInt(ds.integer(tags::PlanarConfiguration), 0, tags::PlanarConfiguration);
    p.photometric =
        ds.text(tags::PhotometricInterpretation, p.samplesPerPixel == 3 ? "RGB" : "MONOCHROME2");

    if (p.samplesPerPixel != 1 && p.samplesPerPixel != 3) {
        throw DicomValueError(describeTag(tags::SamplesPerPixel) + " is " +
                              std::to_string(p.samplesPerPixel) + "; only 1 or 3 are supported");
    }
    if (p.bitsAllocated != 1 && p.bitsAllocated != 8 && p.bitsAllocated != 16 &&
        p.bitsAllocated != 32 && p.bitsAllocated != 64) {
        throw DicomValueError(describeTag(tags::BitsAllocated) + " is " +
                              std::to_string(p.bitsAllocated) + "; expected 1, 8, 16, 32 or 64");
    }
    if (p.bitsStored < 1 || p.bitsStored > p.bitsAllocated || p.highBit < p.bitsStored - 1 ||
        p.highBit >= p.bitsAllocated) {
        throw DicomValueError("BitsStored " + std::to_string(p.bitsStored) + " / HighBit " +
                              std::to_string(p.highBit) + " do not fit BitsAllocated " +
                              std::to_string(p.bitsAllocated));
    }
    if (p.samplesPerPixel == 3 && p.photometric != "RGB" && p.photometric.rfind("YBR_", 0) != 0) {
        throw DicomValueError("PhotometricInterpretation " + p.photometric +
                              " does not fit 3 samples per pixel");
    }
    if (p.samplesPerPixel == 1 && p.photometric != "MONOCHROME1" &&
        p.photometric != "MONOCHROME2") {
        throw DicomValueError("PhotometricInterpretation " + p.photometric +
                              " is not supported yet (grey images must be MONOCHROME1/2)");
    }

    if (p.bitsAllocated == 1 && p.samplesPerPixel != 1) {
        throw DicomValueError("1-bit pixel data must have one sample per pixel (SamplesPerPixel "
                              "is " +
                              std::to_string(p.samplesPerPixel) + ")");
    }
    if (p.photometric == "YBR_FULL_422" && !header.encapsulated && p.columns % 2 != 0) {
        throw DicomValueError("YBR_FULL_422 needs an even number of columns (Columns is " +
                              std::to_string(p.columns) + ")");
    }
    if (header.encapsulated && header.fileSize > header.pixelDataOffset &&
        std::uint64_t(p.frames) > (header.fileSize - header.pixelDataOffset) / 8) {
        // Every compressed frame takes at least one 8-byte item in the file.
        throw DicomValueError(describeTag(tags::NumberOfFrames) + " is " +
                              std::to_string(p.frames) + " but the compressed data hold at most " +
                              std::to_string((header.fileSize - header.pixelDataOffset) / 8) +
                              " frames; refused before allocating");
    }
    // rows, columns <= 65535, samples <= 3, frames < 2^31: the product fits in 64 bits.
    const std::uint64_t samples = std::uint64_t(p.rows) * std::uint64_t(p.columns) *
                                  std::uint64_t(p.samplesPerPixel) * std::uint64_t(p.frames);
    if (samples > kMaxSamplesPerImage) {
        char text[160];
        std::snprintf(text, sizeof text,
                      "header claims %s (%.1f GB of samples), more than Radiolens accepts in one "
                      "file; refused before allocating",
                      sizeText(p).c_str(),
                      double(samples) * std::max(1, p.bitsAllocated / 8) / 1e9);
        throw DicomValueError(text);
    }
    if (!header.encapsulated) {
        const std::uint64_t needed =
            p.bitsAllocated == 1 ? (samples + 7) / 8
                                 : std::uint64_t(p.nativeFrameBytes()) * std::uint64_t(p.frames);
        if (header.pixelDataLength < needed) {
            throw DicomValueError("PixelData has " + std::to_string(header.pixelDataLength) +
                                  " bytes but " + sizeText(p) + " at " +
                                  std::to_string(p.bitsAllocated) + " bits need " +
                                  std::to_string(needed));
        }
    }

    // Geometry and value transforms, per frame.
    image.sliceThickness = ds.number(tags::SliceThickness);
    image.spacingBetweenSlices = ds.number(tags::SpacingBetweenSlices);
    image.gantryTilt = ds.number(tags::GantryDetectorTilt);
    image.rescaleType = ds.text(tags::RescaleType);

    FrameInfo base;
    readPlane(&ds, &ds, base, image.warnings);
    readRescale(ds, base, image.warnings);
    base.windows = readWindows(ds);
    if (ds.has(tags::PixelSpacing)) {
        readSpacing(ds, tags::PixelSpacing, base);
        image.pixelSpacingSource = "PixelSpacing";
    }
    if (!base.rowSpacing && ds.has(tags::ImagerPixelSpacing)) {
        readSpacing(ds, tags::ImagerPixelSpacing, base);
        image.pixelSpacingSource = "ImagerPixelSpacing (at the detector)";
    }
    if (!base.rowDirection) {
        // Projection radiographs carry PatientOrientation letters instead of cosines.
        Vec3 row, column;
        if (directionFromLetters(ds.textValue(tags::PatientOrientation, 0), row) &&
            directionFromLetters(ds.textValue(tags::PatientOrientation, 1), column) &&
            std::abs(dot(row, column)) < 1e-6) {
            base.rowDirection = row;
            base.columnDirection = column;
        }
    }

    image.frames.assign(std::size_t(p.frames), base);
    const auto& perFrame = ds.items(tags::PerFrameFunctionalGroupsSequence);
    const auto& sharedItems = ds.items(tags::SharedFunctionalGroupsSequence);
    const DicomDataSet* shared = sharedItems.empty() ? nullptr : &sharedItems.front();
    if (!perFrame.empty() || shared != nullptr) {
        image.enhanced = true;
        if (!perFrame.empty() && perFrame.size() != std::size_t(p.frames)) {
            image.warnings.push_back("PerFrameFunctionalGroupsSequence has " +
                                     std::to_string(perFrame.size()) + " items for " +
                                     std::to_string(p.frames) + " frames");
        }
        for (std::size_t f = 0; f < image.frames.size(); ++f) {
            FrameInfo& frame = image.frames[f];
            const DicomDataSet* own = f < perFrame.size() ? &perFrame[f] : nullptr;
            readPlane(functionalGroup(own, shared, tags::PlanePositionSequence),
                      functionalGroup(own, shared, tags::PlaneOrientationSequence), frame,
                      image.warnings);
            if (const DicomDataSet* measures =
                    functionalGroup(own, shared, tags::PixelMeasuresSequence)) {
                readSpacing(*measures, tags::PixelSpacing, frame);
                if (frame.rowSpacing) {
                    image.pixelSpacingSource = "PixelSpacing";
                }
                if (!image.sliceThickness) {
                    image.sliceThickness = measures->number(tags::SliceThickness);
                }
                if (!image.spacingBetweenSlices) {
                    image.spacingBetweenSlices = measures->number(tags::SpacingBetweenSlices);
                }
            }
            if (const DicomDataSet* transform =
                    functionalGroup(own, shared, tags::PixelValueTransformationSequence)) {
                readRescale(*transform, frame, image.warnings);
                if (image.rescaleType.empty()) {
                    image.rescaleType = transform->text(tags::RescaleType);
                }
            }
            if (const DicomDataSet* voi = functionalGroup(own, shared, tags::FrameVOILUTSequence)) {
                auto windows = readWindows(*voi);
                if (!windows.empty()) {
                    frame.windows = std::move(windows);
                }
            }
            if (const DicomDataSet* content =
                    functionalGroup(own, shared, tags::FrameContentSequence)) {
                frame.stackPosition = toInt(content->integer(tags::InStackPositionNumber), 0);
                frame.temporalPosition = toInt(content->integer(tags::TemporalPositionIndex), 0);
            }
        }
    } else if (p.frames > 1 && base.position && base.rowDirection) {
        // Classic multi-frame: frames are places only when the file says so. RT dose lists
        // frame offsets; NM steps by SpacingBetweenSlices along its SliceVector; frames that
        // FrameIncrementPointer says are time points (cine) get no invented positions.
        const Vec3 normal = cross(*base.rowDirection, *base.columnDirection);
        const std::vector<double> offsets = ds.numbers(tags::GridFrameOffsetVector);
        bool temporal = false;
        const std::string_view pointers = ds.bytes(tags::FrameIncrementPointer);
        for (std::size_t i = 0; i + 4 <= pointers.size(); i += 4) {
            std::uint16_t group = 0, element = 0;
            std::memcpy(&group, pointers.data() + i, 2);
            std::memcpy(&element, pointers.data() + i + 2, 2);
            const DicomTag pointer = dicomTag(group, element);
            temporal = temporal || pointer == tags::FrameTime || pointer == tags::FrameTimeVector;
        }
        if (offsets.size() == std::size_t(p.frames)) {
            for (int f = 0; f < p.frames; ++f) {
                image.frames[std::size_t(f)].position =
                    *base.position + normal * (offsets[std::size_t(f)] - offsets[0]);
            }
        } else if (!temporal && image.spacingBetweenSlices && *image.spacingBetweenSlices > 0.0) {
            for (int f = 0; f < p.frames; ++f) {
                image.frames[std::size_t(f)].position =
                    *base.position + normal * (*image.spacingBetweenSlices * f);
            }
            image.warnings.push_back("frame positions inferred from SpacingBetweenSlices");
        } else {
            for (int f = 1; f < p.frames; ++f) {
                image.frames[std::size_t(f)].position.reset();
            }
            image.warnings.push_back(temporal ? "frames are time points (cine): shown in order"
                                              : "multi-frame image without frame spacing: frames "
                                                "are shown in order, without positions");
        }
    }
    return image;
}

} // namespace radiolens
