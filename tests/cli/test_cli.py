"""radiolens-cli as scripts use it: command names, --help, exit codes, one-line reasons, JSON
shapes, the files it writes, and that DICOM commands never load LibTorch.

Environment (set by CTest): RADIOLENS_CLI, RADIOLENS_DATA_DIR.
"""
import json
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile
import unittest

CLI = os.environ.get('RADIOLENS_CLI', '')
DATA = pathlib.Path(os.environ.get('RADIOLENS_DATA_DIR', '/nonexistent'))
CT = DATA / 'dicom' / 'ct-phantom-philips-140'
TILTED = DATA / 'dicom' / 'ct-head-ge-tilted'


def run(*args, env=None, check=None):
    result = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, env=env,
                            timeout=120)
    if check is not None:
        assert result.returncode == check, (args, result.returncode, result.stdout, result.stderr)
    return result


def read_mha_header(path):
    header = {}
    with open(path, 'rb') as f:
        for raw in f:
            key, _, value = raw.decode().partition(' = ')
            header[key.strip()] = value.strip()
            if key.strip() == 'ElementDataFile':
                break
    return header


class DemoStudyMixin:
    """One demo study per test class, written by the CLI itself into a temporary folder."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.demo = pathlib.Path(cls.tmp.name) / 'demo'
        result = run('demo', '--out', cls.demo, check=0)
        assert result.stdout.strip() == str(cls.demo), result.stdout

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()


class CommandsAndExitCodes(unittest.TestCase):
    def test_cli_exists(self):
        self.assertTrue(CLI and os.access(CLI, os.X_OK), f'RADIOLENS_CLI not executable: {CLI!r}')

    def test_every_command_has_help(self):
        for command in ('index', 'info', 'convert', 'demo', 'engine', 'label', 'audit', 'models',
                        'retrain', 'pacs', 'listen', 'export', 'store'):
            with self.subTest(command=command):
                result = run(command, '--help', check=0)
                self.assertIn(f'usage: radiolens-cli {command}', result.stdout)
                self.assertEqual(result.stderr, '')
        self.assertIn('usage: radiolens-cli info', run('info', '-h', check=0).stdout)
        top = run('--help', check=0)
        for command in ('index', 'info', 'convert', 'demo', 'engine', 'label', 'audit', 'models',
                        'retrain', 'pacs', 'listen', 'export', 'store'):
            self.assertIn(command, top.stdout)

    def test_commands_log_their_outcome_without_their_arguments(self):
        log_dir = pathlib.Path(os.environ['RADIOLENS_LOG_DIR'])
        log = log_dir / 'radiolens.log'
        before = log.read_text() if log.exists() else ''
        secret = '/tmp/DOE^JOHN-1234567/nowhere'
        run('info', secret, check=1)
        added = log.read_text()[len(before):]
        self.assertRegex(added, r'cli: info: started')
        self.assertRegex(added, r'cli: info: exit 1: .*<file:[0-9a-f]{12}>')
        self.assertNotIn('DOE', added)
        self.assertNotIn('1234567', added)

    def test_usage_errors_exit_2_with_one_line(self):
        for args in ([], ['frobnicate'], ['info'], ['info', '--bogus', 'x'], ['convert', 'a'],
                     ['index', '--threads', '0', '.'], ['info', '-x', 'a'],
                     ['info', '/nonexistent', '--resample', '--spacing', '1mm'],
                     ['info', '/nonexistent', '--instance', '0']):
            with self.subTest(args=args):
                result = run(*args, check=2)
                self.assertEqual(result.stderr.count('\n'), 1, result.stderr)
                self.assertTrue(result.stderr.startswith('radiolens-cli: '), result.stderr)

    def test_failures_exit_1_with_one_line_reason(self):
        with tempfile.TemporaryDirectory() as tmp:
            junk = pathlib.Path(tmp) / 'notes.txt'
            junk.write_text('not an image')
            cases = [
                (['index', '/nonexistent/study'], 'no such file or folder'),
                (['info', '/nonexistent/study'], 'no DICOM series'),
                (['info', junk], 'not a DICOM file'),
                (['convert', junk, pathlib.Path(tmp) / 'out.mha'], 'not a DICOM file'),
            ]
            for args, needle in cases:
                with self.subTest(args=args):
                    result = run(*args, check=1)
                    self.assertEqual(result.stderr.count('\n'), 1, result.stderr)
                    self.assertIn(needle, result.stderr)
                    self.assertEqual(result.stdout, '')


class IndexCommand(DemoStudyMixin, unittest.TestCase):
    def test_json_shape_is_the_documented_one(self):
        result = run('index', self.demo, '--json', check=0)
        tree = json.loads(result.stdout)
        self.assertEqual(set(tree) >= {'patients', 'problems'}, True)
        # The phantom patient and eight chest radiograph patients, one study each.
        self.assertEqual(len(tree['patients']), 9)
        for patient in tree['patients']:
            for key in ('patientId', 'name', 'studies'):
                self.assertIn(key, patient)
        chests = [p for p in tree['patients'] if p['patientId'].startswith('RADIOLENS-CXR-')]
        self.assertEqual(len(chests), 8)
        for chest in chests:
            self.assertEqual([s['modality'] for s in chest['studies'][0]['series']], ['DX'])
        patient = next(p for p in tree['patients'] if p['patientId'] == 'RADIOLENS-DEMO')
        study = patient['studies'][0]
        for key in ('studyInstanceUid', 'description', 'series'):
            self.assertIn(key, study)
        modalities = {s['modality']: s for s in study['series']}
        self.assertEqual(set(modalities), {'CT', 'DX'})
        for series in study['series']:
            for key in ('seriesInstanceUid', 'modality', 'description', 'instances'):
                self.assertIn(key, series)
        self.assertGreaterEqual(modalities['CT']['instances'], 128)
        self.assertEqual(modalities['DX']['instances'], 1)
        self.assertEqual(tree['problems'], [])

    def test_bad_files_become_problems_and_the_rest_is_indexed(self):
        with tempfile.TemporaryDirectory() as tmp:
            folder = pathlib.Path(tmp)
            shutil.copytree(self.demo / 'DX', folder / 'DX')
            (folder / 'empty.dcm').write_bytes(b'')
            (folder / 'readme.txt').write_text('hello')
            good = next((folder / 'DX').iterdir())
            (folder / 'cut.dcm').write_bytes(good.read_bytes()[:2000])
            tree = json.loads(run('index', folder, '--json', check=0).stdout)
            self.assertEqual(tree['patients'][0]['studies'][0]['series'][0]['instances'], 1)
            reasons = {pathlib.Path(p['path']).name: p['reason'] for p in tree['problems']}
            self.assertEqual(set(reasons), {'empty.dcm', 'readme.txt', 'cut.dcm'})
            self.assertIn('empty', reasons['empty.dcm'])
            self.assertIn('not a DICOM file', reasons['readme.txt'])
            self.assertIn('truncated', reasons['cut.dcm'])

    def test_text_output_lists_tree(self):
        result = run('index', self.demo, check=0)
        self.assertIn('Patient Demo^Phantom', result.stdout)
        self.assertIn('CT  Head phantom CT', result.stdout)


class InfoAndConvert(DemoStudyMixin, unittest.TestCase):
    def ct_series(self):
        tree = json.loads(run('index', self.demo, '--json', check=0).stdout)
        series = [s for p in tree['patients'] for study in p['studies'] for s in study['series']]
        return next(s['seriesInstanceUid'] for s in series if s['modality'] == 'CT')

    def test_info_needs_series_when_there_are_several(self):
        result = run('info', self.demo, check=1)
        self.assertIn('holds 10 series', result.stderr)
        self.assertIn('--series', result.stderr)

    def test_info_json_of_demo_ct(self):
        info = json.loads(run('info', self.demo, '--series', self.ct_series(), '--json',
                              check=0).stdout)
        self.assertEqual(info['modality'], 'CT')
        self.assertEqual(info['units'], 'HU')
        self.assertEqual(info['pixelType'], 'int16')
        self.assertGreaterEqual(info['size'][0], 256)
        self.assertGreaterEqual(info['size'][2], 128)
        self.assertLessEqual(info['min'], -990)    # air
        self.assertGreaterEqual(info['max'], 900)  # skull
        self.assertEqual(info['direction'], [1, 0, 0, 0, 1, 0, 0, 0, 1])
        self.assertFalse(info['geometry']['tilted'])
        self.assertEqual(len(info['slicePositions']), info['size'][2])

    def test_radiograph_is_2d_and_monochrome1(self):
        dx = next((self.demo / 'DX').iterdir())
        info = json.loads(run('info', dx, '--json', check=0).stdout)
        self.assertEqual(info['size'][2], 1)
        self.assertEqual(info['photometric'], 'MONOCHROME1')
        self.assertEqual(info['modality'], 'DX')

    def test_convert_writes_geometry_and_values(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = pathlib.Path(tmp) / 'ct.mha'
            run('convert', self.demo, out, '--series', self.ct_series(), check=0)
            info = json.loads(run('info', self.demo, '--series', self.ct_series(), '--json',
                                  check=0).stdout)
            header = read_mha_header(out)
            self.assertEqual(header['DimSize'].split(), [str(n) for n in info['size']])
            self.assertEqual(header['ElementType'], 'MET_SHORT')
            offset = [float(v) for v in header['Offset'].split()]
            for a, b in zip(offset, info['origin']):
                self.assertAlmostEqual(a, b, places=4)
            for fmt in ('nrrd', 'nii.gz'):
                path = pathlib.Path(tmp) / f'ct.{fmt}'
                run('convert', self.demo, path, '--series', self.ct_series(), check=0)
                self.assertGreater(path.stat().st_size, 1000)
            bad = run('convert', self.demo, pathlib.Path(tmp) / 'ct.png', '--series',
                      self.ct_series(), check=2)
            self.assertIn('.mha', bad.stderr)


@unittest.skipUnless(TILTED.is_dir(), f'shared data not found at {TILTED}; issue 3')
class TiltedSeries(unittest.TestCase):
    def test_info_reports_tilt_gaps_and_positions(self):
        info = json.loads(run('info', TILTED, '--json', check=0).stdout)
        geometry = info['geometry']
        self.assertTrue(geometry['tilted'])
        self.assertAlmostEqual(geometry['tiltDegrees'], 18.5, delta=0.05)
        self.assertTrue(geometry['irregular'])
        self.assertAlmostEqual(min(geometry['steps']), 1.14, delta=0.01)
        self.assertAlmostEqual(max(geometry['steps']), 7.38, delta=0.01)
        self.assertTrue(any('tilt' in w for w in info['warnings']))
        text = run('info', TILTED, check=0).stdout
        self.assertIn('TILTED', text)
        self.assertIn('IRREGULAR', text)

    def test_convert_resamples_onto_a_regular_grid(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = pathlib.Path(tmp) / 'tilted.nrrd'
            result = run('convert', TILTED, out, check=0)
            self.assertIn('resampled', result.stdout)
            raw = pathlib.Path(tmp) / 'raw.nrrd'
            result = run('convert', TILTED, raw, '--no-resample', check=0)
            self.assertNotIn('resampled', result.stdout)
            self.assertIn('tilt', result.stderr)


class LibTorchStaysOut(DemoStudyMixin, unittest.TestCase):
    """A process that links LibTorch spends ~0.8 s and 170 MiB before main(): DICOM commands
    must never load it. The dynamic loader's own log (LD_DEBUG=files) tells what was loaded."""

    def loaded_libraries(self, *args):
        env = dict(os.environ, LD_DEBUG='files')
        result = run(*args, env=env)
        return result, [line for line in result.stderr.splitlines() if 'file=' in line]

    def test_dicom_commands_do_not_load_libtorch(self):
        dx = next((self.demo / 'DX').iterdir())
        with tempfile.TemporaryDirectory() as tmp:
            for args in (['info', dx], ['index', self.demo], ['convert', dx, f'{tmp}/dx.mha']):
                with self.subTest(args=args):
                    result, loaded = self.loaded_libraries(*args)
                    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
                    self.assertTrue(loaded, 'LD_DEBUG printed nothing: the check would be blind')
                    torch = [line for line in loaded if 'libtorch' in line]
                    self.assertEqual(torch, [])

    def test_the_check_sees_libtorch_when_a_command_needs_it(self):
        result, loaded = self.loaded_libraries('engine')
        if result.returncode != 0 and 'cannot load the ML plugin' in result.stderr:
            self.skipTest('ML plugin not built (RADIOLENS_BUILD_ML=OFF); issue 3')
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertTrue(any('libtorch' in line for line in loaded))

    def test_executable_does_not_link_libtorch(self):
        ldd = subprocess.run(['ldd', CLI], capture_output=True, text=True, check=True).stdout
        self.assertNotIn('libtorch', ldd)
        self.assertNotIn('libQt6', ldd)


class ForecastImport(unittest.TestCase):
    """forecast import: PhysioNet 2012 records from the shared data, and a damaged folder whose
    problems must be reported with file and line while the rest imports."""

    def test_physionet_set_a_with_outcomes(self):
        set_a = DATA / 'physionet2012' / 'set-a'
        if not set_a.is_dir():
            self.skipTest(f'shared data missing: {set_a} (issue 7)')
        result = run('forecast', 'import', set_a, '--outcomes',
                     DATA / 'physionet2012' / 'Outcomes-a.txt', '--json', check=0)
        report = json.loads(result.stdout)
        self.assertEqual(report['files'], 4000)
        self.assertEqual(report['stays'] + len(report['staysWithoutData']), 4000)
        self.assertEqual(report['deaths'], 554)
        self.assertEqual(report['outcomesMissing'], 0)
        self.assertGreater(report['observations'], 1_500_000)
        self.assertGreater(report['dropped']['impossible value'], 0)
        self.assertGreater(report['droppedByVariable']['Height: missing marker (-1)'], 1000)
        text = run('forecast', 'import', set_a, check=0).stdout
        self.assertIn('stays without any time-series value, left out: 3', text)

    def test_damaged_records_are_reported_and_the_rest_imports(self):
        with tempfile.TemporaryDirectory() as tmp:
            folder = pathlib.Path(tmp) / 'records'
            folder.mkdir()
            (folder / '7.txt').write_text('Time,Parameter,Value\n00:00,RecordID,7\n'
                                          '00:05,HR,71\n00:06,HR\n00:07,Glucose,high\n'
                                          '00:08,Sparkle,1\n')
            (folder / '8.txt').write_text('Time,Parameter,Value\n00:00,RecordID,8\n')
            result = run('forecast', 'import', folder, '--json', check=0)
            report = json.loads(result.stdout)
            self.assertEqual(report['stays'], 1)
            self.assertEqual(report['staysWithoutData'], ['8'])
            self.assertEqual(report['dropped']['unparseable row'], 2)
            self.assertEqual(report['droppedByVariable']['Sparkle: unknown variable'], 1)
            self.assertIn('records/7.txt:4: expected Time,Parameter,Value, found 2 fields',
                          report['problems'])
            self.assertIn("records/7.txt:5: the value 'high' of Glucose is not a number",
                          report['problems'])

    def test_errors(self):
        run('forecast', check=2)
        self.assertIn('usage: radiolens-cli forecast import', run('forecast', '--help', check=0).stdout)
        result = run('forecast', 'import', '/nonexistent/records.csv', check=1)
        self.assertIn('/nonexistent/records.csv', result.stderr)
        self.assertEqual(result.stderr.count('\n'), 1, result.stderr)


class ForecastTrainEvaluatePredict(unittest.TestCase):
    """forecast train/evaluate/predict on 500 PhysioNet 2012 records with a small, quick model:
    the held-out stays are the ones evaluated, intervals bracket the figures, and damaged input
    is reported while the rest is forecast."""

    @classmethod
    def setUpClass(cls):
        set_a = DATA / 'physionet2012' / 'set-a'
        if not set_a.is_dir():
            raise unittest.SkipTest(f'shared data missing: {set_a} (issue 7)')
        cls.tmp = tempfile.TemporaryDirectory()
        root = pathlib.Path(cls.tmp.name)
        cls.records = root / 'records'
        cls.records.mkdir()
        for record in sorted(set_a.glob('*.txt'))[:500]:
            (cls.records / record.name).symlink_to(record)
        cls.outcomes = DATA / 'physionet2012' / 'Outcomes-a.txt'
        cls.model = root / 'model'
        result = run('forecast', 'train', '--data', cls.records, '--outcomes', cls.outcomes,
                     '--out', cls.model, '--holdout', '0.25', '--members', '2', '--hidden', '16',
                     '--epochs', '3', '--json', check=0)
        cls.card = json.loads(result.stdout)
        cls.train_log = result.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_training_writes_a_card_and_the_stays_it_used(self):
        card = self.card
        self.assertEqual(card['architecture'], 'gru-d-ensemble')
        self.assertEqual((card['hours'], card['members'], card['hidden']), (48, 2, 16))
        self.assertEqual(len(card['calibrationSlope']), 48)
        self.assertEqual(len(card['series']), 37)
        self.assertIn('epoch 3/3', self.train_log)
        used = json.loads((self.model / 'stays.json').read_text())
        self.assertEqual(len(used['train']), int(card['training']['trainStays']))
        self.assertEqual(len(used['validation']), int(card['training']['validationStays']))
        self.assertFalse(set(used['train']) & set(used['validation']))
        self.assertIn('held out by --holdout 0.25', card['training']['data'])
        validation = card['metrics']['validation']
        self.assertLessEqual(validation['auroc']['low'], validation['auroc']['value'])

    def test_evaluation_measures_only_stays_the_model_never_saw(self):
        result = run('forecast', 'evaluate', '--model', self.model, '--data', self.records,
                     '--outcomes', self.outcomes, '--json', '--resamples', '200', check=0)
        m = json.loads(result.stdout)
        used = json.loads((self.model / 'stays.json').read_text())
        self.assertEqual(m['excludedTrainingStays'], len(used['train']) + len(used['validation']))
        self.assertEqual(m['n'] + m['excludedTrainingStays'] + m['staysWithoutOutcome'], 500)
        self.assertGreater(m['n'], 90)
        for name in ('auroc', 'auprc', 'brier', 'ece'):
            low, high = m['ci95'][name]
            self.assertLessEqual(low, m[name])
            self.assertGreaterEqual(high, m[name])
        self.assertGreater(m['auroc'], 0.5)
        everything = json.loads(run('forecast', 'evaluate', '--model', self.model, '--data',
                                    self.records, '--outcomes', self.outcomes, '--json',
                                    '--resamples', '0', '--include-training', check=0).stdout)
        self.assertEqual(everything['n'], 500)
        text = run('forecast', 'evaluate', '--model', self.model, '--data', self.records,
                   '--outcomes', self.outcomes, '--hour', '24', '--resamples', '50', check=0).stdout
        self.assertIn('at hour 24', text)
        self.assertRegex(text, r'AUROC  0\.\d{4}  \(95% CI 0\.\d{4}-[01]\.\d{4}\)')

    def test_predict_reports_bad_rows_and_forecasts_the_rest(self):
        with tempfile.TemporaryDirectory() as tmp:
            csv = pathlib.Path(tmp) / 'ward.csv'
            csv.write_text('patient_id,time,variable,value,unit\n'
                           'p1,0.5,HR,88,bpm\np1,1.5,Temp,101.3,degF\np1,2,HR,fast,bpm\n'
                           'p1,3,Sparkle,1,\np1,4,Glucose,7,furlongs\np1,60,HR,90,bpm\n'
                           'p2,1,Age,70,\n')
            record = sorted(self.records.glob('*.txt'))[0]
            result = run('forecast', 'predict', '--model', self.model, record, csv, '--json',
                         '--top', '3', check=0)
            out = json.loads(result.stdout)
            self.assertEqual([o['id'] for o in out], ['132539', 'p1'])
            self.assertIn("ward.csv:4: the value 'fast' of HR is not a number", result.stderr)
            for o in out:
                self.assertEqual(len(o['risk']), 48)
                for low, risk, high in zip(o['low'], o['risk'], o['high']):
                    self.assertLessEqual(low, risk + 1e-12)
                    self.assertLessEqual(risk, high + 1e-12)
                e = o['explanation']
                self.assertEqual(len(e['contributions']), 3)
                self.assertLess(e['completenessError'], 0.02)
            self.assertEqual(out[1]['valuesAfterHorizon'], 1)
            text = run('forecast', 'predict', '--model', self.model, record, '--hour', '12',
                       check=0).stdout
            self.assertIn('stay 132539: risk', text)
            self.assertIn('what moved the risk at hour 12', text)

    def test_another_split_holds_out_other_stays(self):
        other = pathlib.Path(self.tmp.name) / 'other'
        run('forecast', 'train', '--data', self.records, '--outcomes', self.outcomes, '--out', other,
            '--holdout', '0.25', '--split', 's2', '--members', '1', '--hidden', '8', '--epochs', '1',
            check=0)
        first = json.loads((self.model / 'stays.json').read_text())
        second = json.loads((other / 'stays.json').read_text())
        seen_first = set(first['train']) | set(first['validation'])
        seen_second = set(second['train']) | set(second['validation'])
        self.assertNotEqual(seen_first, seen_second)
        self.assertAlmostEqual(len(seen_second) / 500, 0.75, delta=0.08)
        self.assertNotEqual(set(first['validation']), set(second['validation']))
        run('forecast', 'train', '--data', self.records, '--outcomes', self.outcomes, '--out', other,
            '--split', '', check=2)

    def test_errors(self):
        run('forecast', 'train', '--data', self.records, '--out', '/tmp/x', check=2)
        run('forecast', 'evaluate', '--model', self.model, '--data', self.records, '--outcomes',
            self.outcomes, '--hour', '49', check=2)
        result = run('forecast', 'predict', '--model', self.records, check=2)
        result = run('forecast', 'predict', '--model', self.records,
                     sorted(self.records.glob('*.txt'))[0], check=1)
        self.assertIn('forecast.json: cannot be read', result.stderr)
        self.assertEqual(result.stdout, '')


if __name__ == '__main__':
    unittest.main()
