"""No patient-identifying value in the logs the test suite produced (issue 9).

Run by CTest after every other test (fixture cleanup): every file in RADIOLENS_LOG_DIR (the
operational log and crash reports of all the commands, windows and tests that ran) is scanned
for the patient names and IDs of the test data: the shared DICOM series and Debian's pydicom
test files. Fails, naming the file, line and value, when one is found; skips when the tests
that ran wrote no log (python.test_cli checks that commands do log).

usage: check_logs_for_phi.py --clear | --check
"""
import os
import pathlib
import re
import shutil
import sys
import warnings

warnings.filterwarnings('ignore')  # pydicom's notes on odd test files

LOGS = pathlib.Path(os.environ.get('RADIOLENS_LOG_DIR', ''))
DATA = pathlib.Path(os.environ.get('RADIOLENS_DATA_DIR', '../shared/data'))
PYDICOM_FILES = pathlib.Path(os.environ.get('RADIOLENS_PYDICOM_FILES', ''))
# Words that are placeholders in de-identified data, not anybody's name.
NOT_NAMES = {'REMOVED', 'ANONYMOUS', 'ANONYMIZED', 'ANON', 'PATIENT', 'TEST', 'PHANTOM',
             'UNKNOWN', 'NONE', 'SYNTHETIC', 'DEMO', 'HEAD', 'CHEST', 'NAME', 'FIRST', 'LAST'}


def identifiers():
    """(value, where it came from) for every patient name, name part and ID in the test data."""
    try:
        import pydicom
    except ImportError:
        print('skipped: pydicom is not installed (apt-get install python3-pydicom; issue 9)')
        sys.exit(77)
    found = {}
    folders = [DATA / 'dicom', PYDICOM_FILES]
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.rglob('*'):
            if not path.is_file():
                continue
            try:
                d = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            except Exception:
                continue
            name = str(d.get('PatientName', '') or '')
            pid = str(d.get('PatientID', '') or '')
            for value in [name, pid] + name.replace('^', ' ').split():
                value = value.strip()
                if len(value) >= 4 and value.upper() not in NOT_NAMES:
                    found.setdefault(value, str(path))
    return found


def main():
    if not LOGS.parts:
        print('RADIOLENS_LOG_DIR is not set; run through ctest')
        return 77
    if '--clear' in sys.argv:
        shutil.rmtree(LOGS, ignore_errors=True)
        LOGS.mkdir(parents=True, exist_ok=True)
        return 0
    values = identifiers()
    if len(values) < 5:
        print(f'skipped: too few patient identifiers in the test data ({len(values)}); '
              f'is ../shared/data there?')
        return 77
    files = [p for p in LOGS.rglob('*') if p.is_file()]
    lines = sum(p.read_text(errors='replace').count('\n') for p in files)
    print(f'{len(values)} patient names and IDs from the test data; {len(files)} log file(s), '
          f'{lines} lines')
    if lines == 0:
        # The commands' own tests check that they log; here nothing ran that logs.
        print(f'skipped: the tests that ran left no log in {LOGS}')
        return 77
    leaks = []
    for path in files:
        for number, line in enumerate(path.read_text(errors='replace').splitlines(), 1):
            for value, source in values.items():
                if re.search(r'(?<![A-Za-z0-9])' + re.escape(value) + r'(?![A-Za-z0-9])', line):
                    leaks.append(f'{path}:{number}: "{value}" (patient of {source})')
    for leak in leaks[:50]:
        print('LEAK', leak)
    if leaks:
        print(f'FAIL: {len(leaks)} patient identifier(s) in the logs')
        return 1
    print('no patient name or ID in the logs')
    return 0


if __name__ == '__main__':
    sys.exit(main())
