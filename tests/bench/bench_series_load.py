#!/usr/bin/env python3
"""Series load, whole process, warm cache: `radiolens-cli info` against ITK's
GDCMSeriesFileNames + ImageSeriesReader (default settings), alternating, median of N runs.

Also reports peak memory above the process's start-up footprint relative to the volume's bytes,
and when the first (middle) slice was ready, from radiolens-cli's --timing line.

    bench_series_load.py BUILD_DIR [SERIES_FOLDER] [--runs 5]
"""
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time


def timed(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f'{cmd[0]} failed: {err.strip()}')
    return seconds, usage.ru_maxrss * 1024, out, err


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    runs = 5
    if '--runs' in sys.argv:
        runs = int(sys.argv[sys.argv.index('--runs') + 1])
        args = [a for a in args if a != str(runs)]
    build = pathlib.Path(args[0] if args else 'build')
    here = pathlib.Path(__file__).resolve().parent
    series = pathlib.Path(args[1]) if len(args) > 1 else \
        here.parents[1] / '..' / 'shared' / 'data' / 'dicom' / 'ct-phantom-philips-140'
    if not series.is_dir():
        print(f'series folder not found: {series}', file=sys.stderr)
        return 77
    cli = build / 'bin' / 'radiolens-cli'
    itk = build / 'bin' / 'itk_series_reader'
    radiolens_cmd = [str(cli), 'info', str(series), '--timing']
    itk_cmd = [str(itk), str(series)]
    timed(radiolens_cmd)  # warm the page cache and the allocator
    timed(itk_cmd)
    rows = {'radiolens': [], 'itk': []}
    for _ in range(runs):
        seconds, _, _, err = timed(radiolens_cmd)
        timing = json.loads(err.strip().splitlines()[-1])['timing']
        rows['radiolens'].append((seconds, timing))
        seconds, peak_itk, _, _ = timed(itk_cmd)
        rows['itk'].append((seconds, peak_itk))
    rl = statistics.median(s for s, _ in rows['radiolens'])
    print('radiolens runs (s): ' + ' '.join(f'{s:.3f}' for s, _ in rows['radiolens']))
    print('ITK runs (s):       ' + ' '.join(f'{s:.3f}' for s, _ in rows['itk']))
    it = statistics.median(s for s, _ in rows['itk'])
    first = statistics.median(t['firstSliceSeconds'] for _, t in rows['radiolens'])
    first_abs = statistics.median(t['firstSliceSinceStartSeconds'] for _, t in rows['radiolens'])
    mem = statistics.median((t['peakRssBytes'] - t['startRssBytes']) / t['volumeBytes']
                            for _, t in rows['radiolens'])
    volume = rows['radiolens'][0][1]['volumeBytes']
    itk_peak = statistics.median(p for _, p in rows['itk'])
    print(f'series: {series} ({volume / 1e6:.1f} MB volume), {runs} alternating runs, medians')
    print(f'{"":34s} {"seconds":>9s}')
    print(f'{"ITK ImageSeriesReader (process)":34s} {it:9.3f}   peak RSS {itk_peak / 1e6:.0f} MB')
    print(f'{"radiolens-cli info (process)":34s} {rl:9.3f}')
    print(f'speed-up: {it / rl:.1f}x (target >= 10x)')
    print(f'peak memory above start-up: {mem:.2f} x volume bytes (target <= 1.3)')
    print(f'first (middle) slice ready: {first * 1000:.1f} ms after the load started (target <= 100), '
          f'{first_abs * 1000:.1f} ms after the process started (indexing included)')
    print(json.dumps({'bench': 'series_load', 'series': str(series), 'runs': runs,
                      'radiolensSeconds': rl, 'itkSeconds': it, 'speedup': it / rl,
                      'peakOverVolume': mem, 'firstSliceSeconds': first,
                      'firstSliceSinceStartSeconds': first_abs}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
