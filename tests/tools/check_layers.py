#!/usr/bin/env python3
"""Fails when a source file includes a header its layer may not see (DESIGN.md section 1).

- core/ is headless: no Qt GUI or Widgets headers anywhere in core/.
- DCMTK appears only in core/dicom (and in tests that write synthetic DICOM).
- ITK appears only in core/imaging, core/dicom (and tests).
- GDCM appears only in core/dicom's plugin.
- LibTorch appears only in the ML plugin's .cpp files, core/ml/engine/*.cpp, never in a header;
  the plugin's own (plain C++) headers are private to it: nothing outside core/ml/engine and
  the ML tests includes them.
- SQLite appears only in core/store .cpp files.
- Qt appears in core/ only in core/tasks (QtCore).
- ui/ and app/ reach third-party imaging libraries only through core/.
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
SOURCES = {'.h', '.hpp', '.cpp', '.cc', '.cxx'}

def classify(header):
    if header.startswith('dcmtk/'):
        return 'dcmtk'
    if header.startswith(('itk', 'ITK')):
        return 'itk'
    if header.startswith('gdcm'):
        return 'gdcm'
    if header.startswith('sqlite3'):
        return 'sqlite'
    if header.startswith(('torch/', 'ATen/', 'c10/')):
        return 'torch'
    if header.startswith('core/ml/engine/'):
        return 'mlengine'
    if header.startswith(('QtWidgets', 'QtGui', 'QWidget', 'QMainWindow', 'QPainter', 'QPixmap',
                          'QImage', 'QApplication', 'QtOpenGL', 'QtCharts')):
        return 'qtgui'
    if header.startswith('Q') or header.startswith('Qt'):
        return 'qtcore'
    return None

def allowed(rel, kind):
    parts = rel.parts
    top = parts[0]
    layer = parts[1] if len(parts) > 2 else ''
    is_header = rel.suffix in {'.h', '.hpp'}
    in_engine = parts[:3] == ('core', 'ml', 'engine')
    if kind == 'mlengine':
        return in_engine or (top == 'tests' and 'ml' in parts)
    if top == 'tests':
        return kind != 'torch' or 'ml' in parts
    if top == 'core':
        if kind == 'qtgui':
            return False
        if kind == 'qtcore':
            return layer == 'tasks'
        if kind == 'dcmtk':
            return layer == 'dicom'
        if kind == 'gdcm':
            return layer == 'dicom' and rel.name.startswith('GdcmPlugin') and not is_header
        if kind == 'itk':
            return layer in ('imaging', 'dicom')
        if kind == 'torch':
            return in_engine and not is_header
        if kind == 'sqlite':
            return layer == 'store' and not is_header
        return True
    if top in ('ui', 'app'):
        return kind in (None, 'qtcore', 'qtgui')
    return True

def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else '.').resolve()
    violations = []
    checked = 0
    for top in ('core', 'ui', 'app', 'tests'):
        for path in sorted((root / top).rglob('*')):
            if path.suffix not in SOURCES or not path.is_file():
                continue
            rel = path.relative_to(root)
            checked += 1
            text = path.read_text(errors='replace')
            for match in INCLUDE.finditer(text):
                header = match.group(1)
                kind = classify(header)
                if kind and not allowed(rel, kind):
                    line = text.count('\n', 0, match.start()) + 1
                    violations.append(f'{rel}:{line}: {kind} header <{header}> not allowed here')
    if checked == 0:
        print(f'no sources found under {root}', file=sys.stderr)
        return 1
    for v in violations:
        print(v)
    print(f'{checked} files checked, {len(violations)} layering violations')
    return 1 if violations else 0

if __name__ == '__main__':
    sys.exit(main())
