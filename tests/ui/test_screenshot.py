"""The real application in a real X window: `radiolens --demo` under Xvfb writes the demo study
once into the user's data folder, opens it, and the screenshot of its window shows a CT slice
(black background, bright skull ring, grey brain) next to the study tree. Then the patient risk
window on PhysioNet 2012 records with a small forecaster trained here: its screenshot shows the
risk curve, its band and the shaded normal ranges of the vitals.

Environment (set by CTest): RADIOLENS_GUI and RADIOLENS_CLI, the executables;
RADIOLENS_DATA_DIR, the shared data.
"""
import os
import pathlib
import shutil
import subprocess
import tempfile
import unittest

GUI = os.environ.get('RADIOLENS_GUI', '')
CLI = os.environ.get('RADIOLENS_CLI', '')
DATA = pathlib.Path(os.environ.get('RADIOLENS_DATA_DIR', '/nonexistent'))


def grey_histogram(image, box):
    """Fractions of black, mid-grey and white pixels inside `box` (left, top, right, bottom)."""
    pixels = list(image.crop(box).convert('L').getdata())
    n = len(pixels)
    return (sum(p < 20 for p in pixels) / n, sum(60 <= p <= 200 for p in pixels) / n,
            sum(p > 235 for p in pixels) / n)


def head_runs(image, y):
    """(start, end) columns of the heads crossed by the row at height fraction `y` of the
    viewer (right of the study tree): runs of tissue-bright pixels, gaps under 3% of the width
    (crosshair, ventricles, text) bridged, runs under 8% of the width ignored."""
    width, height = image.size
    grey = image.convert('L')
    left = int(width * 0.29)
    row = [grey.getpixel((x, int(height * y))) >= 60 for x in range(left, width)] + [False]
    runs, start = [], None
    for i, tissue in enumerate(row):
        if tissue and start is None:
            start = i
        elif not tissue and start is not None:
            if runs and start - runs[-1][1] < width * 0.03:
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((start, i))
            start = None
    return [(a + left, b + left) for a, b in runs if b - a > width * 0.08]


@unittest.skipUnless(shutil.which('xvfb-run'), 'xvfb-run not installed (apt-get install xvfb xauth); issue 3')
class DemoInARealWindow(unittest.TestCase):
    def launch(self, data_home, shot, *options):
        env = dict(os.environ, XDG_DATA_HOME=str(data_home))
        env.pop('QT_QPA_PLATFORM', None)  # a real X window, not the offscreen platform
        return subprocess.run(['xvfb-run', '-a', '-s', '-screen 0 1600x1000x24', GUI, '--demo',
                               '--screenshot', str(shot), *options], env=env,
                              capture_output=True, text=True, timeout=180)

    def test_demo_opens_and_the_window_shows_a_ct_slice(self):
        from PIL import Image
        self.assertTrue(GUI and os.access(GUI, os.X_OK), f'RADIOLENS_GUI not executable: {GUI!r}')
        with tempfile.TemporaryDirectory() as tmp:
            data_home = pathlib.Path(tmp) / 'data'
            shot = pathlib.Path(tmp) / 'shot.png'
            result = self.launch(data_home, shot)
            self.assertEqual(result.returncode, 0, result.stderr[-3000:])
            demo = data_home / 'Radiolens' / 'demo'
            ct_files = sorted((demo / 'CT').glob('*.dcm'))
            self.assertGreaterEqual(len(ct_files), 128)
            self.assertEqual(len(list((demo / 'DX').glob('*.dcm'))), 1)

            image = Image.open(shot)
            width, height = image.size
            self.assertGreaterEqual(width, 1000)
            self.assertGreaterEqual(height, 700)
            # The slice view is the right part of the window (the study tree docks on the left).
            view = (int(width * 0.45), int(height * 0.1), int(width * 0.95), int(height * 0.7))
            black, grey, white = grey_histogram(image, view)
            self.assertGreater(black, 0.2, 'no dark background around the head')
            self.assertGreater(grey, 0.2, 'no brain-grey tissue in the brain window')
            self.assertGreater(white, 0.005, 'no bright skull ring')
            # The study tree shows text (not a blank panel).
            tree = image.crop((0, int(height * 0.05), int(width * 0.3), int(height * 0.15))).convert('L')
            self.assertGreater(len(set(tree.getdata())), 8)

            # The demo is written once: a second launch reuses the same files. This one opens
            # the CT in MPR: four views (axial, coronal, sagittal and the native stack), each
            # showing the head (dark background, grey brain), none left blank.
            first_mtime = ct_files[0].stat().st_mtime_ns
            result = self.launch(data_home, shot, '--mpr')
            self.assertEqual(result.returncode, 0, result.stderr[-3000:])
            self.assertEqual(ct_files[0].stat().st_mtime_ns, first_mtime)
            # A 1x1 view would show one head across each row of the viewer; MPR shows two per
            # row, and the sagittal head (bottom left, front to back) is wider than the axial one.
            image = Image.open(shot)
            top = head_runs(image, 0.17)
            bottom = head_runs(image, 0.55)
            self.assertEqual(len(top), 2, f'top row of views: heads at {top}')
            self.assertEqual(len(bottom), 2, f'bottom row of views: heads at {bottom}')
            axial, sagittal = top[0][1] - top[0][0], bottom[0][1] - bottom[0][0]
            self.assertGreater(sagittal, axial * 1.2, 'bottom-left view is not a sagittal plane')

    def test_a_wrong_cache_size_is_refused_with_a_reason(self):
        self.assertTrue(GUI and os.access(GUI, os.X_OK), f'RADIOLENS_GUI not executable: {GUI!r}')
        env = dict(os.environ, QT_QPA_PLATFORM='offscreen')
        result = subprocess.run([GUI, '--cache-mb', 'lots'], env=env, capture_output=True,
                                text=True, timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn('--cache-mb', result.stderr)



@unittest.skipUnless(shutil.which('xvfb-run'), 'xvfb-run not installed (apt-get install xvfb xauth); issue 7')
class ForecastInARealWindow(unittest.TestCase):
    def test_the_risk_window_shows_the_risk_band_and_normal_ranges(self):
        from PIL import Image
        set_a = DATA / 'physionet2012' / 'set-a'
        if not set_a.is_dir():
            self.skipTest(f'shared data missing: {set_a} (issue 7)')
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            records = tmp / 'records'
            records.mkdir()
            for record in sorted(set_a.glob('*.txt'))[:300]:
                (records / record.name).symlink_to(record)
            outcomes = DATA / 'physionet2012' / 'Outcomes-a.txt'
            subprocess.run([CLI, 'forecast', 'train', '--data', records, '--outcomes', outcomes,
                            '--out', tmp / 'model', '--members', '2', '--hidden', '16',
                            '--epochs', '2'], check=True, capture_output=True, timeout=300)
            shot = tmp / 'risk.png'
            env = dict(os.environ, XDG_DATA_HOME=str(tmp / 'data'))
            env.pop('QT_QPA_PLATFORM', None)
            result = subprocess.run(['xvfb-run', '-a', '-s', '-screen 0 1600x1000x24', GUI,
                                     '--patients', str(records), '--outcomes', str(outcomes),
                                     '--forecast-model', str(tmp / 'model'),
                                     '--forecast-screenshot', str(shot)],
                                    env=env, capture_output=True, text=True, timeout=300)
            self.assertEqual(result.returncode, 0, result.stderr[-3000:])
            image = Image.open(shot).convert('RGB')
            width, height = image.size
            self.assertGreaterEqual(width, 1000)
            pixels = list(image.getdata())
            n = len(pixels)
            # The risk line (dark red), its band (light red) and the normal ranges (light green).
            line = sum(r > 140 and g < 60 and b < 60 for r, g, b in pixels) / n
            band = sum(r > 225 and 170 < g < 225 and 170 < b < 225 for r, g, b in pixels) / n
            normal = sum(g > 220 and r < g - 8 and b < g - 8 for r, g, b in pixels) / n
            self.assertGreater(line, 0.0005, 'no risk curve')
            self.assertGreater(band, 0.0005, 'no uncertainty band')
            self.assertGreater(normal, 0.01, 'no shaded normal range')
            # The patient list holds text.
            table = image.crop((0, int(height * 0.1), int(width * 0.2), int(height * 0.5))).convert('L')
            self.assertGreater(len(set(table.getdata())), 8)


if __name__ == '__main__':
    unittest.main()
