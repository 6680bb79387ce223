#!/usr/bin/env python3
"""Data-parallel training across processes (issue 9): the same `radiolens-cli train` (ResNet-18,
small stem, on the first --train images of PneumoniaMNIST's training split, its whole validation
split, --epochs epochs, global batch 64) run as

  1 process,  2 threads  (the default on a 2-core machine: the baseline to beat)
  1 process,  1 thread
  2 processes on loopback, 1 thread each (the default: cores / processes on this machine)

Reported per configuration: the seconds per epoch (the median over the epochs after the first,
each timed from one epoch line on stderr to the next, validation included), the ratio to the
2-thread process, the final validation AUC (from the card) and the wall time of the whole
command. Two processes train the same model as one, to rounding (tests/cli/
test_distributed_cli.py), so their AUCs should agree closely.

usage: python3 tests/bench/bench_distributed.py [BUILD_DIR] [DATA_DIR] [--train N] [--epochs E]
                                                [--rounds R]
Rounds repeat the three configurations in turn (alternating); the medians are over all rounds.
"""
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np


def option(name, default):
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1])
    return default


ARGS = []
skip = False
for a in sys.argv[1:]:
    if skip:
        skip = False
    elif a.startswith('--'):
        skip = True
    else:
        ARGS.append(a)
BUILD = pathlib.Path(ARGS[0] if ARGS else 'build')
DATA = pathlib.Path(ARGS[1] if len(ARGS) > 1 else '../shared/data').resolve()
NPZ = DATA / 'medmnist' / 'pneumoniamnist.npz'
CLI = str((BUILD / 'bin' / 'radiolens-cli').resolve())
TRAIN = option('--train', 1600)
EPOCHS = option('--epochs', 4)
ROUNDS = option('--rounds', 1)
TRAINING = ['--arch', 'resnet18', '--stem', 'small', '--epochs', str(EPOCHS), '--batch', '64',
            '--seed', '1', '--json']


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Run:
    """One radiolens-cli process; the time each epoch line arrives on its stderr."""

    def __init__(self, args):
        self.started = time.monotonic()
        self.process = subprocess.Popen([CLI, *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.epoch_times = []
        self.stderr = []
        self.reader = threading.Thread(target=self.read)
        self.reader.start()

    def read(self):
        for line in self.process.stderr:
            self.stderr.append(line)
            if line.startswith('epoch ') and 'validation AUC' in line:
                self.epoch_times.append(time.monotonic())

    def finish(self):
        out = self.process.stdout.read()
        self.process.wait()
        self.reader.join()
        self.seconds = time.monotonic() - self.started
        if self.process.returncode != 0:
            sys.exit('radiolens-cli failed: ' + ''.join(self.stderr)[-2000:])
        return json.loads(out)

    def epoch_seconds(self):
        return [b - a for a, b in zip(self.epoch_times, self.epoch_times[1:])]


def train(data, out, processes, threads):
    if processes == 1:
        run = Run(['train', '--data', data, '--out', out, *TRAINING, '--threads', str(threads)])
        return run.finish(), run
    master = f'127.0.0.1:{free_port()}'
    runs = [Run(['train', '--data', data, '--out', f'{out}-{r}', *TRAINING,
                 '--world-size', str(processes), '--rank', str(r), '--master', master])
            for r in range(processes)]
    cards = [r.finish() for r in runs]
    assert all(c['metrics'] == cards[0]['metrics'] for c in cards), 'the ranks disagree'
    assert os.path.exists(f'{out}-0/card.json') and not os.path.exists(f'{out}-1')
    return cards[0], runs[0]


def main():
    if not NPZ.exists():
        sys.exit(f'{NPZ}: PneumoniaMNIST is missing')
    configurations = [('1 process x 2 threads', 1, 2), ('1 process x 1 thread', 1, 1),
                      ('2 processes x 1 thread', 2, 1)]
    results = {name: {'epochSeconds': [], 'auc': [], 'wallSeconds': []}
               for name, _, _ in configurations}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        source = np.load(NPZ)
        subset = tmp / f'pneumoniamnist-{TRAIN}.npz'
        arrays = {k: source[k] for k in source.files}
        arrays['train_images'] = arrays['train_images'][:TRAIN]
        arrays['train_labels'] = arrays['train_labels'][:TRAIN]
        np.savez(subset, **arrays)
        print(f'PneumoniaMNIST: {len(arrays["train_images"])} training, '
              f'{len(arrays["val_images"])} validation images; ResNet-18 (small stem), '
              f'{EPOCHS} epochs, batch 64', file=sys.stderr)
        for round_ in range(ROUNDS):
            for name, processes, threads in configurations:
                card, run = train(subset, tmp / f'{round_}-{processes}x{threads}', processes,
                                  threads)
                r = results[name]
                r['epochSeconds'] += run.epoch_seconds()
                r['auc'].append(card['metrics']['validation']['auc'])
                r['wallSeconds'].append(run.seconds)
                print(f'  round {round_ + 1}: {name}: epochs '
                      + ', '.join(f'{s:.1f}' for s in run.epoch_seconds())
                      + f' s; validation AUC {card["metrics"]["validation"]["auc"]:.4f}; '
                      f'{run.seconds:.0f} s in all', file=sys.stderr)
    baseline = statistics.median(results['1 process x 2 threads']['epochSeconds'])
    print(f'\n| configuration | s per epoch (median) | vs 1 x 2 threads | validation AUC | '
          f'wall s |')
    print('|---|---|---|---|---|')
    summary = {}
    for name, processes, threads in configurations:
        r = results[name]
        median = statistics.median(r['epochSeconds'])
        summary[name] = {'processes': processes, 'threadsEach': threads,
                         'secondsPerEpoch': round(median, 2),
                         'epochSeconds': [round(s, 2) for s in r['epochSeconds']],
                         'speedVsOneProcessTwoThreads': round(baseline / median, 3),
                         'validationAuc': r['auc'], 'wallSeconds': [round(s, 1) for s in r['wallSeconds']]}
        print(f'| {name} | {median:.1f} | {baseline / median:.2f}x | '
              + ' / '.join(f'{a:.4f}' for a in r['auc'])
              + f' | {statistics.median(r["wallSeconds"]):.0f} |')
    print(json.dumps({'benchmark': 'distributed-training', 'trainImages': TRAIN,
                      'epochs': EPOCHS, 'rounds': ROUNDS, 'results': summary}))


if __name__ == '__main__':
    main()
