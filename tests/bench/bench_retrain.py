#!/usr/bin/env python3
"""Retraining through the registry reproduces the classifier (issue 6): a fresh store, then
`radiolens-cli retrain --data pneumoniamnist.npz --scratch` with the defaults (ResNet-18, small
stem, 12 epochs, class-balanced, augmented, epoch chosen on validation AUC) on all PneumoniaMNIST
training labels; the published version is evaluated once on the official test split. Baseline
in the same run: `radiolens-cli train` with the same defaults (the classification issue's
command), evaluated the same way. Target: the registry's test AUC within 0.01 of the
classification issue's (0.986).

usage: python3 tests/bench/bench_retrain.py [BUILD_DIR] [DATA_DIR] [--no-baseline]
"""
import json
import pathlib
import subprocess
import sys
import tempfile
import time

ARGS = [a for a in sys.argv[1:] if not a.startswith('--')]
BUILD = pathlib.Path(ARGS[0] if ARGS else 'build')
DATA = pathlib.Path(ARGS[1] if len(ARGS) > 1 else '../shared/data').resolve()
NPZ = DATA / 'medmnist' / 'pneumoniamnist.npz'
CLI = BUILD / 'bin' / 'radiolens-cli'
CLASSIFICATION_ISSUE_TEST_AUC = 0.986


def run(*args):
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f'{args[1]} failed ({out.returncode}): {out.stderr.strip()[-2000:]}')
    return out.stdout


def evaluate(package):
    return json.loads(run(CLI, 'evaluate', '--model', package, '--data', NPZ, '--split', 'test',
                          '--json'))


def main():
    if not NPZ.exists():
        sys.exit(f'{NPZ}: PneumoniaMNIST is missing')
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        store = tmp / 'store.sqlite'
        start = time.monotonic()
        version = json.loads(run(CLI, 'retrain', '--store', store, '--data', NPZ, '--scratch',
                                 '--json'))
        retrain_minutes = (time.monotonic() - start) / 60
        registered = json.loads(run(CLI, 'models', 'list', '--store', store, '--json'))
        assert [v['version'] for v in registered] == [version['version']]
        audit = run(CLI, 'audit', 'verify', '--store', store).strip()
        test = evaluate(version['package'])
        print(f"retrain through the registry: {version['model']} {version['version']}, "
              f"{version['labels']} labelled images, {retrain_minutes:.1f} min", file=sys.stderr)
        baseline = None
        if '--no-baseline' not in sys.argv:
            start = time.monotonic()
            run(CLI, 'train', '--data', NPZ, '--out', tmp / 'baseline')
            baseline_minutes = (time.monotonic() - start) / 60
            baseline = evaluate(tmp / 'baseline')
            baseline['minutes'] = baseline_minutes
    print(f"{'':44} {'test AUC':>9} {'test ACC':>9} {'minutes':>8}")
    print(f"{'retrain --scratch through the registry':44} {test['auc']:9.4f} "
          f"{test['accuracy']:9.4f} {retrain_minutes:8.1f}")
    if baseline:
        print(f"{'train (same defaults), same run':44} {baseline['auc']:9.4f} "
              f"{baseline['accuracy']:9.4f} {baseline['minutes']:8.1f}")
    difference = test['auc'] - CLASSIFICATION_ISSUE_TEST_AUC
    print(f"difference from the classification issue's test AUC {CLASSIFICATION_ISSUE_TEST_AUC}: "
          f"{difference:+.4f} (target within 0.01)")
    print(f"registry: {audit}")
    print(json.dumps({'retrainTestAuc': test['auc'], 'retrainTestAccuracy': test['accuracy'],
                      'retrainMinutes': retrain_minutes, 'validation': version['metrics'],
                      'baselineTestAuc': baseline['auc'] if baseline else None,
                      'baselineMinutes': baseline['minutes'] if baseline else None,
                      'differenceFromIssue5': difference}))


if __name__ == '__main__':
    main()
