"""Data-parallel training as a user runs it: two `radiolens-cli train` processes on loopback
(LibTorch's c10d, Gloo backend) train the model one process trains, to rounding; only rank 0
writes it; `retrain` publishes one version; a process whose master never comes, or whose peer
is killed, fails within the timeout with a message naming the master, instead of hanging; bad
combinations of options are usage errors.

The tolerance: with the same global batches (and augmentation) on every rank, the summed
gradients and the BatchNorm statistics of the whole batch, two processes (1 thread each) take
the steps of one process (2 threads) up to float rounding. After 2 epochs (14 AdamW steps)
every weight and BatchNorm statistic of the saved model agrees within 1e-4 * (1 + |w|);
measured: 3.6e-7. With each process normalising its own half-batch instead (unsynchronised
BatchNorm) the same comparison gives 0.1-0.2 (median 1e-3), and another seed about 1.
Why a fixed seed: AdamW's first steps are close to lr * sign(gradient), so a gradient that is
zero but for rounding flips some weights by 2 * lr and the run drifts from there. On some seeds
of this data (2 in 8) that happens between two single-process runs with 1 and 2 threads as
much as between one and two processes; seed 6 is not one of them (1 vs 2 threads: 3e-7). A run
is deterministic on a machine, so the test does not flicker.

Environment (set by CTest): RADIOLENS_CLI.
"""
import collections
import json
import os
import pathlib
import pickle
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import zipfile

import numpy as np

CLI = os.environ.get('RADIOLENS_CLI', '')
TOLERANCE = 1e-4

# smallcnn, 2 epochs of 98 training images in global batches of 16 (the last one of 2 images:
# one per process).
TRAINING = ['--arch', 'smallcnn', '--width', '8', '--epochs', '2', '--batch', '16',
            '--seed', '6', '--lr', '0.001']


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start(*args):
    return subprocess.Popen([CLI, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process, timeout=120):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def write_dataset(path, train=98):
    """Faint 8x8 blobs (class 1) in strong noise: not separable at a glance, so that the
    validation figures are not all 1."""
    rng = np.random.default_rng(11)
    arrays = {}
    for split, n in (('train', train), ('val', 64), ('test', 16)):
        images = rng.integers(0, 120, size=(n, 32, 32))
        labels = np.zeros((n, 1), dtype=np.uint8)
        for i in range(1, n, 2):
            labels[i, 0] = 1
            y, x = rng.integers(0, 24, size=2)
            images[i, y:y + 8, x:x + 8] += 25
        arrays[f'{split}_images'] = np.clip(images, 0, 255).astype(np.uint8)
        arrays[f'{split}_labels'] = labels
    np.savez_compressed(path, **arrays)


def load_weights(path):
    """The tensors of a model.pt (LibTorch's archive: a zip with a pickle of the modules and
    one file per tensor), by dotted name, as NumPy arrays; no PyTorch needed."""
    dtypes = {'FloatStorage': np.float32, 'DoubleStorage': np.float64,
              'LongStorage': np.int64, 'IntStorage': np.int32}
    archive = zipfile.ZipFile(path)
    prefix = archive.namelist()[0].split('/')[0]

    class Module:
        def __setstate__(self, state):
            self.__dict__['state'] = state

    def rebuild(storage, offset, size, stride, *rest):
        if not size:
            return storage[offset:offset + 1].reshape(()).copy()
        return np.lib.stride_tricks.as_strided(
            storage[offset:], shape=size, strides=[s * storage.itemsize for s in stride]).copy()

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module.startswith('__torch__'):
                return Module
            if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
                return rebuild
            if module == 'torch' and name in dtypes:
                return dtypes[name]
            if (module, name) == ('collections', 'OrderedDict'):
                return collections.OrderedDict
            raise pickle.UnpicklingError(f'unexpected {module}.{name}')

        def persistent_load(self, pid):
            _, dtype, key, _, _ = pid
            return np.frombuffer(archive.read(f'{prefix}/data/{key}'), dtype=dtype)

    weights = {}

    def walk(module, name):
        for key, value in module.state.items():
            full = f'{name}.{key}' if name else key
            if isinstance(value, Module):
                walk(value, full)
            elif isinstance(value, np.ndarray):
                weights[full] = value
    walk(Unpickler(archive.open(f'{prefix}/data.pkl')).load(), '')
    return weights


def largest_difference(a, b):
    """The largest |a - b| / (1 + |a|) over every tensor of two models of one architecture."""
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k]) /
                            (1.0 + np.abs(a[k].astype(np.float64)))))
               for k in a if a[k].size)


def epoch_lines(stderr):
    """'epoch N/M  loss L  validation AUC A (best B)' of each epoch, without the seconds."""
    return [line.rsplit('  ', 1)[0] for line in stderr.splitlines()
            if line.startswith('epoch ') and 'validation AUC' in line]


class DistributedTraining(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = pathlib.Path(cls.tmp.name)
        cls.data = cls.root / 'faint.npz'
        write_dataset(cls.data)
        cls.single = subprocess.run(
            [CLI, 'train', '--data', cls.data, '--out', cls.root / 'single', *TRAINING,
             '--threads', '2', '--json'], capture_output=True, text=True, timeout=300)
        if cls.single.returncode != 0 and 'cannot load the ML plugin' in cls.single.stderr:
            raise unittest.SkipTest('ML plugin not built (RADIOLENS_BUILD_ML=OFF)')
        assert cls.single.returncode == 0, cls.single.stderr
        # The same training as two processes on loopback; each writes (if at all) to its own
        # folder, so that what rank 1 wrote would show.
        master = f'127.0.0.1:{free_port()}'
        cls.started = time.monotonic()
        ranks = [start('train', '--data', cls.data, '--out', cls.root / f'rank{r}', *TRAINING,
                       '--threads', 1, '--world-size', 2, '--rank', r, '--master', master,
                       '--json')
                 for r in (0, 1)]
        cls.ranks = [finish(p) for p in ranks]
        if any('no distributed training' in err for _, _, err in cls.ranks):
            raise unittest.SkipTest('ML plugin built without Gloo (apt-get install libgloo-dev and rebuild; issue 9)')

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_two_processes_train_the_model_one_process_trains(self):
        for code, _, err in self.ranks:
            self.assertEqual(code, 0, err)
        single = load_weights(self.root / 'single' / 'model.pt')
        both = load_weights(self.root / 'rank0' / 'model.pt')
        difference = largest_difference(single, both)
        self.assertLess(difference, TOLERANCE, f'two processes trained another model: {difference:.2e}')
        # Every rank saw the same numbers and stopped at the same epoch; the single process's
        # figures agree to the printed digits.
        self.assertEqual(epoch_lines(self.ranks[0][2]), epoch_lines(self.ranks[1][2]))
        self.assertEqual(len(epoch_lines(self.ranks[0][2])), 2)
        for mine, theirs in zip(epoch_lines(self.single.stderr), epoch_lines(self.ranks[0][2])):
            # loss, validation AUC, best validation AUC
            np.testing.assert_allclose([float(v) for v in re.findall(r'\d+\.\d+', mine)],
                                       [float(v) for v in re.findall(r'\d+\.\d+', theirs)],
                                       atol=2e-3)
        card = json.loads(self.ranks[0][1])
        reference = json.loads(self.single.stdout)
        self.assertEqual(card['training']['processes'], '2')
        self.assertEqual(card['training']['bestEpoch'], reference['training']['bestEpoch'])
        for field in ('auc', 'accuracy', 'ece'):
            self.assertAlmostEqual(card['metrics']['validation'][field],
                                   reference['metrics']['validation'][field], delta=2e-3)
        self.assertLess(reference['metrics']['validation']['auc'], 0.999)  # not saturated
        self.assertAlmostEqual(card['temperature'], reference['temperature'], delta=1e-3)

    def test_the_tolerance_separates_other_models(self):
        # Another seed trains a model far outside the tolerance: the comparison can fail.
        other = subprocess.run(
            [CLI, 'train', '--data', self.data, '--out', self.root / 'seed7',
             *TRAINING[:-4], '--seed', '7', '--lr', '0.001', '--threads', '2'],
            capture_output=True, text=True, timeout=300)
        self.assertEqual(other.returncode, 0, other.stderr)
        difference = largest_difference(load_weights(self.root / 'single' / 'model.pt'),
                                        load_weights(self.root / 'seed7' / 'model.pt'))
        self.assertGreater(difference, 100 * TOLERANCE)

    def test_only_rank_0_writes_a_package(self):
        self.assertTrue((self.root / 'rank0' / 'card.json').is_file())
        self.assertFalse((self.root / 'rank1').exists())
        self.assertIn('rank 1 of 2: done', self.ranks[1][2])
        self.assertIn('rank 0 writes the model', self.ranks[1][2])
        # Rank 1 prints the same card (not written anywhere).
        self.assertEqual(json.loads(self.ranks[1][1])['metrics'],
                         json.loads(self.ranks[0][1])['metrics'])

    def test_a_rank_whose_master_never_comes_fails_within_the_timeout(self):
        port = free_port()
        began = time.monotonic()
        code, _, err = finish(start('train', '--data', self.data, '--out', self.root / 'alone',
                                    *TRAINING, '--world-size', 2, '--rank', 1,
                                    '--master', f'127.0.0.1:{port}', '--dist-timeout', 2),
                              timeout=60)
        self.assertEqual(code, 1, err)
        self.assertLess(time.monotonic() - began, 20)
        last = err.strip().splitlines()[-1]
        self.assertIn(f'127.0.0.1:{port}', last)
        self.assertIn('within 2 s', last)
        self.assertIn('rank 1 of 2', last)
        self.assertFalse((self.root / 'alone').exists())
        # Rank 0 whose other rank never comes: the same, naming who is missing.
        code, _, err = finish(start('train', '--data', self.data, '--out', self.root / 'lonely',
                                    *TRAINING, '--world-size', 2, '--rank', 0,
                                    '--master', f'127.0.0.1:{port}', '--dist-timeout', 2),
                              timeout=60)
        self.assertEqual(code, 1, err)
        self.assertIn('rank(s) 1 did not come within 2 s', err)
        self.assertFalse((self.root / 'lonely').exists())

    def test_a_killed_peer_ends_the_run_with_a_reason(self):
        master = f'127.0.0.1:{free_port()}'
        long = ['--arch', 'smallcnn', '--width', '8', '--epochs', '200', '--batch', '8']
        ranks = [start('train', '--data', self.data, '--out', self.root / f'killed{r}', *long,
                       '--world-size', 2, '--rank', r, '--master', master,
                       '--dist-timeout', 60) for r in (0, 1)]
        try:
            # Wait for the first epoch on rank 0, then kill rank 1.
            line = ''
            began = time.monotonic()
            while not line.startswith('epoch 1/') and time.monotonic() - began < 60:
                line = ranks[0].stderr.readline()
                self.assertTrue(line, 'rank 0 ended before its first epoch')
            ranks[1].send_signal(signal.SIGKILL)
            killed = time.monotonic()
            code, _, err = finish(ranks[0], timeout=60)
            self.assertEqual(code, 1, err)
            self.assertLess(time.monotonic() - killed, 30)  # not the 60 s timeout, not a hang
            self.assertIn('lost the other processes', err)
            self.assertIn(master, err)
            self.assertFalse((self.root / 'killed0').exists())
        finally:
            for p in ranks:
                if p.poll() is None:
                    p.kill()
                p.communicate()

    def test_retrain_publishes_one_version_from_rank_0(self):
        # 97 training images in batches of 16: the last batch holds one image, so rank 0's
        # share of it is empty (it still takes part in every exchange).
        data = self.root / 'faint97.npz'
        write_dataset(data, train=97)
        (self.root / 'store').mkdir()
        store = self.root / 'store' / 'radiolens.db'
        master = f'127.0.0.1:{free_port()}'
        ranks = [start('retrain', '--store', store, '--data', data, '--scratch', *TRAINING,
                       '--world-size', 2, '--rank', r, '--master', master)
                 for r in (0, 1)]
        results = [finish(p) for p in ranks]
        for code, _, err in results:
            self.assertEqual(code, 0, err)
        self.assertIn('published', results[0][2])
        self.assertIn('rank 0 publishes the model', results[1][2])
        listed = subprocess.run([CLI, 'models', 'list', '--store', store, '--json'],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertEqual(len(json.loads(listed.stdout)), 1, listed.stdout)

    def test_a_killed_run_resumes_from_rank_0s_checkpoint_to_the_same_model(self):
        # Both processes of a two-process retrain killed with SIGKILL after epoch 2: nothing is
        # published, and the same two commands go on from rank 0's checkpoint (rank 1 takes it
        # over through the group) to the model an uninterrupted two-process run makes.
        data = self.root / 'faint-resume.npz'
        write_dataset(data)
        (self.root / 'resume').mkdir()
        store = self.root / 'resume' / 'radiolens.db'
        training = ['--data', data, '--scratch', '--id', 'dkilled', '--arch', 'smallcnn',
                    '--width', '8', '--batch', '16', '--epochs', '8', '--seed', '6',
                    '--lr', '0.001']

        def both(*extra):
            master = f'127.0.0.1:{free_port()}'
            return [start('retrain', '--store', store, *training, *extra, '--progress-json',
                          '--world-size', 2, '--rank', r, '--master', master,
                          '--dist-timeout', 60) for r in (0, 1)]

        ranks = both()
        try:
            epochs = []
            for line in ranks[0].stdout:
                event = json.loads(line)
                if event['event'] == 'epoch' and not event.get('replayed'):
                    epochs.append(event)
                    if event['epoch'] == 2:
                        for p in ranks:
                            p.send_signal(signal.SIGKILL)
                        break
        finally:
            for p in ranks:
                if p.poll() is None:
                    p.kill()
            killed = [p.communicate()[1] for p in ranks]
        self.assertEqual([e['epoch'] for e in epochs], [1, 2], killed)
        self.assertNotIn('published', killed[0])
        listed = subprocess.run([CLI, 'models', 'list', '--store', store, '--json'],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(json.loads(listed.stdout), [], 'a killed run publishes nothing')

        resumed = [finish(p, timeout=300) for p in both()]
        for code, _, err in resumed:
            self.assertEqual(code, 0, err)
        events = [json.loads(line) for line in resumed[0][1].splitlines()]
        notes = [e['text'] for e in events if e['event'] == 'note']
        # The checkpoint of epoch 2, or of the one rank 0 was finishing when the kill came.
        resumedAfter = [int(m) for n in notes if 'resuming run' in n
                        for m in re.findall(r'after epoch (\d+)', n)]
        self.assertEqual(len(resumedAfter), 1, notes)
        after = resumedAfter[0]
        self.assertIn(after, (2, 3), notes)
        replayed = [e for e in events if e['event'] == 'epoch' and e['replayed']]
        self.assertEqual([e['epoch'] for e in replayed], list(range(1, after + 1)))
        self.assertEqual([round(e['loss'], 6) for e in replayed[:2]],
                         [round(e['loss'], 6) for e in epochs])
        # Rank 1 trained the remaining epochs only, from rank 0's state.
        follower = [json.loads(line) for line in resumed[1][1].splitlines()]
        self.assertEqual([e['epoch'] for e in follower
                          if e['event'] == 'epoch' and not e.get('replayed')],
                         list(range(after + 1, 9)))
        model = events[-1]['model']

        fresh = [finish(p, timeout=300) for p in both('--fresh')]
        for code, _, err in fresh:
            self.assertEqual(code, 0, err)
        uninterrupted = json.loads(fresh[0][1].splitlines()[-1])['model']
        difference = largest_difference(
            load_weights(pathlib.Path(uninterrupted['package']) / 'model.pt'),
            load_weights(pathlib.Path(model['package']) / 'model.pt'))
        self.assertLess(difference, TOLERANCE, f'the resumed run trained another model: {difference:.2e}')
        listed = subprocess.run([CLI, 'models', 'list', '--store', store, '--json'],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(len(json.loads(listed.stdout)), 2, listed.stdout)

    def test_bad_combinations_are_usage_errors(self):
        base = ['train', '--data', self.data, '--out', self.root / 'never']
        for extra, why in (
                (['--world-size', '2', '--rank', '2', '--master', '127.0.0.1:1'], 'not below'),
                (['--world-size', '2', '--rank', '0'], '--master'),
                (['--world-size', '2', '--master', '127.0.0.1:29500'], '--rank'),
                (['--rank', '1', '--master', '127.0.0.1:29500'], '--world-size'),
                (['--world-size', '2', '--rank', '0', '--master', '127.0.0.1'], 'ADDR:PORT'),
                (['--world-size', '2', '--rank', '0', '--master', 'host:70000'], 'ADDR:PORT'),
                (['--world-size', '2', '--rank', '0', '--master', 'h:1', '--dist-timeout', '0'],
                 '--dist-timeout'),
                (['--world-size', '0'], '--world-size'),
                (['--threads', '0'], '--threads')):
            result = subprocess.run([CLI, *map(str, base + extra)], capture_output=True,
                                    text=True, timeout=60)
            self.assertEqual(result.returncode, 2, (extra, result.stderr))
            self.assertIn(why, result.stderr, extra)
        self.assertFalse((self.root / 'never').exists())
        for command in ('train', 'retrain'):
            text = subprocess.run([CLI, command, '--help'], capture_output=True, text=True,
                                  timeout=60).stdout
            for option in ('--world-size', '--rank', '--master', '--dist-timeout'):
                self.assertIn(option, text, command)


if __name__ == '__main__':
    unittest.main()
