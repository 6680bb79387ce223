#pragma once

#include <cstdint>
#include <string>

namespace radiolens {

/// A DICOM attribute tag as (group << 16) | element.
using DicomTag = std::uint32_t;

constexpr DicomTag dicomTag(std::uint16_t group, std::uint16_t element) {
    return (DicomTag(group) << 16) | element;
}
constexpr std::uint16_t tagGroup(DicomTag t) {
    return std::uint16_t(t >> 16);
}
constexpr std::uint16_t tagElement(DicomTag t) {
    return std::uint16_t(t & 0xFFFF);
}

/// The attributes Radiolens reads from headers, by their DICOM keywords.
namespace tags {
constexpr DicomTag TransferSyntaxUID = dicomTag(0x0002, 0x0010);
constexpr DicomTag MediaStorageSOPClassUID = dicomTag(0x0002, 0x0002);
constexpr DicomTag SpecificCharacterSet = dicomTag(0x0008, 0x0005);
constexpr DicomTag ImageType = dicomTag(0x0008, 0x0008);
constexpr DicomTag SOPClassUID = dicomTag(0x0008, 0x0016);
constexpr DicomTag SOPInstanceUID = dicomTag(0x0008, 0x0018);
constexpr DicomTag StudyDate = dicomTag(0x0008, 0x0020);
constexpr DicomTag SeriesDate = dicomTag(0x0008, 0x0021);
constexpr DicomTag StudyTime = dicomTag(0x0008, 0x0030);
constexpr DicomTag SeriesTime = dicomTag(0x0008, 0x0031);
constexpr DicomTag AccessionNumber = dicomTag(0x0008, 0x0050);
constexpr DicomTag Modality = dicomTag(0x0008, 0x0060);
constexpr DicomTag StudyDescription = dicomTag(0x0008, 0x1030);
constexpr DicomTag SeriesDescription = dicomTag(0x0008, 0x103E);
constexpr DicomTag PatientName = dicomTag(0x0010, 0x0010);
constexpr DicomTag PatientID = dicomTag(0x0010, 0x0020);
constexpr DicomTag PatientBirthDate = dicomTag(0x0010, 0x0030);
constexpr DicomTag PatientSex = dicomTag(0x0010, 0x0040);
constexpr DicomTag BodyPartExamined = dicomTag(0x0018, 0x0015);
constexpr DicomTag SliceThickness = dicomTag(0x0018, 0x0050);
constexpr DicomTag SpacingBetweenSlices = dicomTag(0x0018, 0x0088);
constexpr DicomTag GantryDetectorTilt = dicomTag(0x0018, 0x1120);
constexpr DicomTag ImagerPixelSpacing = dicomTag(0x0018, 0x1164);
constexpr DicomTag StudyInstanceUID = dicomTag(0x0020, 0x000D);
constexpr DicomTag SeriesInstanceUID = dicomTag(0x0020, 0x000E);
constexpr DicomTag StudyID = dicomTag(0x0020, 0x0010);
constexpr DicomTag SeriesNumber = dicomTag(0x0020, 0x0011);
constexpr DicomTag AcquisitionNumber = dicomTag(0x0020, 0x0012);
constexpr DicomTag InstanceNumber = dicomTag(0x0020, 0x0013);
constexpr DicomTag PatientOrientation = dicomTag(0x0020, 0x0020);
constexpr DicomTag ImagePositionPatient = dicomTag(0x0020, 0x0032);
constexpr DicomTag ImageOrientationPatient = dicomTag(0x0020, 0x0037);
constexpr DicomTag FrameOfReferenceUID = dicomTag(0x0020, 0x0052);
constexpr DicomTag SamplesPerPixel = dicomTag(0x0028, 0x0002);
constexpr DicomTag PhotometricInterpretation = dicomTag(0x0028, 0x0004);
constexpr DicomTag PlanarConfiguration = dicomTag(0x0028, 0x0006);
constexpr DicomTag NumberOfFrames = dicomTag(0x0028, 0x0008);
constexpr DicomTag FrameIncrementPointer = dicomTag(0x0028, 0x0009);
constexpr DicomTag FrameTime = dicomTag(0x0018, 0x1063);
constexpr DicomTag FrameTimeVector = dicomTag(0x0018, 0x1065);
constexpr DicomTag Rows = dicomTag(0x0028, 0x0010);
constexpr DicomTag Columns = dicomTag(0x0028, 0x0011);
constexpr DicomTag PixelSpacing = dicomTag(0x0028, 0x0030);
constexpr DicomTag BitsAllocated = dicomTag(0x0028, 0x0100);
constexpr DicomTag BitsStored = dicomTag(0x0028, 0x0101);
constexpr DicomTag HighBit = dicomTag(0x0028, 0x0102);
constexpr DicomTag PixelRepresentation = dicomTag(0x0028, 0x0103);
constexpr DicomTag WindowCenter = dicomTag(0x0028, 0x1050);
constexpr DicomTag WindowWidth = dicomTag(0x0028, 0x1051);
constexpr DicomTag RescaleIntercept = dicomTag(0x0028, 0x1052);
constexpr DicomTag RescaleSlope = dicomTag(0x0028, 0x1053);
constexpr DicomTag RescaleType = dicomTag(0x0028, 0x1054);
constexpr DicomTag WindowCenterWidthExplanation = dicomTag(0x0028, 0x1055);
constexpr DicomTag PixelMeasuresSequence = dicomTag(0x0028, 0x9110);
constexpr DicomTag FrameVOILUTSequence = dicomTag(0x0028, 0x9132);
constexpr DicomTag PixelValueTransformationSequence = dicomTag(0x0028, 0x9145);
constexpr DicomTag FrameContentSequence = dicomTag(0x0020, 0x9111);
constexpr DicomTag PlanePositionSequence = dicomTag(0x0020, 0x9113);
constexpr DicomTag PlaneOrientationSequence = dicomTag(0x0020, 0x9116);
constexpr DicomTag StackID = dicomTag(0x0020, 0x9056);
constexpr DicomTag InStackPositionNumber = dicomTag(0x0020, 0x9057);
constexpr DicomTag TemporalPositionIndex = dicomTag(0x0020, 0x9128);
constexpr DicomTag DimensionIndexValues = dicomTag(0x0020, 0x9157);
constexpr DicomTag GridFrameOffsetVector = dicomTag(0x3004, 0x000C);
constexpr DicomTag SharedFunctionalGroupsSequence = dicomTag(0x5200, 0x9229);
constexpr DicomTag PerFrameFunctionalGroupsSequence = dicomTag(0x5200, 0x9230);
constexpr DicomTag FloatPixelData = dicomTag(0x7FE0, 0x0008);
constexpr DicomTag DoubleFloatPixelData = dicomTag(0x7FE0, 0x0009);
constexpr DicomTag PixelData = dicomTag(0x7FE0, 0x0010);
constexpr DicomTag Item = dicomTag(0xFFFE, 0xE000);
constexpr DicomTag ItemDelimitation = dicomTag(0xFFFE, 0xE00D);
constexpr DicomTag SequenceDelimitation = dicomTag(0xFFFE, 0xE0DD);
} // namespace tags

/// Transfer syntax UIDs Radiolens distinguishes.
namespace syntax {
constexpr const char* ImplicitLittle = "1.2.840.10008.1.2";
constexpr const char* ExplicitLittle = "1.2.840.10008.1.2.1";
constexpr const char* Deflated = "1.2.840.10008.1.2.1.99";
constexpr const char* ExplicitBig = "1.2.840.10008.1.2.2";
constexpr const char* JpegBaseline = "1.2.840.10008.1.2.4.50";
constexpr const char* JpegExtended = "1.2.840.10008.1.2.4.51";
constexpr const char* JpegLossless = "1.2.840.10008.1.2.4.57";
constexpr const char* JpegLosslessSV1 = "1.2.840.10008.1.2.4.70";
constexpr const char* JpegLsLossless = "1.2.840.10008.1.2.4.80";
constexpr const char* JpegLsNearLossless = "1.2.840.10008.1.2.4.81";
constexpr const char* Jpeg2000Lossless = "1.2.840.10008.1.2.4.90";
constexpr const char* Jpeg2000 = "1.2.840.10008.1.2.4.91";
constexpr const char* Rle = "1.2.840.10008.1.2.5";
} // namespace syntax

/// Short human name of a transfer syntax ("JPEG-LS lossless"), or the UID itself.
std::string transferSyntaxName(const std::string& uid);

} // namespace radiolens
