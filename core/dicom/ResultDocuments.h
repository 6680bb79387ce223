#pragma once

// Radiolens's results written back as standard DICOM objects that any PACS or viewer can store
// and show, filed with the study they are about: AI classifications and reader labels and
// measurements as Comprehensive SR documents, saliency overlays as Secondary Capture images.
// Plain C++; DCMTK (dcmdata, dcmsr) stays in the .cpp.
//
// Every object gets a new SOP Instance UID and goes into a new series (or one the caller names)
// of the source's study: StudyInstanceUID and the Patient and General Study module attributes
// (PatientName, PatientID, IssuerOfPatientID, PatientBirthDate, PatientSex, StudyDate,
// StudyTime, AccessionNumber, ReferringPhysicianName, StudyID, StudyDescription) are copied
// from the source, converted to UTF-8 (SpecificCharacterSet "ISO_IR 192").
//
// Codes: DICOM (DCM), SNOMED CT (SCT) and UCUM where they exist; class names are codes of the
// private coding scheme "99RADIOLENS" (declared in CodingSchemeIdentificationSequence), code
// value = the class name (without backslashes and control characters), code meaning = the
// class name cut to 64 characters.
//
// Files are written atomically: a temporary file beside the target, flushed to disk, renamed.
// Errors throw std::runtime_error naming the file (unreadable source, failed write) or
// std::invalid_argument naming what is wrong with the arguments. Thread-safety: the functions
// have no shared state and may run on several threads at once.

#include "core/domain/Label.h"
#include "core/domain/Measurement.h"
#include "core/imaging/SliceRenderer.h"

#include <optional>
#include <string>
#include <vector>

namespace radiolens {

/// One class of a classification with the model's probability for it, in [0, 1].
struct ClassFinding {
    std::string className;
    double probability = 0.0;
};

/// What a model said about one image (a DICOM file, or one frame of a multi-frame file).
struct ImageClassification {
    std::string sourcePath;             ///< the classified DICOM file
    int frame = -1;                     ///< 0-based frame of a multi-frame file; -1: whole file
    std::vector<ClassFinding> findings; ///< every class with its probability, model's order
    std::string predicted;              ///< the class the model chose
    std::string saliencyMethod;         ///< "gradcam", "ig", "occlusion"; empty: no map made
    /// A Secondary Capture of the saliency overlay (writeSaliencyCapture), referenced as the
    /// best illustration of the finding; empty: none.
    std::string saliencyCapturePath;
};

/// Which model made a classification (from its model card).
struct ModelIdentity {
    std::string id;
    std::string version;
    std::string architecture;
    std::string weightsSha256;
};

/// Where a written object goes in its study. By default each object starts a new series; give
/// the series UID an earlier write returned (and the next instance number) to put several
/// objects of one run in one series.
struct ResultSeries {
    std::string seriesInstanceUid; ///< empty: a new series
    int seriesNumber = 0;          ///< 0: the default of the kind of object (see below)
    int instanceNumber = 1;
};

/// Series numbers used when ResultSeries::seriesNumber is 0.
constexpr int kClassificationSeriesNumber = 9001;
constexpr int kSaliencySeriesNumber = 9002;
constexpr int kAnnotationSeriesNumber = 9003;
constexpr int kParametricMapSeriesNumber = 9004;

/// What was written.
struct WrittenObject {
    std::string path;
    std::string sopClassUid;
    std::string sopInstanceUid;
    std::string seriesInstanceUid;
    std::string studyInstanceUid; ///< the source's
};

/// One Comprehensive SR (title DCM 126000 "Imaging Measurement Report", SeriesDescription
/// "Radiolens AI results") holding every classification of one study: the model as the device
/// observer (name = id, model name = architecture, a Device Observer UID derived from the
/// weights hash) and, per image, a measurement group with the image's IMAGE reference (and frame),
/// Algorithm Name / Version (DCM 111001 / 111003) = model id / version, the weights' SHA-256,
/// the saliency method, Finding (DCM 121071) = the predicted class, and one Probability
/// (DCM 122157, unit UCUM "1", also as FloatingPointValue) per class, modified by Finding = that
/// class. Every referenced image is listed in CurrentRequestedProcedureEvidenceSequence (saliency
/// captures in PertinentOtherEvidenceSequence). Throws std::invalid_argument when the list is
/// empty, a classification has no findings, or the images belong to different studies.
WrittenObject writeClassificationReport(const std::vector<ImageClassification>& classifications,
                                        const ModelIdentity& model, const std::string& outPath,
                                        const ResultSeries& series = {});

/// A Secondary Capture Image (8-bit RGB, or MONOCHROME2 for a 1-channel `image`) of a rendered
/// picture of one source image, e.g. its saliency overlay: `image` must have the source's rows
/// and columns (a pixel of the capture is the pixel of the source). Modality OT, ImageType
/// DERIVED\SECONDARY, ConversionType WSD, BurnedInAnnotation NO, DerivationDescription =
/// `description`, SourceImageSequence = the source instance (and `frame`, 0-based, for
/// multi-frame sources; -1 for single-frame), PatientOrientation from the source. Throws
/// std::invalid_argument for an empty or inconsistent `image`.
WrittenObject writeSaliencyCapture(const std::string& sourcePath, int frame,
                                   const RenderedSlice& image, const std::string& description,
                                   const std::string& outPath, const ResultSeries& series = {});

/// A Parametric Map (PS3.3 A.75) of a saliency map: one frame of 32-bit floats (the map's values,
/// 0 to 1, unit UCUM "1", quantity 99RADIOLENS "SALIENCY") on the grid of its source image, so
/// that a viewer can fuse it with the image: the source's Frame of Reference, ImagePositionPatient,
/// ImageOrientationPatient and PixelSpacing, DerivationImage = the source image. Only where the
/// geometry allows: returns nullopt, writing nothing, when the source lacks any of these
/// (projection radiographs, secondary captures) or `values` is not `width` x `height` of the
/// source's columns x rows. `frame` is 0-based for multi-frame sources, -1 otherwise.
std::optional<WrittenObject>
writeSaliencyParametricMap(const std::string& sourcePath, int frame, int width, int height,
                           const std::vector<float>& values, const std::string& description,
                           const std::string& outPath, const ResultSeries& series = {});

/// What readers recorded about one study.
struct StudyAnnotations {
    /// Current labels of the study's images, series or the study itself (withdrawn ones are
    /// left out of the report).
    std::vector<Label> labels;
    std::vector<Measurement> measurements; ///< of the study's series
    /// DICOM files of the study (at least one): the patient and study come from the first,
    /// labelled images and measured slices are found among them.
    std::vector<std::string> files;
};

/// One Comprehensive SR (SeriesDescription "Radiolens labels and measurements") of a study's
/// labels and measurements, a measurement group each:
///  - a label: Finding (DCM 121071) = its class, ObservationDateTime = its time; the annotator as
///    Person Observer Name; for a model's suggestion the model as device observer, Algorithm
///    Name / Version, Probability and whether a person confirmed it (SCT Yes/No); the item as an
///    IMAGE reference (image labels), Series Instance UID or Study Instance UID;
///  - a measurement: Length (SCT 410668003, mm), Angle (DCM 110859, deg) or Area (SCT 42798000,
///    mm2: rectangle and ellipse in their drawing plane), ObservationDateTime = when drawn;
///    when its points lie in one image of `files` (within half the slice thickness, or 0.5 mm),
///    INFERRED FROM a SCOORD (POLYLINE, or ELLIPSE) in that image's pixels SELECTED FROM its
///    IMAGE reference; always its Series Instance UID.
/// Throws std::invalid_argument when `files` is empty, a label's item or a measurement's study
/// is not among `files`' instances, series or study, or there is nothing to write.
WrittenObject writeAnnotationReport(const StudyAnnotations& annotations, const std::string& outPath,
                                    const ResultSeries& series = {});

/// writeAnnotationReport with labels only.
WrittenObject writeLabelReport(const std::vector<Label>& labels,
                               const std::vector<std::string>& studyFiles,
                               const std::string& outPath, const ResultSeries& series = {});
/// writeAnnotationReport with measurements only.
WrittenObject writeMeasurementReport(const std::vector<Measurement>& measurements,
                                     const std::vector<std::string>& studyFiles,
                                     const std::string& outPath, const ResultSeries& series = {});

} // namespace radiolens
