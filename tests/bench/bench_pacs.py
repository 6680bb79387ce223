#!/usr/bin/env python3
"""Retrieval speed against a real Orthanc on loopback (issue 8): the 140-slice Philips CT
(72 MB) fetched with `radiolens-cli pacs get` (C-GET) and `pacs move` (C-MOVE to its own
listener), against DCMTK's own getscu and movescu (the baseline) from the same server in the same
run, alternating, five runs each; a query at study level with `pacs find` against findscu.
Median wall time per run, including process start and association set-up.

usage: python3 tests/bench/bench_pacs.py [BUILD_DIR] [DATA_DIR] [--runs N]
"""
import json
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / 'cli'))
import orthanc_fixture  # noqa: E402

ARGS = [a for a in sys.argv[1:] if not a.startswith('--')]
BUILD = pathlib.Path(ARGS[0] if ARGS else 'build')
DATA = pathlib.Path(ARGS[1] if len(ARGS) > 1 else '../shared/data').resolve()
RUNS = int(sys.argv[sys.argv.index('--runs') + 1]) if '--runs' in sys.argv else 5
SERIES = DATA / 'dicom' / 'ct-phantom-philips-140'
CLI = (BUILD / 'bin' / 'radiolens-cli').resolve()


def timed(args):
    start = time.perf_counter()
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f'{args[0]} failed ({out.returncode}): {out.stderr.strip()[-2000:]}')
    return seconds


def main():
    if not SERIES.is_dir():
        sys.exit(f'{SERIES} not found (give DATA_DIR)')
    for tool in ('getscu', 'movescu', 'findscu'):
        if shutil.which(tool) is None:
            sys.exit(f'{tool} not found (apt-get install dcmtk)')
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        move_port = orthanc_fixture.free_port()
        server = orthanc_fixture.Orthanc(root / 'orthanc', 'RADIOLENS', move_port)
        try:
            port = str(server.dicom_port)
            subprocess.run([CLI, 'pacs', 'store', '--node', server.node, SERIES], check=True,
                           capture_output=True)
            study = json.loads(subprocess.run(
                [CLI, 'pacs', 'find', '--node', server.node, '--json'], check=True,
                capture_output=True, text=True).stdout)[0]['studyInstanceUid']
            files = len(list(SERIES.iterdir()))
            megabytes = sum(p.stat().st_size for p in SERIES.iterdir()) / 1e6
            store = root / 'store.sqlite'
            cases = {
                'C-GET radiolens': lambda d: [CLI, 'pacs', 'get', '--node', server.node,
                                              '--study', study, '--to', d, '--store', store],
                'C-GET getscu': lambda d: ['getscu', '-aet', 'RADIOLENS', '-aec', 'ORTHANC',
                                           '-od', d, '-k', 'QueryRetrieveLevel=STUDY',
                                           '-k', f'StudyInstanceUID={study}', '127.0.0.1', port],
                'C-MOVE radiolens': lambda d: [CLI, 'pacs', 'move', '--node', server.node,
                                               '--study', study, '--to', d, '--port', move_port,
                                               '--aet', 'RADIOLENS', '--store', store],
                'C-MOVE movescu': lambda d: ['movescu', '-aet', 'RADIOLENS', '-aem', 'RADIOLENS',
                                             '-aec', 'ORTHANC', '+P', move_port, '-od', d,
                                             '-k', 'QueryRetrieveLevel=STUDY',
                                             '-k', f'StudyInstanceUID={study}', '127.0.0.1',
                                             port],
                'C-FIND radiolens': lambda d: [CLI, 'pacs', 'find', '--node', server.node],
                'C-FIND findscu': lambda d: ['findscu', '-S', '-aet', 'RADIOLENS', '-aec',
                                             'ORTHANC', '-k', 'QueryRetrieveLevel=STUDY',
                                             '-k', 'StudyInstanceUID', '127.0.0.1', port],
            }
            times = {name: [] for name in cases}
            for run in range(RUNS):
                for name, command in cases.items():
                    folder = root / f'{name.replace(" ", "-")}-{run}'
                    folder.mkdir()
                    times[name].append(timed(command(folder)))
                    if name.startswith(('C-GET', 'C-MOVE')):
                        got = sum(1 for p in folder.rglob('*') if p.is_file() and
                                  not p.name.startswith('.'))
                        if got != files:
                            sys.exit(f'{name}: {got} of {files} files arrived')
                    shutil.rmtree(folder)
        finally:
            server.stop()
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f'{files} instances, {megabytes:.0f} MB, Orthanc on loopback, median of {RUNS} runs')
    print(f'{"":18} {"median s":>9} {"MB/s":>7} {"vs DCMTK tool":>14}')
    for op, tool in (('C-GET', 'getscu'), ('C-MOVE', 'movescu'), ('C-FIND', 'findscu')):
        ours, theirs = medians[f'{op} radiolens'], medians[f'{op} {tool}']
        rate = f'{megabytes / ours:7.1f}' if op != 'C-FIND' else f'{"":7}'
        print(f'{op + " radiolens":18} {ours:9.3f} {rate} {ours / theirs:13.2f}x')
        rate = f'{megabytes / theirs:7.1f}' if op != 'C-FIND' else f'{"":7}'
        print(f'{op + " " + tool:18} {theirs:9.3f} {rate} {"(baseline)":>14}')
    print(json.dumps({'instances': files, 'megabytes': round(megabytes, 1), 'runs': RUNS,
                      'medianSeconds': {k: round(v, 4) for k, v in medians.items()}}))


if __name__ == '__main__':
    main()
