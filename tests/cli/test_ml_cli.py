"""radiolens-cli train and evaluate as a user runs them, on a small synthetic dataset written
here with NumPy (bright blobs for class 1, noise for class 0): the model package, its card and
hash, the evaluation JSON, and clear refusals of damaged weights, mismatched cards, images the
card does not accept and unreadable datasets.

Environment (set by CTest): RADIOLENS_CLI.
"""
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import unittest

import numpy as np

CLI = os.environ.get('RADIOLENS_CLI', '')


def run(*args, check=None):
    result = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300)
    if check is not None:
        assert result.returncode == check, (args, result.returncode, result.stdout, result.stderr)
    return result


BLOB = 8  # side of the blob, pixels; images are 32 x 32


def blobs(n, rng, size=32, channels=1, positions=None):
    """n images: odd rows carry a bright 8x8 blob somewhere (class 1), even rows only noise.
    The blob's top-left corner (row, column) of each positive is appended to `positions`."""
    images = rng.integers(0, 60, size=(n, size, size, channels) if channels > 1 else (n, size, size))
    labels = np.zeros((n, 1), dtype=np.uint8)
    for i in range(n):
        if i % 2:
            labels[i, 0] = 1
            y, x = rng.integers(0, size - BLOB, size=2)
            images[i, y:y + BLOB, x:x + BLOB] += 150
            if positions is not None:
                positions.append((i, int(y), int(x)))
    return images.astype(np.uint8), labels


def write_dataset(path, channels=1, compressed=True):
    rng = np.random.default_rng(7)
    arrays = {}
    for split, n in (('train', 240), ('val', 80), ('test', 80)):
        arrays[f'{split}_images'], arrays[f'{split}_labels'] = blobs(n, rng, channels=channels)
    (np.savez_compressed if compressed else np.savez)(path, **arrays)


class TrainAndEvaluate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = pathlib.Path(cls.tmp.name)
        cls.data = cls.root / 'blobs.npz'
        write_dataset(cls.data)
        cls.model = cls.root / 'model'
        cls.train = run('train', '--data', cls.data, '--out', cls.model, '--arch', 'smallcnn',
                        '--width', '16', '--epochs', '4', '--lr', '0.005', '--json')
        if cls.train.returncode != 0 and 'cannot load the ML plugin' in cls.train.stderr:
            raise unittest.SkipTest('ML plugin not built (RADIOLENS_BUILD_ML=OFF); issue 5')

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def copy_model(self, name):
        target = self.root / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.model, target)
        return target

    def test_training_writes_a_package_whose_card_matches_its_weights(self):
        self.assertEqual(self.train.returncode, 0, self.train.stderr)
        self.assertIn('epoch 1/4', self.train.stderr)
        card = json.loads((self.model / 'card.json').read_text())
        self.assertEqual(json.loads(self.train.stdout), card)
        for field in ('id', 'version', 'architecture', 'task', 'classNames', 'input', 'training',
                      'metrics', 'weightsSha256', 'parentVersion'):
            self.assertIn(field, card)
        self.assertEqual(card['architecture'], 'smallcnn')
        self.assertEqual(card['task'], 'binary')
        self.assertEqual(card['input']['size'], 32)
        self.assertEqual(card['input']['channels'], 1)
        digest = hashlib.sha256((self.model / card['weightsFile']).read_bytes()).hexdigest()
        self.assertEqual(card['weightsSha256'], digest)
        self.assertGreater(card['metrics']['validation']['auc'], 0.9)
        self.assertEqual(card['metrics']['validation']['n'], 80)

    def test_the_same_seed_trains_the_same_model(self):
        # A reader asked "which model was this?" can retrain it: the same data, options and
        # seed give the same weights, bit for bit; another seed gives other weights.
        def weights(name, seed):
            card = json.loads(run('train', '--data', self.data, '--out', self.root / name,
                                  '--arch', 'smallcnn', '--width', '8', '--epochs', '1',
                                  '--seed', seed, '--json', check=0).stdout)
            return card['weightsSha256']
        first = weights('seed-7-a', 7)
        self.assertEqual(weights('seed-7-b', 7), first)
        self.assertNotEqual(weights('seed-8', 8), first)

    def test_evaluate_prints_the_metrics_of_the_test_split(self):
        result = run('evaluate', '--model', self.model, '--data', self.data, '--json', check=0)
        metrics = json.loads(result.stdout)
        for field in ('auc', 'accuracy', 'sensitivity', 'specificity', 'ece', 'n'):
            self.assertIn(field, metrics)
        self.assertEqual(metrics['n'], 80)
        self.assertEqual(metrics['split'], 'test')
        self.assertGreater(metrics['auc'], 0.9)
        self.assertGreater(metrics['accuracy'], 0.8)
        self.assertLessEqual(metrics['ece'], 1.0)
        text = run('evaluate', '--model', self.model, '--data', self.data, '--split', 'val',
                   check=0).stdout
        self.assertIn('AUC', text)

    def test_damaged_weights_are_refused_with_the_file_named(self):
        model = self.copy_model('damaged')
        weights = model / 'model.pt'
        data = bytearray(weights.read_bytes())
        data[len(data) // 2] ^= 0xFF
        weights.write_bytes(bytes(data))
        result = run('evaluate', '--model', model, '--data', self.data, check=1)
        self.assertIn(str(weights), result.stderr)
        self.assertIn('do not match the model card', result.stderr)
        self.assertEqual(result.stderr.count('\n'), 1)

    def test_truncated_weights_with_a_matching_hash_are_refused(self):
        model = self.copy_model('truncated')
        weights = model / 'model.pt'
        weights.write_bytes(weights.read_bytes()[:2000])
        card = json.loads((model / 'card.json').read_text())
        card['weightsSha256'] = hashlib.sha256(weights.read_bytes()).hexdigest()
        (model / 'card.json').write_text(json.dumps(card))
        result = run('evaluate', '--model', model, '--data', self.data, check=1)
        self.assertIn('cannot be read', result.stderr)

    def test_a_card_that_does_not_describe_the_weights_is_refused(self):
        model = self.copy_model('wrong-card')
        card = json.loads((model / 'card.json').read_text())
        card['architecture'] = 'resnet18'
        (model / 'card.json').write_text(json.dumps(card))
        result = run('evaluate', '--model', model, '--data', self.data, check=1)
        self.assertIn("do not fit the card's resnet18", result.stderr)
        card['architecture'] = 'smallcnn'
        card['width'] = 32
        (model / 'card.json').write_text(json.dumps(card))
        result = run('evaluate', '--model', model, '--data', self.data, check=1)
        self.assertIn('do not fit', result.stderr)
        del card['classNames']
        (model / 'card.json').write_text(json.dumps(card))
        result = run('evaluate', '--model', model, '--data', self.data, check=1)
        self.assertIn("'classNames' is missing", result.stderr)

    def test_images_the_card_does_not_accept_are_refused(self):
        colour = self.root / 'colour.npz'
        write_dataset(colour, channels=3, compressed=False)
        result = run('evaluate', '--model', self.model, '--data', colour, check=1)
        self.assertIn('takes 1-channel images', result.stderr)

    def test_classify_explains_where_the_blob_is(self):
        from PIL import Image
        rng = np.random.default_rng(11)
        positions = []
        images, _ = blobs(40, rng, positions=positions)
        files = []
        for i, y, x in positions:
            path = self.root / f'blob{i}.png'
            Image.fromarray(images[i]).save(path)
            files.append((path, y, x))
        out = self.root / 'overlays'
        result = run('classify', '--model', self.model, *[f for f, _, _ in files],
                     '--saliency', 'gradcam', '--out', out, '--faithfulness', check=0)
        report = json.loads(result.stdout)
        self.assertEqual(report['model']['weightsSha256'],
                         json.loads((self.model / 'card.json').read_text())['weightsSha256'])
        self.assertEqual(len(report['results']), len(files))
        self.assertEqual(report['errors'], [])
        inside = 0
        deletion, insertion = [], []
        for entry, (path, y, x) in zip(report['results'], files):
            self.assertEqual(entry['input'], str(path))
            self.assertAlmostEqual(sum(entry['probabilities'].values()), 1.0, places=6)
            column, row = entry['saliency']['peak']
            # The blob, with half a cell of slack: the last feature map is 4 x 4 (8-pixel cells).
            inside += (y - 4 <= row < y + BLOB + 4) and (x - 4 <= column < x + BLOB + 4)
            with Image.open(entry['saliency']['overlay']) as overlay:
                self.assertEqual(overlay.size, (32, 32))
                self.assertEqual(overlay.mode, 'RGB')
            deletion.append(entry['saliency']['deletionAuc'])
            insertion.append(entry['saliency']['insertionAuc'])
        self.assertGreaterEqual(inside / len(files), 0.9, f'{inside} of {len(files)} peaks in the blob')
        # Faithful on average: removing the most salient pixels first loses the class quickly.
        self.assertLess(np.mean(deletion), np.mean(insertion))

    def test_fine_tuning_with_max_pooling_and_flip_averaged_grad_cam(self):
        from PIL import Image
        model = self.root / 'max-pooled'
        shutil.rmtree(model, ignore_errors=True)
        result = run('train', '--data', self.data, '--out', model, '--parent', self.model,
                     '--pooling', 'max', '--gradcam-flips', '--epochs', '2', '--json', check=0)
        card = json.loads(result.stdout)
        parent = json.loads((self.model / 'card.json').read_text())
        self.assertEqual(parent['pooling'], 'average')
        self.assertFalse(parent['gradCamFlipAverage'])
        self.assertEqual(card['pooling'], 'max')
        self.assertTrue(card['gradCamFlipAverage'])
        self.assertEqual(card['parentVersion'], parent['version'])
        self.assertGreater(card['metrics']['validation']['auc'], 0.9)
        # A flip-averaged map is mirror-symmetric in the image: the map of a mirrored image is
        # the mirrored map, whatever the network learned.
        rng = np.random.default_rng(5)
        positions = []
        images, _ = blobs(8, rng, positions=positions)
        files = []
        for i, _, _ in positions:
            for mirrored in (False, True):
                path = self.root / f'flip{i}{"m" if mirrored else ""}.png'
                Image.fromarray(np.fliplr(images[i]) if mirrored else images[i]).save(path)
                files.append(path)
        report = json.loads(run('classify', '--model', model, *files, '--saliency', 'gradcam',
                                check=0).stdout)
        results = report['results']
        self.assertEqual(len(results), len(files))
        self.assertTrue(all(r['saliency']['flipAveraged'] for r in results))
        for plain, mirrored in zip(results[0::2], results[1::2]):
            column, row = plain['saliency']['peak']
            mirrored_column, mirrored_row = mirrored['saliency']['peak']
            self.assertLessEqual(abs(mirrored_column - (31 - column)), 1, (plain, mirrored))
            self.assertLessEqual(abs(mirrored_row - row), 1, (plain, mirrored))
        # A card with a pooling the networks do not have is refused, naming the field.
        broken = self.copy_model('bad-pooling')
        bad = json.loads((broken / 'card.json').read_text())
        bad['pooling'] = 'sum'
        (broken / 'card.json').write_text(json.dumps(bad))
        result = run('classify', '--model', broken, files[0], check=1)
        self.assertIn("'pooling' is 'sum'", result.stderr)
        run('train', '--data', self.data, '--out', self.root / 'x', '--pooling', 'sum', check=2)

    def test_classify_reports_bad_inputs_and_goes_on(self):
        from PIL import Image
        good = self.root / 'good.png'
        Image.fromarray(np.full((32, 32), 40, np.uint8)).save(good)
        colour = self.root / 'colour.png'
        Image.fromarray(np.full((32, 32, 3), (200, 10, 10), np.uint8)).save(colour)
        broken = self.root / 'broken.png'
        broken.write_bytes(b'not a picture')
        result = run('classify', '--model', self.model, broken, good, colour,
                     self.root / 'missing.png', check=1)
        report = json.loads(result.stdout)
        self.assertEqual([r['input'] for r in report['results']], [str(good)])
        reasons = {e['input']: e['reason'] for e in report['errors']}
        self.assertIn('cannot be read as a picture', reasons[str(broken)])
        self.assertIn('takes 1-channel images', reasons[str(colour)])
        self.assertIn('no such file', reasons[str(self.root / 'missing.png')])
        self.assertEqual(len(result.stderr.strip().split('\n')), 3)
        run('classify', '--model', self.model, good, '--saliency', 'lime', check=2)
        run('classify', '--model', self.model, good, '--out', self.root / 'o', check=2)

    def test_a_folder_of_pictures_with_a_csv_of_labels(self):
        from PIL import Image
        folder = self.root / 'pictures'
        (folder / 'img').mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(5)
        rows = ['file,label,split']
        for split, n in (('train', 160), ('val', 40), ('test', 40)):
            images, labels = blobs(n, rng)
            for i in range(n):
                name = f'img/{split}{i}.png'
                picture = Image.fromarray(images[i])
                if i % 4 == 0:  # some pictures are larger: resized on loading
                    picture = picture.resize((48, 48), Image.BILINEAR)
                picture.save(folder / name)
                rows.append(f"{name},{'blob' if labels[i, 0] else 'noise'},{split}")
        csv = folder / 'labels.csv'
        csv.write_text('\n'.join(rows) + '\n')
        model = self.root / 'csv-model'
        result = run('train', '--data', csv, '--out', model, '--arch', 'smallcnn', '--width', '16',
                     '--epochs', '4', '--lr', '0.005', '--image-size', '32', check=0)
        self.assertIn('160 training and 40 validation images, 32x32', result.stderr)
        card = json.loads((model / 'card.json').read_text())
        self.assertEqual(card['classNames'], ['blob', 'noise'])
        metrics = json.loads(run('evaluate', '--model', model, '--data', csv, '--json',
                                 check=0).stdout)
        self.assertEqual(metrics['n'], 40)
        self.assertGreater(metrics['auc'], 0.9)
        # Bad rows are refused with the line they are on.
        bad = folder / 'bad.csv'
        bad.write_text('file,label\nimg/train0.png,blob\nimg/nothere.png,noise\n')
        result = run('train', '--data', bad, '--out', self.root / 'never', '--image-size', '32',
                     check=1)
        self.assertIn('bad.csv: line 3', result.stderr)
        self.assertIn('nothere.png', result.stderr)
        bad.write_text('file,label,split\nimg/train0.png,blob,train\nimg/train1.png,noise,train\n'
                       'img/val0.png,noise,val\nimg/val2.png,noise,val\n')
        result = run('train', '--data', bad, '--out', self.root / 'never', '--image-size', '32',
                     check=1)
        self.assertIn('the validation split holds only one class', result.stderr)
        bad.write_text('file,class\nimg/train0.png,blob\n')
        result = run('train', '--data', bad, '--out', self.root / 'never', check=1)
        self.assertIn("needs 'file' and 'label' columns", result.stderr)

    def torchscript_package(self, name, module, classes=('blob', 'noise')):
        maker = os.environ.get('RADIOLENS_MAKE_TORCHSCRIPT', '')
        if not maker:
            self.skipTest('make_torchscript not built (RADIOLENS_BUILD_ML=OFF); issue 5')
        source = self.root / 'torchscript'
        if not (source / module).exists():
            source.mkdir(exist_ok=True)
            subprocess.run([maker, source], check=True)
        package = self.root / name
        shutil.rmtree(package, ignore_errors=True)
        package.mkdir()
        shutil.copy(source / module, package / 'model.pt')
        card = {'id': name, 'version': '1', 'format': 'torchscript', 'architecture': 'exported',
                'task': 'binary', 'classNames': list(classes),
                'input': {'size': 32, 'channels': 1, 'preprocessing': 'normalize', 'mean': 0.2,
                          'std': 0.2},
                'weightsFile': 'model.pt',
                'weightsSha256': hashlib.sha256((package / 'model.pt').read_bytes()).hexdigest()}
        (package / 'card.json').write_text(json.dumps(card))
        return package

    def test_torchscript_models_classify_and_explain(self):
        from PIL import Image
        picture = self.root / 'ts.png'
        Image.fromarray(blobs(2, np.random.default_rng(1))[0][1]).save(picture)
        with_features = self.torchscript_package('ts-features', 'with-features.pt')
        logits_only = self.torchscript_package('ts-logits', 'logits-only.pt')
        for package in (with_features, logits_only):
            metrics = json.loads(run('evaluate', '--model', package, '--data', self.data, '--json',
                                     check=0).stdout)
            self.assertEqual(metrics['n'], 80)
            for method in ('ig', 'occlusion'):
                report = json.loads(run('classify', '--model', package, picture, '--saliency',
                                        method, check=0).stdout)
                self.assertEqual(len(report['results']), 1)
        report = json.loads(run('classify', '--model', with_features, picture, '--saliency',
                                'gradcam', check=0).stdout)
        self.assertEqual(report['results'][0]['saliency']['method'], 'gradcam')
        result = run('classify', '--model', logits_only, picture, '--saliency', 'gradcam',
                     check=1)
        self.assertEqual(json.loads(result.stdout)['results'], [])
        self.assertIn('Grad-CAM needs a model that returns (logits, features)', result.stderr)
        # A card that promises three classes for a two-class module is refused.
        wrong = self.torchscript_package('ts-wrong', 'with-features.pt', ('a', 'b', 'c'))
        result = run('evaluate', '--model', wrong, '--data', self.data, check=1)
        self.assertIn('the card lists 3 classes', result.stderr)
        # Fine-tuning one is refused with the reason.
        parent = self.torchscript_package('ts-parent', 'with-features.pt', ('class 0', 'class 1'))
        result = run('train', '--data', self.data, '--out', self.root / 'ft', '--parent', parent,
                     check=1)
        self.assertIn('fine-tuning a TorchScript model is not supported', result.stderr)

    def test_dicom_of_a_modality_the_card_does_not_accept_is_refused(self):
        demo = self.root / 'demo'
        if not demo.exists():
            run('demo', '--out', demo, check=0)
        files = sorted(p for p in demo.rglob('*') if p.is_file() and not p.name.startswith('.'))
        model = self.copy_model('dx-only')
        card = json.loads((model / 'card.json').read_text())
        card['input']['modalities'] = ['DX']
        (model / 'card.json').write_text(json.dumps(card))
        report = json.loads(run('classify', '--model', model, *files).stdout)
        # The radiographs (DX: the skull and the chests) are classified, every CT slice is
        # refused with the reason.
        radiographs = [f for f in files if f.parent.name in ('DX', 'CXR')]
        self.assertEqual(len(radiographs), 9)
        self.assertEqual(len(report['results']), len(radiographs))
        self.assertEqual(len(report['errors']), len(files) - len(radiographs))
        self.assertIn('modality CT is not one the model accepts (DX)',
                      report['errors'][0]['reason'])

    def test_multi_label_models_learn_each_finding_on_its_own(self):
        # Two findings that come independently: a bright square (class 0) and a dark bar
        # (class 1); an image can have both or neither.
        rng = np.random.default_rng(11)
        arrays = {}
        for split, n in (('train', 320), ('val', 96), ('test', 96)):
            images = rng.integers(80, 140, size=(n, 32, 32)).astype(np.int32)
            labels = rng.integers(0, 2, size=(n, 2)).astype(np.uint8)
            for i in range(n):
                if labels[i, 0]:
                    y, x = rng.integers(0, 24, size=2)
                    images[i, y:y + 8, x:x + 8] += 110
                if labels[i, 1]:
                    y, x = rng.integers(0, 20, size=2)
                    images[i, y:y + 12, x:x + 3] -= 75
            arrays[f'{split}_images'] = np.clip(images, 0, 255).astype(np.uint8)
            arrays[f'{split}_labels'] = labels
        data = self.root / 'findings.npz'
        np.savez(data, **arrays)
        model = self.root / 'multi'
        card = json.loads(run('train', '--data', data, '--out', model, '--arch', 'smallcnn',
                              '--width', '16', '--epochs', '8', '--lr', '0.005', '--json',
                              check=0).stdout)
        self.assertEqual(card['task'], 'multi-label')
        self.assertEqual(len(card['classNames']), 2)
        metrics = json.loads(run('evaluate', '--model', model, '--data', data, '--json',
                                 check=0).stdout)
        self.assertEqual(metrics['n'], 96)
        self.assertGreaterEqual(metrics['auc'], 0.9)
        self.assertGreaterEqual(metrics['accuracy'], 0.8)
        # Probabilities are per finding: they need not sum to one, and the JSON lists every
        # finding at or above 0.5. New images drawn as the training images are (noise, a
        # square, a bar; apart), eight with both findings and eight with neither; a model that has
        # learnt each finding reads nearly all of them right, and no single image decides.
        from PIL import Image
        paths = []
        for i in range(16):
            image = rng.integers(80, 140, size=(32, 32)).astype(np.int32)
            if i % 2 == 0:
                # Apart, so that neither hides the other.
                y, x = rng.integers(0, 24), rng.integers(0, 7)
                image[y:y + 8, x:x + 8] += 110
                y, x = rng.integers(0, 20), rng.integers(15, 20)
                image[y:y + 12, x:x + 3] -= 75
            paths.append(self.root / f'findings-{i}.png')
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(paths[-1])
        report = json.loads(run('classify', '--model', model, *paths, check=0).stdout)
        results = report['results']
        self.assertEqual(len(results), 16)
        both, neither = results[0::2], results[1::2]
        self.assertGreaterEqual(
            sum(sorted(r['positive']) == sorted(card['classNames']) for r in both), 7, both)
        self.assertGreaterEqual(sum(r['positive'] == [] for r in neither), 7, neither)
        self.assertGreaterEqual(sum(sum(r['probabilities'].values()) > 1.2 for r in both), 7)

    def test_unreadable_datasets_and_bad_options(self):
        cut = self.root / 'cut.npz'
        cut.write_bytes(self.data.read_bytes()[:3000])
        result = run('train', '--data', cut, '--out', self.root / 'never', check=1)
        self.assertIn(str(cut), result.stderr)
        self.assertFalse((self.root / 'never').exists())
        run('train', '--data', self.data, check=2)
        run('train', '--data', self.data, '--out', self.root / 'x', '--arch', 'vgg', check=2)
        run('train', '--data', self.data, '--out', self.root / 'x', '--epochs', '0', check=2)
        run('evaluate', '--model', self.model, '--data', self.data, '--split', 'dev', check=2)
        result = run('evaluate', '--model', self.root / 'nothing', '--data', self.data, check=1)
        self.assertIn('card.json: cannot be read', result.stderr)
        for command in ('train', 'evaluate'):
            self.assertIn('usage: radiolens-cli ' + command, run(command, '--help', check=0).stdout)


if __name__ == '__main__':
    unittest.main()
