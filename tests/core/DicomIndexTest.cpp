// StudyIndexer: the Patient -> Study -> Series -> Instance tree a user browses. What a user
// would notice: every series with the right number of images in the right order, every file
// that could not be used listed with a reason, DICOMDIR media giving the same tree as the
// files themselves, and Cancel stopping a long scan.

#include "SyntheticDicom.h"

#include "core/dicom/DicomdirReader.h"
#include "core/dicom/StudyIndexer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace radiolens;
using namespace radiolens::test;

namespace {

std::string dicomdirTests() {
    return std::string(RADIOLENS_PYDICOM_FILES) + "/dicomdirtests";
}

/// The three patient folders that pydicom's dicomdirtests/DICOMDIR lists.
const std::vector<std::string> kPatientFolders = {"77654033", "98892001", "98892003"};

std::string canonical(const std::string& path) {
    std::error_code error;
    const fs::path c = fs::canonical(path, error);
    return error ? path : c.string();
}

const Problem* problemFor(const StudyIndex& index, const std::string& path) {
    for (const Problem& p : index.problems) {
        if (canonical(p.path) == canonical(path)) {
            return &p;
        }
    }
    return nullptr;
}

/// The tree as a user sees it, in one comparable text: patients, studies, series with
/// modality, number, description and their instances (number and SOP instance UID) in order.
std::string treeText(const StudyIndex& index) {
    std::ostringstream out;
    for (const PatientEntry& patient : index.patients) {
        out << "patient " << patient.patientId << " '" << patient.name << "'\n";
        for (const StudyEntry& study : patient.studies) {
            out << "  study " << study.studyInstanceUid << " " << study.date << " '"
                << study.description << "'\n";
            for (const SeriesEntry& series : study.series) {
                out << "    series " << series.seriesInstanceUid << " " << series.modality << " #"
                    << series.seriesNumber << " '" << series.description << "' "
                    << series.instances.size() << " instances:";
                for (const InstanceEntry& instance : series.instances) {
                    out << " " << instance.instanceNumber << "=" << instance.sopInstanceUid << "@"
                        << canonical(instance.path);
                }
                out << "\n";
            }
        }
    }
    return out.str();
}

void writeText(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

/// One series of the synthetic tree.
struct SeriesPlan {
    std::string patientId, patientName, studyUid, studyDate, studyDescription;
    std::string seriesUid, modality, description;
    int seriesNumber = 1;
    int count = 1;
    int rows = 8;
};

struct ExpectedInstance {
    int number = 0;
    std::string path;
};

/// A ProgressSink that lets the first report through and cancels at the second.
class CancelAfterFirstReport : public ProgressSink {
public:
    bool report(double fraction) override {
        fractions.push_back(fraction);
        return fractions.size() < 2;
    }
    std::vector<double> fractions;
};

} // namespace

// ---- a synthetic folder tree --------------------------------------------------------------------

TEST(DicomIndex, FolderTreeGivesExactlyTheExpectedTreeAndNamesEveryBadFile) {
    const std::string root = makeTempFolder("index-tree");
    const std::string studyA1 = newUid(), studyA2 = newUid(), studyB1 = newUid();
    const std::vector<SeriesPlan> plans = {
        {"PA-1", "Alpha^Anna", studyA1, "20250101", "CT chest", newUid(), "CT", "Chest 5mm", 1, 5,
         8},
        {"PA-1", "Alpha^Anna", studyA1, "20250101", "CT chest", newUid(), "CT", "Lung 1mm", 2, 3,
         16},
        {"PA-1", "Alpha^Anna", studyA2, "20250601", "MR head", newUid(), "MR", "T1 axial", 1, 2,
         12},
        {"PB-2", "Beta^Bob", studyB1, "20240303", "Chest X-ray", newUid(), "CR", "Chest PA", 3, 1,
         10},
    };
    // Files in nested folders, named against instance order, instance numbers shuffled.
    std::map<std::string, std::vector<ExpectedInstance>> expected; // series UID -> instances
    int fileCounter = 0;
    for (const SeriesPlan& plan : plans) {
        for (int k = 0; k < plan.count; ++k) {
            SyntheticImage image;
            image.patientId = plan.patientId;
            image.patientName = plan.patientName;
            image.studyUid = plan.studyUid;
            image.seriesUid = plan.seriesUid;
            image.modality = plan.modality;
            image.sopClassUid = plan.modality == "MR"   ? UID_MRImageStorage
                                : plan.modality == "CR" ? UID_ComputedRadiographyImageStorage
                                                        : UID_CTImageStorage;
            image.seriesDescription = plan.description;
            image.seriesNumber = plan.seriesNumber;
            image.instanceNumber = plan.count - k; // descending while names ascend
            image.rows = image.columns = plan.rows;
            const std::string date = plan.studyDate, description = plan.studyDescription;
            image.customize = [date, description](DcmDataset& ds) {
                ds.putAndInsertString(DCM_StudyDate, date.c_str());
                ds.putAndInsertString(DCM_StudyDescription, description.c_str());
            };
            const std::string path = root + "/" + plan.patientId + "/" + plan.studyDate + "/s" +
                                     std::to_string(plan.seriesNumber) + "/f" +
                                     std::to_string(100 + fileCounter++);
            writeSynthetic(image, path);
            expected[plan.seriesUid].push_back({image.instanceNumber, canonical(path)});
        }
    }
    // What else lies on a CD: a text file, an empty file, a file cut short, a second copy.
    const std::string notes = root + "/notes.txt";
    writeText(notes, "Patient transferred with CD; see report.\n");
    const std::string empty = root + "/PA-1/empty.dcm";
    writeText(empty, "");
    const std::string truncated = root + "/PB-2/truncated.dcm";
    {
        SyntheticImage image;
        image.patientId = "PB-2";
        image.patientName = "Beta^Bob";
        image.studyUid = studyB1;
        image.rows = image.columns = 64;
        writeSynthetic(image, truncated);
        fs::resize_file(truncated, fs::file_size(truncated) - 2000);
    }
    const std::string original = expected[plans[1].seriesUid].front().path;
    const std::string copy = root + "/copy/duplicate.dcm";
    fs::create_directories(root + "/copy");
    fs::copy_file(original, copy);

    const StudyIndex index = StudyIndexer().index({root});
    EXPECT_FALSE(index.cancelled);
    EXPECT_EQ(index.filesVisited, 11u + 4u);

    // The tree: patients by name, studies by date, series by number.
    ASSERT_EQ(index.patients.size(), 2u) << treeText(index);
    EXPECT_EQ(index.seriesCount(), 4u);
    EXPECT_EQ(index.instanceCount(), 11u) << treeText(index);
    const PatientEntry& anna = index.patients[0];
    const PatientEntry& bob = index.patients[1];
    EXPECT_EQ(anna.name, "Alpha^Anna");
    EXPECT_EQ(anna.patientId, "PA-1");
    EXPECT_EQ(bob.name, "Beta^Bob");
    EXPECT_EQ(bob.patientId, "PB-2");
    ASSERT_EQ(anna.studies.size(), 2u);
    ASSERT_EQ(bob.studies.size(), 1u);
    EXPECT_EQ(anna.studies[0].studyInstanceUid, studyA1);
    EXPECT_EQ(anna.studies[0].description, "CT chest");
    EXPECT_EQ(anna.studies[0].date, "20250101");
    EXPECT_EQ(anna.studies[1].studyInstanceUid, studyA2);
    EXPECT_EQ(anna.studies[1].description, "MR head");
    EXPECT_EQ(bob.studies[0].studyInstanceUid, studyB1);

    const std::vector<const SeriesEntry*> inOrder = {
        anna.studies[0].series.size() == 2 ? &anna.studies[0].series[0] : nullptr,
        anna.studies[0].series.size() == 2 ? &anna.studies[0].series[1] : nullptr,
        anna.studies[1].series.size() == 1 ? &anna.studies[1].series[0] : nullptr,
        bob.studies[0].series.size() == 1 ? &bob.studies[0].series[0] : nullptr};
    for (std::size_t s = 0; s < plans.size(); ++s) {
        SCOPED_TRACE(plans[s].description);
        const SeriesEntry* series = inOrder[s];
        ASSERT_NE(series, nullptr) << treeText(index);
        EXPECT_EQ(series->seriesInstanceUid, plans[s].seriesUid);
        EXPECT_EQ(series->modality, plans[s].modality);
        EXPECT_EQ(series->description, plans[s].description);
        EXPECT_EQ(series->seriesNumber, plans[s].seriesNumber);
        ASSERT_EQ(series->instances.size(), std::size_t(plans[s].count));
        std::vector<ExpectedInstance> want = expected[plans[s].seriesUid];
        std::sort(want.begin(), want.end(),
                  [](const auto& a, const auto& b) { return a.number < b.number; });
        for (std::size_t i = 0; i < want.size(); ++i) {
            const InstanceEntry& got = series->instances[i];
            EXPECT_EQ(got.instanceNumber, want[i].number);
            EXPECT_EQ(got.instanceNumber, int(i) + 1);
            EXPECT_TRUE(got.path == want[i].path ||
                        (got.path == canonical(copy) && want[i].path == original))
                << got.path;
            EXPECT_EQ(got.rows, plans[s].rows);
            EXPECT_EQ(got.columns, plans[s].rows);
            EXPECT_EQ(got.frames, 1);
        }
    }

    // Every file that is not in the tree is named, with a reason a user can act on.
    ASSERT_EQ(index.problems.size(), 4u) << [&] {
        std::string all;
        for (const auto& p : index.problems) {
            all += p.path + ": " + p.reason + "\n";
        }
        return all;
    }();
    const Problem* p = problemFor(index, notes);
    ASSERT_NE(p, nullptr);
    EXPECT_NE(p->reason.find("not a DICOM file"), std::string::npos) << p->reason;
    p = problemFor(index, empty);
    ASSERT_NE(p, nullptr);
    EXPECT_NE(p->reason.find("empty"), std::string::npos) << p->reason;
    p = problemFor(index, truncated);
    ASSERT_NE(p, nullptr);
    EXPECT_NE(p->reason.find("truncated"), std::string::npos) << p->reason;
    // One of the two identical files is in the tree, the other is reported as its duplicate.
    const Problem* dupCopy = problemFor(index, copy);
    const Problem* dupOriginal = problemFor(index, original);
    ASSERT_TRUE((dupCopy != nullptr) != (dupOriginal != nullptr))
        << "exactly one of the two copies must be reported";
    const Problem* dup = dupCopy ? dupCopy : dupOriginal;
    EXPECT_NE(dup->reason.find("duplicate"), std::string::npos) << dup->reason;
    const std::string other = dupCopy ? original : copy;
    EXPECT_NE(dup->reason.find(fs::path(other).filename().string()), std::string::npos)
        << "the reason should name the file it duplicates: " << dup->reason;
}

TEST(DicomIndex, SameFileGivenTwiceIsIndexedOnceWithoutProblem) {
    const std::string folder = makeTempFolder("index-twice");
    SyntheticImage image;
    writeSynthetic(image, folder + "/one.dcm");
    const StudyIndex index =
        StudyIndexer().index({folder, folder + "/one.dcm", folder + "/./one.dcm"});
    EXPECT_EQ(index.instanceCount(), 1u);
    EXPECT_TRUE(index.problems.empty()) << index.problems.front().reason;
}

TEST(DicomIndex, MissingPathAndMalformedNumberOfFramesAreProblems) {
    REQUIRE_PYDICOM();
    const std::string folder = makeTempFolder("index-missing");
    const std::string badVr = folder + "/badVR.dcm";
    fs::copy_file(std::string(RADIOLENS_PYDICOM_FILES) + "/badVR.dcm", badVr);
    const StudyIndex index = StudyIndexer().index({folder + "/not-there", folder});
    EXPECT_EQ(index.instanceCount(), 0u);
    ASSERT_EQ(index.problems.size(), 2u);
    const Problem* missing = problemFor(index, folder + "/not-there");
    ASSERT_NE(missing, nullptr);
    EXPECT_NE(missing->reason.find("no such file"), std::string::npos) << missing->reason;
    const Problem* bad = problemFor(index, badVr);
    ASSERT_NE(bad, nullptr);
    EXPECT_NE(bad->reason.find("NumberOfFrames"), std::string::npos) << bad->reason;
}

// ---- DICOMDIR -----------------------------------------------------------------------------------

TEST(DicomIndexDicomdir, PydicomDicomdirGivesTheSameTreeAsItsFiles) {
    REQUIRE_PYDICOM();
    std::vector<std::string> folders;
    for (const auto& name : kPatientFolders) {
        folders.push_back(dicomdirTests() + "/" + name);
    }
    const StudyIndex files = StudyIndexer().index(folders);
    // Expectation from the files themselves (files that are problems are in neither tree).
    ASSERT_GT(files.instanceCount(), 20u);
    ASSERT_EQ(files.patients.size(), 2u) << treeText(files);
    const StudyIndex dir = StudyIndexer().index({dicomdirTests() + "/DICOMDIR"});
    EXPECT_TRUE(dir.problems.empty())
        << dir.problems.front().path << ": " << dir.problems.front().reason;
    EXPECT_EQ(dir.patients.size(), files.patients.size());
    EXPECT_EQ(dir.seriesCount(), files.seriesCount());
    EXPECT_EQ(dir.instanceCount(), files.instanceCount());
    EXPECT_EQ(treeText(dir), treeText(files));
}

TEST(DicomIndexDicomdir, ReorderedDicomdirGivesTheSameTree) {
    REQUIRE_PYDICOM();
    // Records in another file order (IMAGE - SERIES - STUDY - PATIENT) with offsets adapted:
    // the hierarchy is followed by offsets, so the tree is the same. Opened as is: a user
    // picks this file in the Open dialog.
    const StudyIndex reference = StudyIndexer().index({dicomdirTests() + "/DICOMDIR"});
    const StudyIndex reordered = StudyIndexer().index({dicomdirTests() + "/DICOMDIR-reordered"});
    ASSERT_GT(reordered.instanceCount(), 0u)
        << "DICOMDIR-reordered (a Media Storage Directory given by path) gave an empty tree "
           "and no problem";
    EXPECT_EQ(treeText(reordered), treeText(reference));
}

TEST(DicomIndexDicomdir, AFileIdThatLeavesTheMediumIsRefused) {
    REQUIRE_PYDICOM();
    // A medium whose DICOMDIR points one image at "..\\OUTSIDE", a DICOM file beside the
    // medium's folder (the same length of value, so the offsets stay right). Found by reading
    // the code after fuzzing (issue 9): the File ID was joined to the folder as it was.
    const std::string scratch = makeTempFolder("index-dicomdir-escape");
    const std::string medium = scratch + "/medium";
    fs::create_directory(medium);
    for (const auto& name : kPatientFolders) {
        fs::create_directory_symlink(dicomdirTests() + "/" + name, medium + "/" + name);
    }
    const std::string outside = scratch + "/OUTSIDE";
    fs::copy_file(dicomdirTests() + "/77654033/CR1/6154", outside);
    std::ifstream in(dicomdirTests() + "/DICOMDIR", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string original = "77654033\\CR1\\6154 ";
    const std::size_t at = bytes.find(original);
    ASSERT_NE(at, std::string::npos);
    std::string escape = "..\\OUTSIDE";
    escape.resize(original.size(), ' ');
    bytes.replace(at, original.size(), escape);
    std::ofstream(medium + "/DICOMDIR", std::ios::binary) << bytes;

    const StudyIndex index = StudyIndexer().index({medium + "/DICOMDIR"});
    for (const PatientEntry& patient : index.patients) {
        for (const StudyEntry& study : patient.studies) {
            for (const SeriesEntry& series : study.series) {
                for (const InstanceEntry& instance : series.instances) {
                    EXPECT_EQ(canonical(instance.path).find(canonical(outside)), std::string::npos)
                        << "read a file outside the medium";
                }
            }
        }
    }
    bool reported = false;
    for (const Problem& p : index.problems) {
        if (p.reason.find("..\\OUTSIDE") != std::string::npos) {
            reported = true;
            EXPECT_NE(p.reason.find("does not name a file below the DICOMDIR's folder"),
                      std::string::npos)
                << p.reason;
        }
    }
    EXPECT_TRUE(reported) << "no problem names the File ID";
    // The rest of the medium is read.
    EXPECT_GT(index.instanceCount(), 20u);
}

TEST(DicomIndexDicomdir, EveryPydicomVariantCopiedAsDicomdir) {
    REQUIRE_PYDICOM();
    const StudyIndex reference = StudyIndexer().index({dicomdirTests() + "/DICOMDIR"});
    ASSERT_GT(reference.instanceCount(), 20u);
    const std::string expected = treeText(reference);
    for (const char* variant : {"DICOMDIR-reordered", "DICOMDIR-implicit", "DICOMDIR-bigEnd",
                                "DICOMDIR-nooffset", "DICOMDIR-nopatient"}) {
        SCOPED_TRACE(variant);
        // The variant as the DICOMDIR of a medium holding the same patient folders.
        const std::string medium = makeTempFolder("index-dicomdir");
        for (const auto& name : kPatientFolders) {
            fs::create_directory_symlink(dicomdirTests() + "/" + name, medium + "/" + name);
        }
        fs::copy_file(dicomdirTests() + "/" + variant, medium + "/DICOMDIR");
        const StudyIndex index = StudyIndexer().index({medium + "/DICOMDIR"});
        EXPECT_FALSE(index.cancelled);
        if (std::string(variant) == "DICOMDIR-nopatient") {
            // Its PATIENT records have an invalid type: a deliberately broken directory. It must
            // not produce a tree of blank patients/studies/series that silently lacks images;
            // either the images are all found (from their files) or the DICOMDIR is reported.
            for (const SeriesEntry* series : index.allSeries()) {
                EXPECT_FALSE(series->seriesInstanceUid.empty())
                    << "a series without SeriesInstanceUID in the tree:\n"
                    << treeText(index);
            }
            for (const PatientEntry& patient : index.patients) {
                for (const StudyEntry& study : patient.studies) {
                    EXPECT_FALSE(study.studyInstanceUid.empty())
                        << "a study without StudyInstanceUID in the tree:\n"
                        << treeText(index);
                }
            }
            const bool complete = index.instanceCount() == reference.instanceCount();
            const bool reported = problemFor(index, medium + "/DICOMDIR") != nullptr;
            EXPECT_TRUE(complete || reported)
                << index.instanceCount() << " of " << reference.instanceCount()
                << " instances and no problem naming the DICOMDIR:\n"
                << treeText(index);
            if (reported) {
                EXPECT_FALSE(problemFor(index, medium + "/DICOMDIR")->reason.empty());
            }
            continue;
        }
        EXPECT_TRUE(index.problems.empty())
            << index.problems.front().path << ": " << index.problems.front().reason;
        EXPECT_EQ(index.instanceCount(), reference.instanceCount());
        EXPECT_EQ(treeText(index), expected);
    }
}

TEST(DicomIndexDicomdir, MissingReferencedFileIsAProblemAndTheRestIsIndexed) {
    REQUIRE_PYDICOM();
    const std::string medium = makeTempFolder("index-dicomdir-missing");
    fs::copy(dicomdirTests() + "/77654033", medium + "/77654033", fs::copy_options::recursive);
    fs::copy(dicomdirTests() + "/98892001", medium + "/98892001", fs::copy_options::recursive);
    fs::copy(dicomdirTests() + "/98892003", medium + "/98892003", fs::copy_options::recursive);
    fs::copy_file(dicomdirTests() + "/DICOMDIR", medium + "/DICOMDIR");
    const StudyIndex reference = StudyIndexer().index({medium + "/DICOMDIR"});
    const std::string removed = medium + "/77654033/CR1/6154";
    ASSERT_TRUE(fs::remove(removed));
    const StudyIndex index = StudyIndexer().index({medium + "/DICOMDIR"});
    EXPECT_EQ(index.instanceCount(), reference.instanceCount() - 1);
    ASSERT_EQ(index.problems.size(), 1u);
    EXPECT_EQ(index.problems[0].path, removed);
    EXPECT_NE(index.problems[0].reason.find("missing"), std::string::npos)
        << index.problems[0].reason;
}

TEST(DicomIndexDicomdir, EmptyFileSetAndBrokenDicomdirDoNotCrash) {
    REQUIRE_PYDICOM();
    // DICOMDIR-empty.dcm is a valid directory without records: nothing, and nothing wrong.
    const StudyIndex empty = StudyIndexer().index({dicomdirTests() + "/DICOMDIR-empty.dcm"});
    EXPECT_EQ(empty.instanceCount(), 0u);
    // A DICOMDIR cut in half: a problem naming it, with a reason.
    const std::string medium = makeTempFolder("index-dicomdir-cut");
    const std::string dicomdir = medium + "/DICOMDIR";
    fs::copy_file(dicomdirTests() + "/DICOMDIR", dicomdir);
    fs::resize_file(dicomdir, fs::file_size(dicomdir) / 2);
    const StudyIndex cut = StudyIndexer().index({dicomdir});
    const Problem* p = problemFor(cut, dicomdir);
    ASSERT_NE(p, nullptr) << treeText(cut);
    EXPECT_FALSE(p->reason.empty());
}

// ---- cancellation -------------------------------------------------------------------------------

namespace {

std::string writeManySmallFiles(int count) {
    const std::string folder = makeTempFolder("index-cancel");
    SyntheticImage base;
    base.studyUid = newUid();
    base.seriesUid = newUid();
    base.rows = base.columns = 4;
    for (int i = 0; i < count; ++i) {
        SyntheticImage image = base;
        image.instanceNumber = i + 1;
        writeSynthetic(image, folder + "/f" + std::to_string(i));
    }
    return folder;
}

} // namespace

TEST(DicomIndexCancel, CancelStopsIndexingEarly) {
    const std::string folder = writeManySmallFiles(300);
    {
        // Sanity: without cancelling every file is indexed.
        const StudyIndex all = StudyIndexer().index({folder});
        ASSERT_EQ(all.instanceCount(), 300u);
        ASSERT_FALSE(all.cancelled);
    }
    {
        // One thread: deterministic. Several threads: ManyThreadsStillReportProgressAndCancel.
        CancelAfterFirstReport sink;
        const StudyIndex index = StudyIndexer(1).index({folder}, &sink);
        EXPECT_TRUE(index.cancelled) << "reports seen: " << sink.fractions.size();
        EXPECT_LT(index.instanceCount(), 300u);
        EXPECT_GE(sink.fractions.size(), 2u);
        for (double f : sink.fractions) {
            EXPECT_GE(f, 0.0);
            EXPECT_LT(f, 1.0) << "no final report after cancelling";
        }
    }
}

TEST(DicomIndexCancel, ManyThreadsStillReportProgressAndCancel) {
    // Progress is reported on the calling thread; with many worker threads the calling thread
    // must still report often enough for Cancel to work.
    const std::string folder = writeManySmallFiles(300);
    for (int attempt = 0; attempt < 5; ++attempt) {
        SCOPED_TRACE("attempt " + std::to_string(attempt));
        CancelAfterFirstReport sink;
        const StudyIndex index = StudyIndexer(16).index({folder}, &sink);
        EXPECT_TRUE(index.cancelled) << "reports seen: " << sink.fractions.size();
        EXPECT_LT(index.instanceCount(), 300u);
    }
}
