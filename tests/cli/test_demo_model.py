"""The demo's classifier, trained as a first run of the demo trains it: `radiolens-cli
demo-model` trains a small CNN with Radiolens's own training code on synthetic chest
radiographs, measures it on held-out radiographs (AUC, accuracy, where the Grad-CAM maximum
falls), and then classifies the demo study's own chest radiographs, which it never saw.

Environment (set by CTest): RADIOLENS_CLI, XDG_DATA_HOME (a folder of the build tree).
"""
import json
import os
import pathlib
import subprocess
import tempfile
import unittest

CLI = os.environ.get('RADIOLENS_CLI', '')


def run(*args, check=None):
    result = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check is not None:
        assert result.returncode == check, (args, result.returncode, result.stdout, result.stderr)
    return result


class DemoModel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = pathlib.Path(cls.tmp.name)
        cls.model = cls.root / 'demo-chest'
        cls.train = run('demo-model', '--out', cls.model, '--json')
        if cls.train.returncode != 0 and 'cannot load the ML plugin' in cls.train.stderr:
            raise unittest.SkipTest('ML plugin not built (RADIOLENS_BUILD_ML=OFF)')
        assert cls.train.returncode == 0, cls.train.stderr
        cls.report = json.loads(cls.train.stdout)
        cls.demo = cls.root / 'demo'
        run('demo', '--out', cls.demo, check=0)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_the_model_tells_nodules_apart_on_held_out_radiographs(self):
        test = self.report['test']
        self.assertEqual(test['n'], 200)
        self.assertGreaterEqual(test['auc'], 0.95)
        self.assertGreaterEqual(test['accuracy'], 0.9)
        card = json.loads((self.model / 'card.json').read_text())
        self.assertEqual(card['input']['modalities'], ['DX', 'CR'])
        self.assertEqual(card['classNames'], ['no nodule', 'nodule'])
        self.assertIn('of 100 test radiographs with a nodule',
                      card['training']['gradcam-peak-in-lesion'])
        self.assertEqual(card['metrics']['test']['n'], 200)
        # Nothing half-written is left beside it.
        self.assertEqual([p.name for p in self.root.iterdir() if 'partial' in p.name], [])

    def test_a_second_run_measures_the_same_model_without_training(self):
        again = json.loads(run('demo-model', '--out', self.model, '--json', check=0).stdout)
        self.assertEqual(again['weightsSha256'], self.report['weightsSha256'])
        self.assertAlmostEqual(again['test']['auc'], self.report['test']['auc'], places=6)

    def test_the_demo_study_radiographs_are_read_correctly(self):
        manifest = (self.demo / '.radiolens-demo.txt').read_text().splitlines()
        truth = [line.split() for line in manifest if line.startswith('chest-truth')]
        files = sorted((self.demo / 'CXR').glob('*.dcm'))
        self.assertEqual(len(files), len(truth))
        report = json.loads(run('classify', '--model', self.model, *files, '--saliency', 'gradcam',
                                check=0).stdout)
        predicted = [r['predicted'] for r in report['results']]
        expected = ['nodule' if t[3] == '1' else 'no nodule' for t in truth]
        self.assertEqual(predicted, expected)


if __name__ == '__main__':
    unittest.main()
