#include "SyntheticDicom.h"

#include "dcmtk/dcmdata/dcuid.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <system_error>
#include <vector>

namespace fs = std::filesystem;

namespace radiolens::test {

std::string newUid() {
    char buffer[100];
    dcmGenerateUniqueIdentifier(buffer, SITE_INSTANCE_UID_ROOT);
    return buffer;
}

namespace {

/// Every folder makeTempFolder made; removed when the test program ends.
struct TempFolders {
    std::vector<fs::path> paths;
    ~TempFolders() {
        for (const fs::path& path : paths) {
            std::error_code ignored;
            fs::remove_all(path, ignored);
        }
    }
};

} // namespace

std::string makeTempFolder(const std::string& prefix) {
    static std::mt19937_64 random{std::random_device{}()};
    static TempFolders made;
    const fs::path folder =
        fs::path(::testing::TempDir()) / (prefix + "-" + std::to_string(random() % 1000000000));
    fs::remove_all(folder);
    fs::create_directories(folder);
    made.paths.push_back(folder);
    return folder.string();
}

namespace {

std::string join(const double* values, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        char text[32];
        std::snprintf(text, sizeof text, "%.10g", values[i]);
        out += (i ? "\\" : "") + std::string(text);
    }
    return out;
}

} // namespace

void writeSynthetic(const SyntheticImage& image, const std::string& path) {
    fs::create_directories(fs::path(path).parent_path());
    DcmFileFormat file;
    DcmDataset& ds = *file.getDataset();
    const std::string study = image.studyUid.empty() ? newUid() : image.studyUid;
    const std::string series = image.seriesUid.empty() ? newUid() : image.seriesUid;
    const std::string instance = image.sopInstanceUid.empty() ? newUid() : image.sopInstanceUid;
    ds.putAndInsertString(DCM_SOPClassUID, image.sopClassUid.c_str());
    ds.putAndInsertString(DCM_SOPInstanceUID, instance.c_str());
    ds.putAndInsertString(DCM_StudyInstanceUID, study.c_str());
    ds.putAndInsertString(DCM_SeriesInstanceUID, series.c_str());
    ds.putAndInsertString(DCM_Modality, image.modality.c_str());
    ds.putAndInsertString(DCM_PatientID, image.patientId.c_str());
    ds.putAndInsertString(DCM_PatientName, image.patientName.c_str());
    ds.putAndInsertString(DCM_StudyDate, "20260101");
    ds.putAndInsertString(DCM_SeriesDescription, image.seriesDescription.c_str());
    ds.putAndInsertString(DCM_SeriesNumber, std::to_string(image.seriesNumber).c_str());
    ds.putAndInsertString(DCM_InstanceNumber, std::to_string(image.instanceNumber).c_str());
    if (image.position) {
        const double p[3] = {image.position->x, image.position->y, image.position->z};
        ds.putAndInsertString(DCM_ImagePositionPatient, join(p, 3).c_str());
    }
    if (image.orientation) {
        ds.putAndInsertString(DCM_ImageOrientationPatient,
                              join(image.orientation->data(), 6).c_str());
    }
    if (image.pixelSpacing) {
        ds.putAndInsertString(DCM_PixelSpacing, join(image.pixelSpacing->data(), 2).c_str());
    }
    if (image.sliceThickness) {
        ds.putAndInsertString(DCM_SliceThickness, join(&*image.sliceThickness, 1).c_str());
    }
    if (image.slope) {
        ds.putAndInsertString(DCM_RescaleSlope, image.slope->c_str());
    }
    if (image.intercept) {
        ds.putAndInsertString(DCM_RescaleIntercept, image.intercept->c_str());
    }
    if (!image.windows.empty()) {
        std::vector<double> centers, widths;
        for (const auto& w : image.windows) {
            centers.push_back(w[0]);
            widths.push_back(w[1]);
        }
        ds.putAndInsertString(DCM_WindowCenter, join(centers.data(), int(centers.size())).c_str());
        ds.putAndInsertString(DCM_WindowWidth, join(widths.data(), int(widths.size())).c_str());
    }
    ds.putAndInsertUint16(DCM_Rows, Uint16(image.rows));
    ds.putAndInsertUint16(DCM_Columns, Uint16(image.columns));
    ds.putAndInsertUint16(DCM_SamplesPerPixel, Uint16(image.samplesPerPixel));
    ds.putAndInsertString(DCM_PhotometricInterpretation, image.photometric.c_str());
    if (image.samplesPerPixel == 3) {
        ds.putAndInsertUint16(DCM_PlanarConfiguration, Uint16(image.planarConfiguration));
    }
    ds.putAndInsertUint16(DCM_BitsAllocated, Uint16(image.bitsAllocated));
    ds.putAndInsertUint16(DCM_BitsStored, Uint16(image.bitsStored));
    ds.putAndInsertUint16(DCM_HighBit, Uint16(image.highBit));
    ds.putAndInsertUint16(DCM_PixelRepresentation, Uint16(image.pixelRepresentation));
    if (image.frames > 1) {
        ds.putAndInsertString(DCM_NumberOfFrames, std::to_string(image.frames).c_str());
    }
    if (!image.omitPixelData) {
        std::vector<std::uint8_t> bytes = image.pixels;
        if (bytes.empty()) {
            const std::size_t frameBytes = std::size_t(image.rows) * std::size_t(image.columns) *
                                           std::size_t(image.samplesPerPixel) *
                                           std::size_t(std::max(1, image.bitsAllocated / 8));
            bytes.assign(frameBytes * std::size_t(image.frames), 0);
        }
        if (bytes.size() % 2 == 1) {
            bytes.push_back(0);
        }
        if (image.bitsAllocated > 8) {
            ds.putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16*>(bytes.data()),
                                       unsigned(bytes.size() / 2));
        } else {
            ds.putAndInsertUint8Array(DCM_PixelData, bytes.data(), unsigned(bytes.size()));
        }
    }
    if (image.customize) {
        image.customize(ds);
    }
    const OFCondition status = file.saveFile(path.c_str(), image.transferSyntax);
    ASSERT_TRUE(status.good()) << path << ": " << status.text();
}

std::vector<std::string> writeSeries(const std::string& folder, int count, double z0, double dz,
                                     const std::function<std::int16_t(int, int, int)>& value,
                                     SyntheticImage base) {
    if (base.studyUid.empty()) {
        base.studyUid = newUid();
    }
    if (base.seriesUid.empty()) {
        base.seriesUid = newUid();
    }
    std::vector<std::string> paths;
    for (int k = 0; k < count; ++k) {
        SyntheticImage image = base;
        image.sopInstanceUid.clear();
        image.instanceNumber = count - k; // backwards on purpose
        image.position = Vec3{base.position ? base.position->x : 0.0,
                              base.position ? base.position->y : 0.0, z0 + dz * k};
        std::vector<std::int16_t> values(std::size_t(image.rows * image.columns));
        for (int j = 0; j < image.rows; ++j) {
            for (int i = 0; i < image.columns; ++i) {
                values[std::size_t(j * image.columns + i)] = value(i, j, k);
            }
        }
        image.pixels = bytesOf(values);
        // Name order is a scrambled slice order: (k * 7) mod count, zero-padded.
        char name[32];
        std::snprintf(name, sizeof name, "IM%05d", (k * 7919) % 100000);
        const std::string path = folder + "/" + name;
        writeSynthetic(image, path);
        paths.push_back(path);
    }
    return paths;
}

} // namespace radiolens::test
