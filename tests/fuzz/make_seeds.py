#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz harnesses in a scratch folder, one sub-folder per target.

Seeds are taken by path from the shared data, Debian's pydicom test files, tests/core/hostile
and the product's own writers (fuzz_seeds); they are copied into OUT only, never into the
repository. Sources that are absent are skipped with a note.

    make_seeds.py --out DIR --data ../shared/data --pydicom DIR --hostile tests/core/hostile
                  --fuzz-seeds build/fuzz/bin/fuzz_seeds
"""

import argparse
import io
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

TARGETS = ["dicom", "dicomdir", "physionet", "long_csv", "fhir", "model_card", "forecast_card", "npz"]

# Seeds larger than this slow every mutation down more than they add.
MAX_DICOM_SEED = 400 * 1024


def note(text):
    print(f"make_seeds: {text}", file=sys.stderr)


def copy(source: Path, folder: Path, name=None):
    target = folder / (name or source.name)
    n = 1
    while target.exists():
        target = folder / f"{n}-{name or source.name}"
        n += 1
    shutil.copyfile(source, target)


def dicom_seeds(out: Path, data: Path, pydicom: Path, hostile: Path):
    folder = out / "dicom"
    if (data / "dicom").is_dir():
        for f in sorted((data / "dicom" / "transfer-syntaxes").glob("*.dcm")):
            copy(f, folder, "ts-" + f.name)
        for series in sorted((data / "dicom").iterdir()):
            if series.name != "transfer-syntaxes" and series.is_dir():
                files = sorted(p for p in series.iterdir() if p.is_file() and p.suffix != ".md")
                if files:
                    copy(files[0], folder, series.name + ".dcm")
    else:
        note(f"{data / 'dicom'} is absent: no shared DICOM seeds")
    if pydicom.is_dir():
        for f in sorted(pydicom.glob("*.dcm")):
            if f.stat().st_size <= MAX_DICOM_SEED:
                copy(f, folder, "pydicom-" + f.name)
    else:
        note(f"{pydicom} is absent: no pydicom seeds (python3-pydicom)")
    for f in sorted(hostile.glob("*.dcm")):
        copy(f, folder, "hostile-" + f.name)


def dicomdir_seeds(out: Path, data: Path, pydicom: Path, hostile: Path):
    folder = out / "dicomdir"
    tests = pydicom / "dicomdirtests"
    if tests.is_dir():
        for f in sorted(tests.glob("DICOMDIR*")):
            copy(f, folder, "pydicom-" + f.name)
    for f in sorted(hostile.glob("*DirectoryRecord*")):
        copy(f, folder, "hostile-" + f.name)
    # A directory DCMTK writes for three real images (dcmmkdir, Debian package dcmtk).
    dcmmkdir = shutil.which("dcmmkdir")
    sources = [data / "dicom" / "transfer-syntaxes" / "1.dcm",
               data / "dicom" / "ct-head-ge-tilted" / "01.dcm",
               pydicom / "CT_small.dcm"]
    sources = [s for s in sources if s.is_file()]
    if dcmmkdir and sources:
        with tempfile.TemporaryDirectory() as media:
            images = Path(media) / "IMAGES"
            images.mkdir()
            for i, s in enumerate(sources):
                shutil.copyfile(s, images / f"IM{i + 1}")
            run = subprocess.run([dcmmkdir, "--recurse", "+I", "-Pgp", "IMAGES"], cwd=media,
                                 capture_output=True, text=True)
            if (Path(media) / "DICOMDIR").is_file():
                copy(Path(media) / "DICOMDIR", folder, "dcmmkdir-DICOMDIR")
            else:
                note("dcmmkdir failed: " + run.stderr[-300:])


def physionet_seeds(out: Path, data: Path, hostile: Path):
    folder = out / "physionet"
    records = sorted((data / "physionet2012" / "set-a").glob("*.txt"))[:6]
    if not records:
        note(f"{data / 'physionet2012'} is absent: only written PhysioNet seeds")
    for f in records:
        copy(f, folder)
    outcomes = data / "physionet2012" / "Outcomes-a.txt"
    if outcomes.is_file():
        lines = outcomes.read_text().splitlines(keepends=True)[:20]
        (folder / "Outcomes-a-head.txt").write_text("".join(lines))
    (folder / "written.txt").write_text(
        "Time,Parameter,Value\n00:00,RecordID,1\n00:00,Age,54\n00:00,Gender,0\n"
        "00:00,Height,-1\n00:00,ICUType,4\n00:00,Weight,-1\n00:07,GCS,15\n00:07,HR,73\n"
        "00:07,NIDiasABP,65\n00:37,Temp,35.1\n01:37,Lactate,1.9\n48:00,pH,7.41\n")
    return records


def clinical_seeds(out: Path, fuzz_seeds: Path, records):
    """Long CSV and FHIR seeds: the real records as the product would write them (fuzz_seeds),
    and a few written by hand with units, ISO times and panels."""
    csv, fhir = out / "long_csv", out / "fhir"
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([str(fuzz_seeds), scratch] + [str(r) for r in records[:3]], check=True)
        for f in sorted(Path(scratch).glob("stay-*.csv")):
            copy(f, csv)
        for f in sorted(Path(scratch).glob("stay-*.json")):
            copy(f, fhir)
    (csv / "units.csv").write_text(
        "patient_id,time,variable,value,unit\n"
        "p1,2024-03-01T08:00:00Z,Temp,98.6,[degF]\n"
        "p1,2024-03-01T09:30:00+01:00,Weight,170,[lb_av]\n"
        "p1,2024-03-01T10:00:00Z,FiO2,40,%\n"
        "p1,2024-03-01T11:00:00Z,Gender,female,\n"
        "p2,2024-03-02T00:00:00Z,HR,0,bpm\n")
    (csv / "hours.csv").write_text(
        "patient_id,time,variable,value\n9,2.0,Glucose,120\n9,0.5,Age,61\n9,12:30,HR,-1\n")
    (csv / "outcomes.csv").write_text("patient_id,outcome\np1,1\np2,0\n9,-1\n")
    (fhir / "panel.json").write_text("""{
  "resourceType": "Bundle", "type": "collection", "entry": [
    {"resource": {"resourceType": "Patient", "id": "42", "gender": "male",
                  "birthDate": "1950-02-03"}},
    {"resource": {"resourceType": "Observation", "subject": {"reference": "Patient/42"},
      "effectiveDateTime": "2024-05-01T10:00:00Z",
      "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
      "component": [
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
         "valueQuantity": {"value": 120, "unit": "mmHg", "code": "mm[Hg]"}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
         "valueQuantity": {"value": 80, "unit": "mmHg", "code": "mm[Hg]"}}]}},
    {"resource": {"resourceType": "Observation", "subject": {"reference": "Patient/42"},
      "effectivePeriod": {"start": "2024-05-01T11:00:00Z"},
      "code": {"text": "Temp"},
      "valueQuantity": {"value": 99.1, "code": "[degF]"}}},
    {"resource": {"resourceType": "Observation", "subject": {"reference": "42"},
      "effectiveInstant": "2024-05-01T12:00:00.000Z",
      "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
      "valueQuantity": {"value": 300, "unit": "/min"}}}
  ]}
""")


def card_seeds(out: Path, fuzz_seeds: Path):
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([str(fuzz_seeds), scratch], check=True)
        for f in sorted(Path(scratch).glob("model-card-*.json")):
            copy(f, out / "model_card")
        for f in sorted(Path(scratch).glob("forecast-card*.json")):
            copy(f, out / "forecast_card")


def npy_bytes(descr: str, shape, payload: bytes) -> bytes:
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join(f"{d}, " for d in shape) if len(shape) != 1 else f"{shape[0]},")
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def write_npz(path: Path, arrays, compression):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in arrays.items():
            z.writestr(name + ".npy", data)


def npz_seeds(out: Path, data: Path):
    """Tiny MedMNIST-like archives (3 images per split), written without NumPy, and a slice of
    the real PneumoniaMNIST file when NumPy is there."""
    folder = out / "npz"
    grey = {}
    colour = {}
    multi = {}
    for split in ("train", "val", "test"):
        grey[split + "_images"] = npy_bytes("|u1", (3, 4, 4), bytes(range(48)))
        grey[split + "_labels"] = npy_bytes("<i8", (3, 1), struct.pack("<3q", 0, 1, 1))
        colour[split + "_images"] = npy_bytes("|u1", (2, 2, 2, 3), bytes(range(24)))
        colour[split + "_labels"] = npy_bytes("<u1", (2, 1), bytes([2, 0]))
        multi[split + "_images"] = npy_bytes("|u1", (2, 3, 3), bytes(range(18)))
        multi[split + "_labels"] = npy_bytes("<f4", (2, 3), struct.pack("<6f", 1, 0, 1, 0, 0, 1))
    write_npz(folder / "grey-stored.npz", grey, zipfile.ZIP_STORED)
    write_npz(folder / "grey-deflated.npz", grey, zipfile.ZIP_DEFLATED)
    write_npz(folder / "colour.npz", colour, zipfile.ZIP_DEFLATED)
    write_npz(folder / "multilabel.npz", multi, zipfile.ZIP_STORED)
    (folder / "array.npy").write_bytes(npy_bytes("<f4", (2, 2), struct.pack("<4f", 1, 2, 3, 4)))
    real = data / "medmnist" / "pneumoniamnist.npz"
    if not real.is_file():
        note(f"{real} is absent: no real npz seed")
        return
    try:
        import numpy
    except ImportError:
        note("numpy is absent (python3-numpy): no slice of the real npz")
        return
    with numpy.load(real) as npz:
        sliced = {k: npz[k][:3] for k in npz.files}
    buffer = io.BytesIO()
    numpy.savez_compressed(buffer, **sliced)
    (folder / "pneumoniamnist-slice.npz").write_bytes(buffer.getvalue())
    buffer = io.BytesIO()
    numpy.savez(buffer, **sliced)
    (folder / "pneumoniamnist-slice-stored.npz").write_bytes(buffer.getvalue())


def hostile_seeds(out: Path, hostile: Path):
    """The regression inputs of earlier findings (tests/core/hostile) seed their own targets."""
    for pattern, target in (("*.npz", "npz"), ("*.npy", "npz"), ("*ModelCard*.json", "model_card"),
                            ("*ForecastCard*.json", "forecast_card")):
        for f in sorted(hostile.glob(pattern)):
            copy(f, out / target, "hostile-" + f.name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--pydicom", type=Path, required=True)
    parser.add_argument("--hostile", type=Path, required=True)
    parser.add_argument("--fuzz-seeds", type=Path, required=True)
    args = parser.parse_args()
    for t in TARGETS:
        (args.out / t).mkdir(parents=True, exist_ok=True)
    dicom_seeds(args.out, args.data, args.pydicom, args.hostile)
    dicomdir_seeds(args.out, args.data, args.pydicom, args.hostile)
    records = physionet_seeds(args.out, args.data, args.hostile)
    clinical_seeds(args.out, args.fuzz_seeds, records)
    card_seeds(args.out, args.fuzz_seeds)
    npz_seeds(args.out, args.data)
    hostile_seeds(args.out, args.hostile)
    for t in TARGETS:
        files = list((args.out / t).iterdir())
        print(f"seeds {t}: {len(files)} files, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
