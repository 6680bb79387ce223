// Importing vitals and labs (core/ml/ClinicalImport): PhysioNet 2012 records from the shared
// data, and written-out PhysioNet, long-CSV and FHIR files with every kind of bad input. Each
// rule must drop what it says, name the file and line, and let the rest import.

#include "core/domain/PatientSeries.h"
#include "core/ml/ClinicalImport.h"

#include "tests/common/Scratch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

using test::scratch;

void write(const fs::path& path, const std::string& text) {
    std::ofstream(path) << text;
}

/// The values of variable `name` in `stay`, in time order.
std::vector<Observation> valuesOf(const PatientStay& stay, const std::string& name) {
    std::vector<Observation> out;
    for (const auto& o : stay.observations) {
        if (o.variable == clinicalVariableIndex(name)) {
            out.push_back(o);
        }
    }
    return out;
}

bool mentions(const ImportReport& report, const std::string& text) {
    for (const auto& p : report.problems) {
        if (p.find(text) != std::string::npos) {
            return true;
        }
    }
    return false;
}

TEST(ClinicalCatalogue, KnowsPhysioNetVariablesUnitsAndCodes) {
    EXPECT_EQ(clinicalVariables().size(), 4u + 37u); // statics, then the 37 time series
    EXPECT_EQ(clinicalVariableIndex("Age"), 0);
    EXPECT_EQ(clinicalVariableIndex("ICUType"), 3);
    EXPECT_EQ(clinicalVariableIndex("Nonsense"), -1);
    EXPECT_EQ(clinicalVariableByLoinc("8867-4"), clinicalVariableIndex("HR"));
    const auto& temp = clinicalVariables()[std::size_t(clinicalVariableIndex("Temp"))];
    double value = 98.6;
    ASSERT_TRUE(temp.toCanonical("[degF]", value));
    EXPECT_NEAR(value, 37.0, 1e-9);
    value = 1.0;
    EXPECT_FALSE(temp.toCanonical("kelvinish", value));
    const auto& fio2 = clinicalVariables()[std::size_t(clinicalVariableIndex("FiO2"))];
    value = 40.0;
    ASSERT_TRUE(fio2.toCanonical("%", value));
    EXPECT_NEAR(value, 0.4, 1e-12);
}

TEST(ClinicalImport, PhysioNetSetAWithOutcomes) {
    const fs::path data = fs::path(RADIOLENS_DATA_DIR) / "physionet2012";
    if (!fs::exists(data / "set-a")) {
        GTEST_SKIP() << "shared data missing: " << data << " (issue 7)";
    }
    const ClinicalDataset set =
        importClinical({(data / "set-a").string()}, {(data / "Outcomes-a.txt").string()});
    const ImportReport& r = set.report;
    EXPECT_EQ(r.files, 4000u);
    EXPECT_EQ(set.stays.size() + r.staysWithoutData.size(), 4000u);
    // Three records hold only their statics.
    for (const char* id : {"140501", "140936", "141264"}) {
        EXPECT_NE(std::find(r.staysWithoutData.begin(), r.staysWithoutData.end(), id),
                  r.staysWithoutData.end())
            << id;
    }
    EXPECT_EQ(r.outcomesMissing, 0u);
    int deaths = 0;
    for (const auto& s : set.stays) {
        deaths += s.outcome == 1;
        ASSERT_TRUE(std::is_sorted(
            s.observations.begin(), s.observations.end(),
            [](const Observation& a, const Observation& b) { return a.hours < b.hours; }));
    }
    EXPECT_EQ(deaths, 554); // Outcomes-a.txt: 554 of 4000; none of them among the empty three
    // Record 132539: statics at 00:00 (height -1: missing), first vitals at 00:07.
    const auto it = std::find_if(set.stays.begin(), set.stays.end(),
                                 [](const PatientStay& s) { return s.id == "132539"; });
    ASSERT_NE(it, set.stays.end());
    EXPECT_EQ(it->age, 54);
    EXPECT_EQ(it->gender, 0);
    EXPECT_EQ(it->icuType, 4);
    EXPECT_TRUE(std::isnan(it->height));
    EXPECT_TRUE(std::isnan(it->weight));
    const auto hr = valuesOf(*it, "HR");
    ASSERT_FALSE(hr.empty());
    EXPECT_NEAR(hr[0].hours, 7.0 / 60.0, 1e-9);
    EXPECT_EQ(hr[0].value, 73);
    EXPECT_EQ(it->outcome, 0);
    // The rules ran and say what they dropped.
    EXPECT_GT(r.droppedByVariable.at("Height: missing marker (-1)"), 1000u);
    EXPECT_GT(r.droppedByVariable.at("pH: impossible value"), 0u); // pH 95, 100 and 3 are in set-a
    EXPECT_GT(r.dropped.at("impossible value"), 0u);
    EXPECT_EQ(r.dropped.count("unparseable row"), 0u);
    EXPECT_NE(r.summary().find("stays without any time-series value, left out: 3"),
              std::string::npos);
}

TEST(ClinicalImport, DamagedPhysioNetRecordsAreReportedAndTheRestImports) {
    const fs::path dir = scratch("physionet-bad");
    write(dir / "1.txt", "Time,Parameter,Value\n"
                         "00:00,RecordID,1\n00:00,Age,70\n00:00,Gender,1\n00:00,Weight,80\n"
                         "00:10,HR,0\n"       // impossible: dropped
                         "00:10,HR,88\n"      // kept
                         "00:20,Frobnitz,3\n" // unknown variable
                         "garbage\n"          // unparseable (line 9)
                         "00:30,Temp,abc\n"   // not a number (line 10)
                         "99:99,HR,80\n"      // bad time (line 11)
                         "01:00,FiO2,-1\n"    // missing marker
                         "01:30,Weight,82\n");
    write(dir / "2.txt", "Time,Parameter,Value\n00:00,RecordID,2\n00:00,Age,50\n");
    write(dir / "3.txt", "Time,Parameter,Value\n00:00,RecordID,3\n02:00,HR,70\n01:00,HR,60\n");
    const ClinicalDataset set = importPhysioNet2012(dir.string());
    const ImportReport& r = set.report;
    ASSERT_EQ(set.stays.size(), 2u);
    EXPECT_EQ(r.staysWithoutData, std::vector<std::string>{"2"});
    const PatientStay& one = set.stays[0];
    EXPECT_EQ(one.id, "1");
    EXPECT_EQ(one.weight, 80); // the first weight; both weights stay in the series
    EXPECT_EQ(valuesOf(one, "Weight").size(), 2u);
    ASSERT_EQ(valuesOf(one, "HR").size(), 1u);
    EXPECT_EQ(valuesOf(one, "HR")[0].value, 88);
    EXPECT_EQ(r.droppedByVariable.at("HR: impossible value"), 1u);
    EXPECT_EQ(r.droppedByVariable.at("Frobnitz: unknown variable"), 1u);
    EXPECT_EQ(r.droppedByVariable.at("FiO2: missing marker (-1)"), 1u);
    EXPECT_EQ(r.dropped.at("unparseable row"), 3u);
    EXPECT_TRUE(mentions(r, "physionet-bad/1.txt:9: expected Time,Parameter,Value"));
    EXPECT_TRUE(mentions(r, "physionet-bad/1.txt:10: the value 'abc' of Temp is not a number"));
    EXPECT_TRUE(mentions(r, "physionet-bad/1.txt:11: the time '99:99' is not HH:MM"));
    // Record 3's rows were out of order: sorted.
    EXPECT_EQ(valuesOf(set.stays[1], "HR")[0].value, 60);
}

TEST(ClinicalImport, LongCsvConvertsUnitsAndReadsIsoTimes) {
    const fs::path dir = scratch("long-csv");
    write(dir / "stays.csv", "patient_id,time,variable,value,unit\n"
                             "p1,2024-03-01T08:00:00Z,Temp,98.6,degF\n"
                             "p1,2024-03-01T10:30:00+01:00,HR,90,/min\n" // 09:30 UTC
                             "p1,2024-03-01T08:00:00Z,Gender,F,\n"
                             "p1,2024-03-01T08:00:00Z,Weight,176.37,[lb_av]\n"
                             "p1,2024-03-01T11:00:00Z,Glucose,5.5,mmol/L\n"
                             "p1,2024-03-01T12:00:00Z,HR,80,furlongs\n" // unknown unit
                             "p1,12.5,HR,80,\n" // hours in a file of date-times
                             "p2,2024-03-02T00:00:00Z,SaO2,97,%\n"
                             "p2,yesterday,HR,70,\n"); // unreadable time
    write(dir / "outcomes.csv", "patient_id,outcome\np1,1\n");
    const ClinicalDataset set =
        importClinical({(dir / "stays.csv").string()}, {(dir / "outcomes.csv").string()});
    const ImportReport& r = set.report;
    ASSERT_EQ(set.stays.size(), 2u);
    const PatientStay& p1 = set.stays[0];
    EXPECT_EQ(p1.gender, 0);
    EXPECT_NEAR(p1.weight, 80.0, 0.01);
    EXPECT_NEAR(valuesOf(p1, "Temp")[0].value, 37.0, 1e-9);
    EXPECT_NEAR(valuesOf(p1, "Temp")[0].hours, 0.0, 1e-9);
    EXPECT_NEAR(valuesOf(p1, "HR")[0].hours, 1.5, 1e-9);
    EXPECT_NEAR(valuesOf(p1, "Glucose")[0].value, 99.1, 0.1);
    EXPECT_EQ(p1.outcome, 1);
    EXPECT_EQ(set.stays[1].outcome, -1);
    EXPECT_EQ(r.outcomesMissing, 1u);
    EXPECT_EQ(r.converted, 3u); // Temp, Weight, Glucose
    EXPECT_EQ(r.droppedByVariable.at("HR in furlongs: unknown unit"), 1u);
    EXPECT_TRUE(mentions(r, "stays.csv:8: the time '12.5' is not in the form"));
    EXPECT_TRUE(mentions(r, "stays.csv:10: the time 'yesterday' is neither"));
}

TEST(ClinicalImport, FhirObservationsWithPanelsAndPatients) {
    const fs::path dir = scratch("fhir");
    write(dir / "bundle.json", R"({
      "resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "42", "gender": "male",
                      "birthDate": "1950-06-15"}},
        {"resource": {"resourceType": "Observation", "subject": {"reference": "Patient/42"},
          "effectiveDateTime": "2020-06-16T10:00:00Z",
          "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
          "valueQuantity": {"value": 72, "unit": "beats/minute", "code": "/min"}}},
        {"resource": {"resourceType": "Observation", "subject": {"reference": "Patient/42"},
          "effectiveDateTime": "2020-06-16T12:00:00Z",
          "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
          "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": 120, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": 80, "code": "mm[Hg]"}}]}},
        {"resource": {"resourceType": "Observation", "subject": {"reference": "Patient/42"},
          "effectiveDateTime": "2020-06-16T13:00:00Z",
          "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
          "valueQuantity": {"value": 101.3, "code": "[degF]"}}},
        {"resource": {"resourceType": "Observation", "subject": {"reference": "Patient/42"},
          "effectiveDateTime": "2020-06-16T13:00:00Z",
          "code": {"coding": [{"system": "http://loinc.org", "code": "99999-9"}]},
          "valueQuantity": {"value": 1}}},
        {"resource": {"resourceType": "Observation", "subject": {"reference": "Patient/42"},
          "effectiveDateTime": "2020-06-16T14:00:00Z",
          "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
          "valueString": "fast"}}
      ]})");
    const ClinicalDataset set = importFhirBundle((dir / "bundle.json").string());
    ASSERT_EQ(set.stays.size(), 1u);
    const PatientStay& p = set.stays[0];
    EXPECT_EQ(p.id, "42");
    EXPECT_EQ(p.gender, 1);
    EXPECT_EQ(p.age, 70);
    EXPECT_EQ(valuesOf(p, "HR")[0].value, 72);
    EXPECT_EQ(valuesOf(p, "HR")[0].hours, 0.0);
    EXPECT_EQ(valuesOf(p, "NISysABP")[0].value, 120);
    EXPECT_EQ(valuesOf(p, "NIDiasABP")[0].value, 80);
    EXPECT_EQ(valuesOf(p, "NIDiasABP")[0].hours, 2.0);
    EXPECT_NEAR(valuesOf(p, "Temp")[0].value, 38.5, 1e-9);
    EXPECT_EQ(set.report.droppedByVariable.at("LOINC 99999-9: unknown variable"), 1u);
    EXPECT_TRUE(mentions(set.report, "bundle.json: entry 5: no numeric valueQuantity"));
}

TEST(ClinicalImport, OneStayPerIdAcrossInputs) {
    const fs::path dir = scratch("joined");
    write(dir / "labs.csv", "patient_id,time,variable,value\n9,2.0,Glucose,120\n9,0.5,Age,61\n");
    // Only statics here: not a stay without data, since the other inputs have its values.
    write(dir / "people.csv", "patient_id,time,variable,value\n9,0,Gender,M\n");
    write(dir / "vitals.csv", "patient_id,time,variable,value\n9,1.0,HR,80\n9,0.5,Age,99\n");
    const ClinicalDataset set =
        importClinical({(dir / "people.csv").string(), (dir / "labs.csv").string(),
                        (dir / "vitals.csv").string()});
    ASSERT_EQ(set.stays.size(), 1u);
    EXPECT_TRUE(set.report.staysWithoutData.empty());
    EXPECT_EQ(set.stays[0].gender, 1);
    EXPECT_EQ(set.stays[0].age, 61); // the first input's
    ASSERT_EQ(set.stays[0].observations.size(), 2u);
    EXPECT_EQ(set.stays[0].observations[0].variable, clinicalVariableIndex("HR"));
    EXPECT_EQ(set.stays[0].observations[1].variable, clinicalVariableIndex("Glucose"));
}

TEST(ClinicalImport, RefusesWhatIsNotClinicalData) {
    const fs::path dir = scratch("not-clinical");
    write(dir / "x.json", R"({"resourceType": "Patient"})");
    write(dir / "bad.csv", "a,b,c\n1,2,3\n");
    EXPECT_THROW(importFhirBundle((dir / "x.json").string()), std::runtime_error);
    EXPECT_THROW(importLongCsv((dir / "bad.csv").string()), std::runtime_error);
    EXPECT_THROW(importPhysioNet2012((dir / "missing").string()), std::runtime_error);
    EXPECT_THROW(importClinical({(dir / "x.txt").string()}), std::runtime_error);
    try {
        importLongCsv((dir / "bad.csv").string());
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("bad.csv"), std::string::npos);
    }
}

} // namespace
