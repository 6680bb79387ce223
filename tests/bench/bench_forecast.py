#!/usr/bin/env python3
"""The risk forecaster on PhysioNet 2012 sets A and B (8,000 ICU stays), as issue 7 asks:

  1. Training the default model on all 8,000 stays, wall time (target <= 10 minutes on 2 cores).
  2. The held-out protocol: a fifth of the stays (by a hash of the RecordID, salt "holdout",
     fixed before any model was trained) is held out; the model is trained on the rest (85%
     train, 15% validation by another hash: early stopping, calibration, alert threshold) with
     the defaults and no tuning on the held-out part; then `forecast evaluate` on all 8,000
     measures the held-out stays only (it leaves out the model's own stays). AUROC and AUPRC
     targets >= 0.85 and >= 0.50, ECE <= 0.05, with bootstrap 95% intervals.
  3. One patient's forecast including reading the record (bench_forecast; target <= 5 ms), on
     200 held-out records, against the per-stay cost of one batch in the same process.

With --splits N, instead: N further random splits of the same kind (`forecast train --split
sK`: another hash for the held-out fifth and for validation), two trained at a time, each
evaluated on its own held-out fifth; the mean and standard deviation over splits, as the
published Raindrop figures are reported (theirs over five 80/10/10 splits of sets A, B and C).

usage: python3 tests/bench/bench_forecast.py [BUILD_DIR] [DATA_DIR] [--splits N]
"""
import json
import pathlib
import subprocess
import sys
import tempfile
import time

ARGS = [a for a in sys.argv[1:] if not a.startswith('--') and not a.isdigit()]
SPLITS = int(sys.argv[sys.argv.index('--splits') + 1]) if '--splits' in sys.argv else 0
BUILD = pathlib.Path(ARGS[0] if ARGS else 'build')
DATA = (pathlib.Path(ARGS[1] if len(ARGS) > 1 else '../shared/data') / 'physionet2012').resolve()
CLI = BUILD / 'bin' / 'radiolens-cli'
SETS = ['--data', DATA / 'set-a', '--data', DATA / 'set-b',
        '--outcomes', DATA / 'Outcomes-a.txt', '--outcomes', DATA / 'Outcomes-b.txt']


def run(*args):
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f'{args[0]} failed ({out.returncode}): {out.stderr.strip()[-2000:]}')
    return out.stdout


def note(text):
    """Figures as they come, so a late failure loses nothing."""
    print(text, file=sys.stderr, flush=True)


def repeated_splits(count):
    """Trains and evaluates `count` further splits, two processes at a time."""
    import statistics
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        names = [f's{k}' for k in range(1, count + 1)]
        for pair in (names[i:i + 2] for i in range(0, len(names), 2)):
            jobs = [subprocess.Popen([str(a) for a in (CLI, 'forecast', 'train', *SETS, '--holdout',
                                                       '0.2', '--split', name, '--out', tmp / name)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    for name in pair]
            for name, job in zip(pair, jobs):
                if job.wait() != 0:
                    sys.exit(f'training split {name} failed: {job.stderr.read()[-2000:]}')
                m = json.loads(run(CLI, 'forecast', 'evaluate', '--model', tmp / name, *SETS,
                                   '--json', '--resamples', '200'))
                note(f"split {name}: n {m['n']}, deaths {m['positives']}, AUROC {m['auroc']:.4f}, "
                     f"AUPRC {m['auprc']:.4f}, ECE {m['ece']:.4f}")
                results.append(m)
    print(f"{'split':8} {'n':>6} {'deaths':>7} {'AUROC':>8} {'AUPRC':>8} {'ECE':>8}")
    for name, m in zip([f's{k}' for k in range(1, count + 1)], results):
        print(f"{name:8} {m['n']:6d} {m['positives']:7d} {m['auroc']:8.4f} {m['auprc']:8.4f} {m['ece']:8.4f}")
    summary = {}
    for key in ('auroc', 'auprc', 'ece'):
        values = [m[key] for m in results]
        summary[key] = [statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0]
        print(f"{key.upper():8} mean {summary[key][0]:.4f}  SD {summary[key][1]:.4f}")
    print(json.dumps({'splits': count, **summary}))


def main():
    if not (DATA / 'set-a').is_dir():
        sys.exit(f'{DATA}: PhysioNet 2012 sets A and B are missing')
    if SPLITS:
        repeated_splits(SPLITS)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        start = time.monotonic()
        full = json.loads(run(CLI, 'forecast', 'train', *SETS, '--out', tmp / 'all', '--json'))
        train_seconds = time.monotonic() - start
        note(f"trained on all stays in {train_seconds:.1f} s: {json.dumps(full['training'])}")

        dev = json.loads(run(CLI, 'forecast', 'train', *SETS, '--holdout', '0.2',
                             '--out', tmp / 'dev', '--json'))
        test = json.loads(run(CLI, 'forecast', 'evaluate', '--model', tmp / 'dev', *SETS,
                              '--json'))
        note(f'held out: {json.dumps(test)}')

        used = json.loads((tmp / 'dev' / 'stays.json').read_text())
        seen = set(used['train']) | set(used['validation'])
        held = tmp / 'held-out'
        held.mkdir()
        for folder in ('set-a', 'set-b'):
            for record in sorted((DATA / folder).glob('*.txt')):
                if record.stem not in seen and len(list(held.iterdir())) < 200:
                    (held / record.name).symlink_to(record)
        speed = json.loads(run(BUILD / 'bin' / 'bench_forecast', tmp / 'dev', held,
                               '--stays', 200).strip().splitlines()[-1])

    t = full['training']
    print(f"{'PhysioNet 2012 A+B, in-hospital death':58} {'figure':>10}")
    print(f"{'training on all stays (' + t['trainStays'] + ' train, ' + t['validationStays'] + ' validation)':58} "
          f"{train_seconds / 60:9.2f} min  ({t['epochs']} epochs, best {t['bestEpoch']}; target <= 10 min)")
    print(f"held out: {test['n']} stays, {test['positives']} deaths "
          f"(model trained on {dev['training']['trainStays']}, validated on {dev['training']['validationStays']})")
    for name, target in (('auroc', '>= 0.85'), ('auprc', '>= 0.50'), ('brier', ''),
                         ('ece', '<= 0.05')):
        low, high = test['ci95'][name]
        print(f"  {name.upper():56} {test[name]:10.4f}  (95% CI {low:.4f}-{high:.4f}) {target}")
    print(f"  {'ECE before calibration':56} {test['uncalibratedEce']:10.4f}")
    v = dev['metrics']['validation']
    print(f"  {'validation AUROC (selection, calibration)':56} {v['auroc']['value']:10.4f}")
    print(f"{'one patient: read, clean, encode, forecast (median ms)':58} {speed['forecastMs']:10.2f}"
          f"  (p95 {speed['forecastP95Ms']:.2f}; target <= 5 ms)")
    print(f"{'  per stay in one batch of 200, same process (ms)':58} {speed['batchedPerStayMs']:10.3f}")
    print(f"{'explanation, 64 integrated-gradient steps (ms)':58} {speed['explainMs']:10.1f}")
    print(json.dumps({'trainSeconds': round(train_seconds, 1), 'trainEpochs': int(t['epochs']),
                      'heldOut': {k: test[k] for k in ('n', 'positives', 'auroc', 'auprc', 'brier',
                                                       'ece', 'ci95', 'uncalibratedEce')},
                      'validationAuroc': v['auroc']['value'], 'speed': speed}))


if __name__ == '__main__':
    main()
