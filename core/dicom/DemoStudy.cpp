#include "dcmtk/config/osconfig.h"

#include "core/dicom/DemoStudy.h"

#include "core/dicom/DcmtkBridge.h"
#include "core/imaging/SyntheticChest.h"

#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcvrda.h"
#include "dcmtk/dcmdata/dcvrtm.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace radiolens {

namespace {

namespace fs = std::filesystem;

// Layout of a demo folder. The manifest is written last: its presence marks a complete study.
// Hidden, so that indexing the demo folder does not list the manifest as a non-DICOM file.
constexpr const char* kManifestName = ".radiolens-demo.txt";
constexpr const char* kManifestMagic = "radiolens-demo-study";
constexpr int kManifestVersion = 2; ///< 2: with chest radiographs
constexpr const char* kCtFolder = "CT";
constexpr const char* kRadiographFolder = "DX";
constexpr const char* kChestFolder = "CXR";

// CT geometry. The physical size stays the same whatever the matrix size: the in-plane field of
// view is 240 mm along the longer image side and the slices cover 200 mm, so 256 x 256 x 160
// gives 0.9375 mm pixels and 1.25 mm slices.
constexpr double kFieldOfViewMm = 240.0;
constexpr double kAxialCoverageMm = 200.0;
constexpr double kInPlaneFill = 0.85; ///< share of the in-plane field of view the head fills
constexpr double kAxialFill = 0.92;   ///< share of the axial coverage the head fills at most

// CT pixel encoding: stored = HU + 1024, 12 bits.
constexpr double kRescaleInterceptHu = -1024.0;
constexpr int kMaxStored = 4095;
constexpr double kAirHu = -1000.0;
constexpr double kNoiseSigmaHu = 3.0; ///< standard deviation of the simulated CT noise, HU
constexpr std::uint64_t kNoiseSeed = 0x5EED0F5E99105ULL;

// Radiograph: parallel-beam projection along +y (anterior to posterior) onto a detector of
// kRadiographSize x kRadiographSize pixels of kRadiographSpacingMm.
constexpr int kRadiographSize = 512;
constexpr double kRadiographSpacingMm = 0.5;
constexpr double kMuWaterPerMm = 0.02; ///< linear attenuation of water, 1/mm (about 70 keV)
/// Line integral of attenuation (dimensionless) that maps to stored value 0 (white).
constexpr double kRadiographFullScale = 6.0;

/// One ellipsoid of the 3D Shepp-Logan head phantom in the phantom's normalised coordinates
/// (head about 2 units tall): semi-axes a, b, c, centre (x0, y0, z0), rotation about z in
/// degrees, and the HU it adds where it lies.
struct PhantomEllipsoid {
    double a, b, c;
    double x0, y0, z0;
    double rotationDeg;
    double addedHu;
};

// Geometry: the 3D Shepp-Logan head phantom of A. C. Kak and M. Slaney, "Principles of
// Computerized Tomographic Imaging", IEEE Press 1988, p. 102 (the table also used by H. Yu,
// Y. Ye and G. Wang, "Katsevich-type algorithms for variable radius spiral cone-beam CT", Proc.
// SPIE 5535, 2004). Phantom +x is the patient's left, +y anterior, +z towards the vertex.
// The original densities (2.0, -0.98, -0.02, ...) are replaced by realistic HU. Values add up
// as in the original phantom, starting from air at -1000 HU, so a region's HU is -1000 plus the
// increments of every ellipsoid containing it:
//   skull +1000, brain (white-matter-like) +30, ventricles (CSF) +5, grey-matter-like region +38,
//   where the right ventricle meets it +13, dense nodule +50 (+58 inside the grey region),
//   small posterior lesions +55 and +65, haemorrhage-like blob +70, low-density
//   (infarct-like) lesion +10.
constexpr PhantomEllipsoid kPhantom[] = {
    // a       b      c      x0      y0      z0    rot    HU added
    {0.6900, 0.920, 0.900, 0.000, 0.000, 0.000, 0.0, +2000.0},   // skull (outer surface)
    {0.6624, 0.874, 0.880, 0.000, 0.000, 0.000, 0.0, -970.0},    // brain
    {0.4100, 0.160, 0.210, -0.220, 0.000, -0.250, 108.0, -25.0}, // right lateral ventricle
    {0.3100, 0.110, 0.220, 0.220, 0.000, -0.250, 72.0, -25.0},   // left lateral ventricle
    {0.2100, 0.250, 0.500, 0.000, 0.350, -0.250, 0.0, +8.0},     // grey-matter-like region
    {0.0460, 0.046, 0.046, 0.000, 0.100, -0.250, 0.0, +20.0},    // dense nodule
    {0.0460, 0.023, 0.020, -0.080, -0.650, -0.250, 0.0, +25.0},  // small lesion
    {0.0460, 0.023, 0.020, 0.060, -0.650, -0.250, 90.0, +35.0},  // small lesion
    {0.0560, 0.040, 0.100, 0.060, -0.105, 0.625, 90.0, +40.0},   // haemorrhage-like blob
    {0.0560, 0.056, 0.100, 0.000, 0.100, 0.625, 0.0, -20.0},     // low-density lesion
};

/// A phantom ellipsoid placed in patient coordinates (LPS, mm).
struct Ellipsoid {
    std::array<double, 3> centre;              ///< mm
    std::array<std::array<double, 3>, 3> axes; ///< unit vectors of the semi-axes
    std::array<double, 3> semiAxes;            ///< mm
    std::array<double, 3> halfExtent;          ///< axis-aligned bounding box half sizes, mm
    double addedHu;
};

/// Places the phantom: in-plane scale `scaleXy` and axial scale `scaleZ` (mm per phantom unit).
/// Phantom +y (anterior) becomes patient -y, so axial slices show the face at the top.
std::vector<Ellipsoid> placePhantom(double scaleXy, double scaleZ) {
    constexpr double kPi = 3.14159265358979323846;
    std::vector<Ellipsoid> out;
    for (const PhantomEllipsoid& p : kPhantom) {
        const double angle = p.rotationDeg * kPi / 180.0;
        const double cosA = std::cos(angle);
        const double sinA = std::sin(angle);
        Ellipsoid e{};
        e.centre = {p.x0 * scaleXy, -p.y0 * scaleXy, p.z0 * scaleZ};
        e.axes[0] = {cosA, -sinA, 0.0};
        e.axes[1] = {-sinA, -cosA, 0.0};
        e.axes[2] = {0.0, 0.0, 1.0};
        e.semiAxes = {p.a * scaleXy, p.b * scaleXy, p.c * scaleZ};
        for (int k = 0; k < 3; ++k) {
            double sum = 0.0;
            for (int i = 0; i < 3; ++i) {
                const double v = e.axes[i][k] * e.semiAxes[i];
                sum += v * v;
            }
            e.halfExtent[k] = std::sqrt(sum);
        }
        e.addedHu = p.addedHu;
        out.push_back(e);
    }
    return out;
}

/// Where the line `point + t * unit vector along patient axis k` (t in mm) lies inside `e`:
/// returns false when it misses, else the entry and exit parameters t0 <= t1 (mm).
bool intersect(const Ellipsoid& e, const std::array<double, 3>& point, int k, double& t0,
               double& t1) {
    double qa = 0.0;
    double qb = 0.0;
    double qc = -1.0;
    for (int i = 0; i < 3; ++i) {
        const std::array<double, 3>& axis = e.axes[i];
        const double inverse = 1.0 / e.semiAxes[i];
        const double u = axis[k] * inverse;
        const double w = (axis[0] * (point[0] - e.centre[0]) + axis[1] * (point[1] - e.centre[1]) +
                          axis[2] * (point[2] - e.centre[2])) *
                         inverse;
        qa += u * u;
        qb += 2.0 * u * w;
        qc += w * w;
    }
    const double discriminant = qb * qb - 4.0 * qa * qc;
    if (discriminant <= 0.0) {
        return false;
    }
    const double root = std::sqrt(discriminant);
    t0 = (-qb - root) / (2.0 * qa);
    t1 = (-qb + root) / (2.0 * qa);
    return true;
}

/// SplitMix64: a fast, well-mixed hash used as a stateless random source per voxel.
std::uint64_t splitMix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/// Gaussian-like noise for voxel `index`, HU: the sum of four uniform 16-bit values (Irwin-Hall),
/// zero mean, standard deviation kNoiseSigmaHu, bounded by +-3.46 sigma. Deterministic.
float noiseHu(std::uint64_t index) {
    const std::uint64_t h = splitMix64(kNoiseSeed ^ index);
    const double sum = double(h & 0xFFFF) + double((h >> 16) & 0xFFFF) +
                       double((h >> 32) & 0xFFFF) + double(h >> 48);
    constexpr double kScale = kNoiseSigmaHu * 1.7320508075688772 / 65535.0; // sqrt(3) sigma
    return float((sum - 2.0 * 65535.0) * kScale);
}

/// Sampling of the CT volume in patient coordinates (LPS, mm).
struct CtGeometry {
    int columns = 0;
    int rows = 0;
    int slices = 0;
    double pixelSpacing = 0.0; ///< mm, rows and columns alike
    double sliceSpacing = 0.0; ///< mm, also the slice thickness
    double firstX = 0.0;       ///< x of column 0, mm
    double firstY = 0.0;       ///< y of row 0, mm
    double firstZ = 0.0;       ///< z of slice 0 (the most inferior), mm
    double scaleXy = 0.0;      ///< mm per phantom unit in-plane
    double scaleZ = 0.0;       ///< mm per phantom unit along z
};

/// Rounds to the 6 decimals written into DICOM decimal strings, so headers and pixels agree.
double roundToMicro(double v) {
    return std::round(v * 1e6) / 1e6;
}

CtGeometry makeGeometry(const DemoStudyOptions& options) {
    if (options.columns < 16 || options.rows < 16 || options.slices < 2 || options.columns > 4096 ||
        options.rows > 4096 || options.slices > 9999) {
        throw std::invalid_argument("Demo study size must be 16..4096 columns and rows and "
                                    "2..9999 slices");
    }
    CtGeometry g;
    g.columns = options.columns;
    g.rows = options.rows;
    g.slices = options.slices;
    g.pixelSpacing = roundToMicro(kFieldOfViewMm / std::max(g.columns, g.rows));
    g.sliceSpacing = roundToMicro(kAxialCoverageMm / g.slices);
    g.firstX = roundToMicro(-0.5 * (g.columns - 1) * g.pixelSpacing);
    g.firstY = roundToMicro(-0.5 * (g.rows - 1) * g.pixelSpacing);
    g.firstZ = roundToMicro(-0.5 * (g.slices - 1) * g.sliceSpacing);
    const double inPlaneMm = std::min(g.columns, g.rows) * g.pixelSpacing;
    const double phantomHalfLength = kPhantom[0].b;
    const double phantomHalfHeight = kPhantom[0].c;
    g.scaleXy = kInPlaneFill * 0.5 * inPlaneMm / phantomHalfLength;
    g.scaleZ =
        std::min(g.scaleXy, kAxialFill * 0.5 * g.slices * g.sliceSpacing / phantomHalfHeight);
    return g;
}

/// Computes slice `slice` as stored values (HU + 1024, clamped to 12 bits). `hu` is scratch
/// space of columns x rows.
void renderSlice(const std::vector<Ellipsoid>& phantom, const CtGeometry& g, int slice,
                 std::vector<float>& hu, std::vector<Uint16>& stored) {
    const double z = g.firstZ + slice * g.sliceSpacing;
    std::fill(hu.begin(), hu.end(), float(kAirHu));
    for (const Ellipsoid& e : phantom) {
        if (std::abs(z - e.centre[2]) >= e.halfExtent[2]) {
            continue;
        }
        const double rowLow = (e.centre[1] - e.halfExtent[1] - g.firstY) / g.pixelSpacing;
        const double rowHigh = (e.centre[1] + e.halfExtent[1] - g.firstY) / g.pixelSpacing;
        const int rowBegin = std::max(0, int(std::ceil(rowLow)));
        const int rowEnd = std::min(g.rows - 1, int(std::floor(rowHigh)));
        const float added = float(e.addedHu);
        for (int row = rowBegin; row <= rowEnd; ++row) {
            const std::array<double, 3> point = {0.0, g.firstY + row * g.pixelSpacing, z};
            double t0 = 0.0;
            double t1 = 0.0;
            if (!intersect(e, point, 0, t0, t1)) {
                continue;
            }
            const int columnBegin = std::max(0, int(std::ceil((t0 - g.firstX) / g.pixelSpacing)));
            const int columnEnd =
                std::min(g.columns - 1, int(std::floor((t1 - g.firstX) / g.pixelSpacing)));
            float* line = hu.data() + std::size_t(row) * g.columns;
            for (int column = columnBegin; column <= columnEnd; ++column) {
                line[column] += added;
            }
        }
    }
    const std::size_t count = hu.size();
    const std::uint64_t firstIndex = std::uint64_t(slice) * count;
    const float offset = float(-kRescaleInterceptHu);
    for (std::size_t i = 0; i < count; ++i) {
        const long value = std::lround(hu[i] + noiseHu(firstIndex + i) + offset);
        stored[i] = Uint16(std::clamp(value, 0L, long(kMaxStored)));
    }
}

/// Computes the frontal radiograph: stored value = 4095 * (1 - P / kRadiographFullScale), with
/// P the exact line integral of linear attenuation along +y. MONOCHROME1, so bone shows bright.
std::vector<Uint16> renderRadiograph(const std::vector<Ellipsoid>& phantom) {
    // mu = mu_water * (1 + HU / 1000); with HU = -1000 + sum of the increments, each ellipsoid
    // adds mu_water * increment / 1000 (1/mm) along its chord.
    std::vector<double> addedMu;
    for (const Ellipsoid& e : phantom) {
        addedMu.push_back(kMuWaterPerMm * e.addedHu / 1000.0);
    }
    const int size = kRadiographSize;
    const double first = -0.5 * (size - 1) * kRadiographSpacingMm;
    std::vector<Uint16> pixels(std::size_t(size) * size);
    for (int row = 0; row < size; ++row) {
        const double z = -first - row * kRadiographSpacingMm; // rows run towards the feet
        for (int column = 0; column < size; ++column) {
            const std::array<double, 3> point = {first + column * kRadiographSpacingMm, 0.0, z};
            double integral = 0.0;
            for (std::size_t i = 0; i < phantom.size(); ++i) {
                const Ellipsoid& e = phantom[i];
                if (std::abs(point[0] - e.centre[0]) >= e.halfExtent[0] ||
                    std::abs(z - e.centre[2]) >= e.halfExtent[2]) {
                    continue;
                }
                double t0 = 0.0;
                double t1 = 0.0;
                if (intersect(e, point, 1, t0, t1)) {
                    integral += addedMu[i] * (t1 - t0);
                }
            }
            const long value =
                std::lround(kMaxStored * (1.0 - std::max(0.0, integral) / kRadiographFullScale));
            pixels[std::size_t(row) * size + column] =
                Uint16(std::clamp(value, 0L, long(kMaxStored)));
        }
    }
    return pixels;
}

/// Decimal string for DICOM DS values: up to 6 decimals, trailing zeros dropped.
std::string decimal(double v) {
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%.6f", v);
    std::string s = buffer;
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') {
        s.pop_back();
    }
    return s == "-0" ? "0" : s;
}

std::string newUid(const char* root) {
    char uid[100];
    dcmGenerateUniqueIdentifier(uid, root);
    return uid;
}

/// Fills one data set, throwing with the file name and DCMTK's condition text on failure.
class Attributes {
public:
    Attributes(DcmDataset& dataset, const std::string& file)
        : m_dataset(dataset)
        , m_file(file) {}

    void text(const DcmTagKey& tag, const std::string& value) {
        check(m_dataset.putAndInsertOFStringArray(tag, value.c_str()), tag);
    }

    void number(const DcmTagKey& tag, Uint16 value) {
        check(m_dataset.putAndInsertUint16(tag, value), tag);
    }

    void signedNumber(const DcmTagKey& tag, Sint16 value) {
        check(m_dataset.putAndInsertSint16(tag, value), tag);
    }

    void empty(const DcmTagKey& tag) { check(m_dataset.insertEmptyElement(tag), tag); }

    void pixels(const std::vector<Uint16>& values) {
        check(m_dataset.putAndInsertUint16Array(DCM_PixelData, values.data(),
                                                static_cast<unsigned long>(values.size())),
              DCM_PixelData);
    }

private:
    void check(const OFCondition& condition, const DcmTagKey& tag) {
        if (condition.bad()) {
            throw std::runtime_error("Cannot write demo study file " + m_file + ": setting " +
                                     tag.toString().c_str() + " failed: " + condition.text());
        }
    }

    DcmDataset& m_dataset;
    std::string m_file;
};

/// What the CT slices and the radiograph share.
struct StudyAttributes {
    std::string studyUid;
    std::string date; ///< YYYYMMDD
    std::string time; ///< HHMMSS
};

void putPatientAndStudy(Attributes& a, const StudyAttributes& study) {
    a.text(DCM_PatientName, "Demo^Phantom");
    a.text(DCM_PatientID, "RADIOLENS-DEMO");
    a.text(DCM_PatientBirthDate, "19700101");
    a.text(DCM_PatientSex, "O");
    a.text(DCM_StudyInstanceUID, study.studyUid);
    a.text(DCM_StudyDate, study.date);
    a.text(DCM_StudyTime, study.time);
    a.text(DCM_StudyID, "1");
    a.text(DCM_StudyDescription, "Radiolens demo: Shepp-Logan head phantom");
    a.empty(DCM_AccessionNumber);
    a.empty(DCM_ReferringPhysicianName);
    a.text(DCM_SeriesDate, study.date);
    a.text(DCM_SeriesTime, study.time);
    a.text(DCM_ContentDate, study.date);
    a.text(DCM_ContentTime, study.time);
    a.text(DCM_AcquisitionDate, study.date);
    a.text(DCM_AcquisitionTime, study.time);
    a.text(DCM_Manufacturer, "Radiolens");
    a.text(DCM_InstitutionName, "Radiolens demo");
    a.text(DCM_InstanceNumber, "1");
}

/// What the demo's projection radiographs share: for presentation, no burned-in text, lossless,
/// the patient's left on the image right and feet down; `spacingMm` at the detector and in the
/// image alike (no magnification correction).
void putProjection(Attributes& a, const char* bodyPart, const char* view, const char* kvp,
                   double spacingMm) {
    a.text(DCM_PresentationIntentType, "FOR PRESENTATION");
    a.text(DCM_BodyPartExamined, bodyPart);
    a.empty(DCM_AnatomicRegionSequence);
    a.text(DCM_ImageLaterality, "U");
    a.text(DCM_ViewPosition, view);
    a.text(DCM_PatientOrientation, "L\\F");
    a.text(DCM_KVP, kvp);
    a.empty(DCM_DetectorType);
    const std::string spacing = decimal(spacingMm) + "\\" + decimal(spacingMm);
    a.text(DCM_ImagerPixelSpacing, spacing);
    a.text(DCM_PixelSpacing, spacing);
    a.text(DCM_BurnedInAnnotation, "NO");
    a.text(DCM_LossyImageCompression, "00");
}

/// The image pixel description every demo image shares: one sample, 12 of 16 bits, unsigned.
void putGreyImage(Attributes& a, const char* photometric, int rows, int columns) {
    a.number(DCM_SamplesPerPixel, 1);
    a.text(DCM_PhotometricInterpretation, photometric);
    a.number(DCM_Rows, Uint16(rows));
    a.number(DCM_Columns, Uint16(columns));
    a.number(DCM_BitsAllocated, 16);
    a.number(DCM_BitsStored, 12);
    a.number(DCM_HighBit, 11);
    a.number(DCM_PixelRepresentation, 0);
}

void save(DcmFileFormat& file, const std::string& path) {
    const OFCondition condition =
        file.saveFile(path.c_str(), EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_recalcGL,
                      EPD_noChange, 0, 0, EWM_fileformat);
    if (condition.bad()) {
        throw std::runtime_error("Cannot write demo study file " + path + ": " + condition.text());
    }
}

struct CtSeriesAttributes {
    std::string seriesUid;
    std::string frameOfReferenceUid;
};

void writeCtSlice(const std::string& path, const StudyAttributes& study,
                  const CtSeriesAttributes& series, const CtGeometry& g, int slice,
                  const std::vector<Uint16>& pixels) {
    DcmFileFormat file;
    Attributes a(*file.getDataset(), path);
    const double z = g.firstZ + slice * g.sliceSpacing;
    a.text(DCM_SOPClassUID, UID_CTImageStorage);
    a.text(DCM_SOPInstanceUID, newUid(SITE_INSTANCE_UID_ROOT));
    a.text(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
    putPatientAndStudy(a, study);
    a.text(DCM_Modality, "CT");
    a.text(DCM_SeriesInstanceUID, series.seriesUid);
    a.text(DCM_SeriesNumber, "1");
    a.text(DCM_SeriesDescription, "Head phantom CT");
    a.text(DCM_BodyPartExamined, "HEAD");
    a.text(DCM_PatientPosition, "HFS");
    a.text(DCM_KVP, "120");
    a.text(DCM_AcquisitionNumber, "1");
    a.text(DCM_InstanceNumber, std::to_string(slice + 1));
    a.text(DCM_FrameOfReferenceUID, series.frameOfReferenceUid);
    a.empty(DCM_PositionReferenceIndicator);
    a.text(DCM_ImagePositionPatient,
           decimal(g.firstX) + "\\" + decimal(g.firstY) + "\\" + decimal(z));
    a.text(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
    a.text(DCM_SliceThickness, decimal(g.sliceSpacing));
    a.text(DCM_SliceLocation, decimal(z));
    a.text(DCM_PixelSpacing, decimal(g.pixelSpacing) + "\\" + decimal(g.pixelSpacing));
    a.text(DCM_ReconstructionDiameter, decimal(std::max(g.columns, g.rows) * g.pixelSpacing));
    putGreyImage(a, "MONOCHROME2", g.rows, g.columns);
    a.text(DCM_RescaleIntercept, decimal(kRescaleInterceptHu));
    a.text(DCM_RescaleSlope, "1");
    a.text(DCM_RescaleType, "HU");
    a.text(DCM_WindowCenter, "40\\600");
    a.text(DCM_WindowWidth, "80\\2800");
    a.text(DCM_WindowCenterWidthExplanation, "BRAIN\\BONE");
    a.pixels(pixels);
    save(file, path);
}

void writeRadiograph(const std::string& path, const StudyAttributes& study,
                     const std::string& seriesUid, const std::vector<Uint16>& pixels) {
    DcmFileFormat file;
    Attributes a(*file.getDataset(), path);
    a.text(DCM_SOPClassUID, UID_DigitalXRayImageStorageForPresentation);
    a.text(DCM_SOPInstanceUID, newUid(SITE_INSTANCE_UID_ROOT));
    a.text(DCM_ImageType, "ORIGINAL\\PRIMARY");
    putPatientAndStudy(a, study);
    a.text(DCM_Modality, "DX");
    a.text(DCM_SeriesInstanceUID, seriesUid);
    a.text(DCM_SeriesNumber, "2");
    a.text(DCM_SeriesDescription, "Skull AP radiograph");
    putProjection(a, "SKULL", "AP", "70", kRadiographSpacingMm);
    putGreyImage(a, "MONOCHROME1", kRadiographSize, kRadiographSize);
    // Stored values fall with the log of the beam attenuation: lower value, less X-ray reached
    // the detector.
    a.text(DCM_PixelIntensityRelationship, "LOG");
    a.signedNumber(DCM_PixelIntensityRelationshipSign, 1);
    a.text(DCM_RescaleIntercept, "0");
    a.text(DCM_RescaleSlope, "1");
    a.text(DCM_RescaleType, "US");
    a.text(DCM_PresentationLUTShape, "INVERSE");
    const Uint16 darkest = *std::min_element(pixels.begin(), pixels.end());
    const int width = kMaxStored + 1 - darkest;
    a.text(DCM_WindowCenter, decimal(darkest + 0.5 * width));
    a.text(DCM_WindowWidth, std::to_string(width));
    a.pixels(pixels);
    save(file, path);
}

/// Synthetic chest radiograph `index` (0-based) as a DX image of its own patient and study.
void writeChest(const std::string& path, const StudyAttributes& when, int index,
                const SyntheticChest& chest, DemoStudy::Chest& out) {
    DcmFileFormat file;
    Attributes a(*file.getDataset(), path);
    StudyAttributes study = when;
    study.studyUid = newUid(SITE_STUDY_UID_ROOT);
    out.studyInstanceUid = study.studyUid;
    out.seriesInstanceUid = newUid(SITE_SERIES_UID_ROOT);
    char number[16];
    std::snprintf(number, sizeof number, "%02d", index + 1);
    a.text(DCM_SOPClassUID, UID_DigitalXRayImageStorageForPresentation);
    a.text(DCM_SOPInstanceUID, newUid(SITE_INSTANCE_UID_ROOT));
    a.text(DCM_ImageType, "ORIGINAL\\PRIMARY");
    putPatientAndStudy(a, study);
    a.text(DCM_PatientName, std::string("Demo^Chest") + number);
    a.text(DCM_PatientID, std::string("RADIOLENS-CXR-") + number);
    a.text(DCM_StudyDescription, "Radiolens demo: synthetic chest radiograph");
    a.text(DCM_Modality, "DX");
    a.text(DCM_SeriesInstanceUID, out.seriesInstanceUid);
    a.text(DCM_SeriesNumber, "1");
    a.text(DCM_SeriesDescription, "Chest PA");
    putProjection(a, "CHEST", "PA", "120", chest.pixelSpacingMm);
    putGreyImage(a, "MONOCHROME2", chest.size, chest.size);
    a.text(DCM_PixelIntensityRelationship, "LIN");
    a.text(DCM_RescaleIntercept, "0");
    a.text(DCM_RescaleSlope, "1");
    a.text(DCM_RescaleType, "US");
    a.text(DCM_PresentationLUTShape, "IDENTITY");
    a.text(DCM_WindowCenter, decimal(kSyntheticChestWindowCenter));
    a.text(DCM_WindowWidth, decimal(kSyntheticChestWindowWidth));
    a.pixels(chest.stored);
    save(file, path);
    out.nodule = chest.hasNodule;
    out.noduleColumn = chest.noduleColumn;
    out.noduleRow = chest.noduleRow;
    out.noduleRadius = chest.noduleRadius;
}

/// Serialises writers in this process: they share the temporary folder name.
std::mutex& writerMutex() {
    static std::mutex mutex;
    return mutex;
}

/// `folder` without a trailing separator, so siblings can be named after it.
fs::path targetPath(const std::string& folder) {
    if (folder.empty()) {
        throw std::invalid_argument("Demo study folder must not be empty");
    }
    fs::path path = fs::path(folder).lexically_normal();
    if (!path.has_filename() && path.has_parent_path() && path != path.root_path()) {
        path = path.parent_path();
    }
    return path;
}

fs::path siblingPath(const fs::path& target, const std::string& suffix) {
    fs::path sibling = target;
    sibling += suffix;
    return sibling;
}

/// Removes temporary siblings (".partial-<pid>", ".old-<pid>") left by processes that died.
void removeStaleSiblings(const fs::path& target) {
    const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
    const std::string name = target.filename().string();
    std::error_code ec;
    std::vector<fs::path> stale;
    for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string entry = it->path().filename().string();
        for (const char* suffix : {".partial-", ".old-"}) {
            const std::string prefix = name + suffix;
            if (entry.size() <= prefix.size() || entry.compare(0, prefix.size(), prefix) != 0) {
                continue;
            }
            const std::string digits = entry.substr(prefix.size());
            if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) {
                continue;
            }
            const pid_t pid = pid_t(std::stol(digits));
            if (pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH) {
                stale.push_back(it->path());
            }
        }
    }
    for (const fs::path& path : stale) {
        fs::remove_all(path, ec);
    }
}

/// True when `folder` is empty or holds only what a demo study writes, so replacing it cannot
/// delete anything else.
bool isReplaceable(const fs::path& folder) {
    for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
        const std::string name = entry.path().filename().string();
        if (name != kCtFolder && name != kRadiographFolder && name != kChestFolder &&
            name != kManifestName) {
            return false;
        }
    }
    return true;
}

/// The manifest line of one file: kind, path relative to the study folder, size in bytes.
std::string manifestFileLine(const char* kind, const fs::path& root, const std::string& relative) {
    return std::string(kind) + " " + relative + " " +
           std::to_string(fs::file_size(root / relative)) + "\n";
}

std::string ctFileName(int slice) {
    char name[32];
    std::snprintf(name, sizeof name, "%s/CT%04d.dcm", kCtFolder, slice + 1);
    return name;
}

/// Asks the sink, if any; throws "cancelled" when it says stop.
void reportOrCancel(ProgressSink* progress, double fraction) {
    if (progress != nullptr && !progress->report(fraction)) {
        throw std::runtime_error("cancelled");
    }
}

/// Moves the finished `partial` folder to `target`, replacing a previous demo there.
void moveIntoPlace(const fs::path& partial, const fs::path& target) {
    if (!fs::exists(target)) {
        fs::rename(partial, target);
        return;
    }
    const fs::path old = siblingPath(target, ".old-" + std::to_string(getpid()));
    fs::remove_all(old);
    fs::rename(target, old);
    try {
        fs::rename(partial, target);
    } catch (...) {
        std::error_code ec;
        fs::rename(old, target, ec);
        throw;
    }
    std::error_code ec;
    fs::remove_all(old, ec);
}

DemoStudy writeLocked(const std::string& folder, const DemoStudyOptions& options,
                      ProgressSink* progress) {
    const CtGeometry geometry = makeGeometry(options);
    initialiseDcmtk();
    const fs::path target = targetPath(folder);
    if (fs::exists(target) && (!fs::is_directory(target) || !isReplaceable(target))) {
        throw std::runtime_error("Cannot write demo study into " + target.string() +
                                 ": it exists and holds files that are not a Radiolens demo");
    }
    if (target.has_parent_path()) {
        fs::create_directories(target.parent_path());
    }
    removeStaleSiblings(target);
    const fs::path partial = siblingPath(target, ".partial-" + std::to_string(getpid()));
    fs::remove_all(partial);

    DemoStudy study;
    study.folder = folder;
    try {
        fs::create_directories(partial / kCtFolder);
        fs::create_directories(partial / kRadiographFolder);
        fs::create_directories(partial / kChestFolder);

        StudyAttributes studyAttributes;
        studyAttributes.studyUid = newUid(SITE_STUDY_UID_ROOT);
        OFString date;
        OFString time;
        DcmDate::getCurrentDate(date);
        DcmTime::getCurrentTime(time, true, false);
        studyAttributes.date = date.c_str();
        studyAttributes.time = time.c_str();
        CtSeriesAttributes ctSeries;
        ctSeries.seriesUid = newUid(SITE_SERIES_UID_ROOT);
        ctSeries.frameOfReferenceUid = newUid(SITE_INSTANCE_UID_ROOT);
        const std::string radiographSeriesUid = newUid(SITE_SERIES_UID_ROOT);

        // Progress: one unit per CT slice, the radiograph counts as a tenth of the CT.
        const double radiographUnits = std::max(1.0, 0.1 * geometry.slices);
        const double totalUnits = geometry.slices + radiographUnits + 1.0;
        reportOrCancel(progress, 0.0);

        const std::vector<Ellipsoid> phantom = placePhantom(geometry.scaleXy, geometry.scaleZ);
        const std::size_t sliceVoxels = std::size_t(geometry.columns) * geometry.rows;
        std::vector<float> hu(sliceVoxels);
        std::vector<Uint16> stored(sliceVoxels);
        std::ostringstream manifest;
        manifest << kManifestMagic << ' ' << kManifestVersion << '\n'
                 << "study-instance-uid " << studyAttributes.studyUid << '\n'
                 << "ct-series-instance-uid " << ctSeries.seriesUid << '\n'
                 << "radiograph-series-instance-uid " << radiographSeriesUid << '\n';
        for (int slice = 0; slice < geometry.slices; ++slice) {
            const std::string name = ctFileName(slice);
            renderSlice(phantom, geometry, slice, hu, stored);
            writeCtSlice((partial / name).string(), studyAttributes, ctSeries, geometry, slice,
                         stored);
            manifest << manifestFileLine("ct", partial, name);
            study.ctFiles.push_back((target / name).string());
            reportOrCancel(progress, (slice + 1) / totalUnits);
        }

        const std::string radiographName = std::string(kRadiographFolder) + "/DX0001.dcm";
        writeRadiograph((partial / radiographName).string(), studyAttributes, radiographSeriesUid,
                        renderRadiograph(phantom));
        manifest << manifestFileLine("radiograph", partial, radiographName);
        study.radiographFile = (target / radiographName).string();
        reportOrCancel(progress, (geometry.slices + radiographUnits) / totalUnits);

        for (int i = 0; i < options.chests; ++i) {
            char name[32];
            std::snprintf(name, sizeof name, "%s/CXR%04d.dcm", kChestFolder, i + 1);
            DemoStudy::Chest chest;
            writeChest((partial / name).string(), studyAttributes, i,
                       syntheticChest(options.chestSize, kDemoStudyChestSeed + std::uint64_t(i),
                                      i % 2 == 0),
                       chest);
            chest.file = (target / name).string();
            manifest << manifestFileLine("chest", partial, name);
            manifest << "chest-truth " << chest.studyInstanceUid << ' ' << chest.seriesInstanceUid
                     << ' ' << (chest.nodule ? 1 : 0) << ' ' << decimal(chest.noduleColumn) << ' '
                     << decimal(chest.noduleRow) << ' ' << decimal(chest.noduleRadius) << '\n';
            study.chests.push_back(chest);
        }

        const fs::path manifestPath = partial / kManifestName;
        std::ofstream out(manifestPath, std::ios::binary);
        out << manifest.str();
        out.close();
        if (!out) {
            throw std::runtime_error("Cannot write demo study file " + manifestPath.string());
        }
        reportOrCancel(progress, (totalUnits - 0.5) / totalUnits);
        moveIntoPlace(partial, target);

        study.studyInstanceUid = studyAttributes.studyUid;
        study.ctSeriesInstanceUid = ctSeries.seriesUid;
        study.radiographSeriesInstanceUid = radiographSeriesUid;
    } catch (...) {
        std::error_code ec;
        fs::remove_all(partial, ec);
        throw;
    }
    if (progress != nullptr) {
        progress->report(1.0);
    }
    return study;
}

/// Reads the manifest of a complete demo study; false when it is missing, of another version,
/// or a listed file is missing or has another size than when it was written.
bool readManifest(const std::string& folder, DemoStudy& study) {
    const fs::path root = targetPath(folder);
    std::ifstream in(root / kManifestName, std::ios::binary);
    if (!in) {
        return false;
    }
    std::string magic;
    int version = 0;
    if (!(in >> magic >> version) || magic != kManifestMagic || version != kManifestVersion) {
        return false;
    }
    DemoStudy result;
    result.folder = folder;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string key;
        if (!(fields >> key)) {
            continue;
        }
        if (key == "study-instance-uid") {
            fields >> result.studyInstanceUid;
        } else if (key == "ct-series-instance-uid") {
            fields >> result.ctSeriesInstanceUid;
        } else if (key == "radiograph-series-instance-uid") {
            fields >> result.radiographSeriesInstanceUid;
        } else if (key == "chest-truth") {
            if (result.chests.empty() || !result.chests.back().studyInstanceUid.empty()) {
                return false;
            }
            DemoStudy::Chest& chest = result.chests.back();
            int nodule = 0;
            if (!(fields >> chest.studyInstanceUid >> chest.seriesInstanceUid >> nodule >>
                  chest.noduleColumn >> chest.noduleRow >> chest.noduleRadius)) {
                return false;
            }
            chest.nodule = nodule != 0;
        } else if (key == "ct" || key == "radiograph" || key == "chest") {
            std::string relative;
            std::uintmax_t bytes = 0;
            if (!(fields >> relative >> bytes)) {
                return false;
            }
            const fs::path relativePath(relative);
            if (relativePath.is_absolute() || std::find(relativePath.begin(), relativePath.end(),
                                                        fs::path("..")) != relativePath.end()) {
                return false;
            }
            const fs::path path = root / relativePath;
            std::error_code ec;
            if (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) != bytes || ec) {
                return false;
            }
            if (key == "ct") {
                result.ctFiles.push_back(path.string());
            } else if (key == "chest") {
                result.chests.push_back({});
                result.chests.back().file = path.string();
            } else {
                result.radiographFile = path.string();
            }
        } else {
            return false;
        }
    }
    if (result.studyInstanceUid.empty() || result.ctSeriesInstanceUid.empty() ||
        result.radiographSeriesInstanceUid.empty() || result.ctFiles.empty() ||
        result.radiographFile.empty()) {
        return false;
    }
    for (const DemoStudy::Chest& chest : result.chests) {
        if (chest.studyInstanceUid.empty()) {
            return false;
        }
    }
    study = std::move(result);
    return true;
}

} // namespace

DemoStudy writeDemoStudy(const std::string& folder, const DemoStudyOptions& options,
                         ProgressSink* progress) {
    std::lock_guard<std::mutex> lock(writerMutex());
    return writeLocked(folder, options, progress);
}

DemoStudy ensureDemoStudy(const std::string& folder, ProgressSink* progress) {
    std::lock_guard<std::mutex> lock(writerMutex());
    DemoStudy study;
    if (readManifest(folder, study)) {
        if (progress != nullptr) {
            progress->report(1.0);
        }
        return study;
    }
    return writeLocked(folder, DemoStudyOptions{}, progress);
}

} // namespace radiolens
