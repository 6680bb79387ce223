"""PACS connectivity from the command line, against a real Orthanc started on loopback (issue 8):
echo; the shared GE CT stored, found at each level, and retrieved with C-GET and with C-MOVE
(Orthanc sending back to Radiolens's listener) with every instance's pixel data identical to the
source; a study pushed from Orthanc to `radiolens-cli listen`; a server that stops answering
gives a clear error, the study is marked incomplete in the store, and the retry completes it;
an unknown AE title is refused with the reason.

Environment (set by CTest): RADIOLENS_CLI, RADIOLENS_DATA_DIR.
"""
import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import orthanc_fixture  # noqa: E402

try:
    import pydicom
except ImportError:  # pragma: no cover
    pydicom = None

CLI = os.environ.get('RADIOLENS_CLI', '')
DATA = pathlib.Path(os.environ.get('RADIOLENS_DATA_DIR', '../shared/data'))
CT = DATA / 'dicom' / 'ct-head-ge-tilted'
OWN_AET = 'RADIOLENS'


def run(*args, check=None, timeout=120):
    result = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True,
                            timeout=timeout)
    if check is not None:
        assert result.returncode == check, (args, result.returncode, result.stdout,
                                            result.stderr)
    return result


def source_pixels():
    return {d.SOPInstanceUID: d.PixelData
            for d in (pydicom.dcmread(p) for p in sorted(CT.glob('*.dcm')))}


class Pacs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = pathlib.Path(cls.tmp.name)
        cls.listen_port = orthanc_fixture.free_port()
        cls.orthanc = orthanc_fixture.Orthanc(cls.root / 'orthanc', OWN_AET, cls.listen_port)
        cls.pixels = source_pixels()
        stored = json.loads(run('pacs', 'store', '--node', cls.orthanc.node, CT, '--json',
                                check=0).stdout)
        assert stored['stored'] == 28, stored
        cls.study = pydicom.dcmread(next(CT.glob('*.dcm'))).StudyInstanceUID

    @classmethod
    def tearDownClass(cls):
        cls.orthanc.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(dir=self.root))
        self.db = self.dir / 'store.sqlite'

    def assertIdenticalToSource(self, folder):
        files = sorted((folder / self.study).glob('*.dcm'))
        self.assertEqual(len(files), 28)
        for path in files:
            d = pydicom.dcmread(path)
            self.assertEqual(path.name, d.SOPInstanceUID + '.dcm')
            self.assertEqual(d.PixelData, self.pixels[d.SOPInstanceUID], path)

    def test_echo_and_find_at_each_level(self):
        self.assertIn('answered C-ECHO', run('pacs', 'echo', '--node', self.orthanc.node,
                                             check=0).stdout)
        patients = json.loads(run('pacs', 'find', '--node', self.orthanc.node, '--level',
                                  'patient', '--json', check=0).stdout)
        self.assertEqual(len(patients), 1)
        studies = json.loads(run('pacs', 'find', '--node', self.orthanc.node, '--json',
                                 '--patient-id', patients[0]['patientId'], check=0).stdout)
        self.assertEqual(len(studies), 1)
        study = studies[0]
        for key in ('studyInstanceUid', 'patientId', 'patientName', 'studyDate',
                    'modalitiesInStudy'):
            self.assertIn(key, study)
        self.assertEqual(study['studyInstanceUid'], self.study)
        self.assertEqual(study['modalitiesInStudy'], 'CT')
        self.assertEqual(study['numberOfStudyRelatedInstances'], 28)
        self.assertEqual(json.loads(run('pacs', 'find', '--node', self.orthanc.node, '--json',
                                        '--modality', 'MR', check=0).stdout), [])
        series = json.loads(run('pacs', 'find', '--node', self.orthanc.node, '--level', 'series',
                                '--study', self.study, '--json', check=0).stdout)
        self.assertEqual([(s['modality'], s['numberOfSeriesRelatedInstances']) for s in series],
                         [('CT', 28)])
        images = json.loads(run('pacs', 'find', '--node', self.orthanc.node, '--level', 'image',
                                '--study', self.study, '--json', check=0).stdout)
        self.assertEqual(sorted(i['sopInstanceUid'] for i in images), sorted(self.pixels))
        # A series-level query without the study is a usage error, not a network one.
        run('pacs', 'find', '--node', self.orthanc.node, '--level', 'series', check=2)

    def test_get_and_move_bring_back_identical_pixels_and_index_the_study(self):
        got = json.loads(run('pacs', 'get', '--node', self.orthanc.node, '--study', self.study,
                             '--to', self.dir / 'get', '--store', self.db, '--json',
                             check=0).stdout)
        self.assertEqual((got['state'], got['expected'], got['present']), ('complete', 28, 28))
        self.assertIdenticalToSource(self.dir / 'get')
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute('SELECT state, expected, present FROM retrieval')
                             .fetchall(), [('complete', 28, 28)])
            self.assertEqual(db.execute('SELECT count(*) FROM indexed_file').fetchone()[0], 28)
        # Again: nothing is fetched twice.
        again = json.loads(run('pacs', 'get', '--node', self.orthanc.node, '--study',
                               self.study, '--to', self.dir / 'get', '--store', self.db,
                               '--json', check=0).stdout)
        self.assertEqual(again['state'], 'complete')

        moved = json.loads(run('pacs', 'move', '--node', self.orthanc.node, '--study',
                               self.study, '--to', self.dir / 'move', '--port', self.listen_port,
                               '--aet', OWN_AET, '--store', self.db, '--json', check=0).stdout)
        self.assertEqual((moved['method'], moved['state'], moved['present']),
                         ('C-MOVE', 'complete', 28))
        self.assertIdenticalToSource(self.dir / 'move')

    def test_a_study_pushed_from_the_pacs_reaches_the_listener(self):
        listener = subprocess.Popen(
            [CLI, 'listen', '--aet', OWN_AET, '--port', str(self.listen_port), '--to',
             str(self.dir / 'pushed'), '--store', str(self.db)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while run('pacs', 'echo', '--node', f'{OWN_AET}@127.0.0.1:{self.listen_port}'
                      ).returncode != 0:
                self.assertLess(time.monotonic(), deadline, 'the listener did not start')
                time.sleep(0.05)
            orthanc_study = self.orthanc.rest('/studies')[0]
            job = self.orthanc.rest('/modalities/radiolens/store', orthanc_study.encode())
            self.assertEqual(job.get('InstancesCount', 28), 28, job)
        finally:
            listener.send_signal(signal.SIGTERM)
            out, err = listener.communicate(timeout=30)
        self.assertEqual(listener.returncode, 0, err)
        self.assertEqual(out.count('received '), 28)
        self.assertIn('from ORTHANC', out)
        self.assertIdenticalToSource(self.dir / 'pushed')
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute('SELECT count(*) FROM indexed_file').fetchone()[0], 28)

    def test_a_server_that_stops_answering_leaves_the_study_incomplete_until_the_retry(self):
        self.orthanc.pause()
        try:
            started = time.monotonic()
            cut = run('pacs', 'get', '--node', self.orthanc.node, '--study', self.study, '--to',
                      self.dir / 'in', '--store', self.db, '--timeout', '2',
                      '--connect-timeout', '2', check=1)
            self.assertLess(time.monotonic() - started, 20)
        finally:
            self.orthanc.resume()
        self.assertIn(self.orthanc.node, cut.stderr)
        self.assertIn('the study is marked incomplete', cut.stderr)
        with sqlite3.connect(self.db) as db:
            state, error = db.execute('SELECT state, error FROM retrieval').fetchone()
        self.assertEqual(state, 'incomplete')
        self.assertIn(self.orthanc.node, error)
        run('pacs', 'get', '--node', self.orthanc.node, '--study', self.study, '--to',
            self.dir / 'in', '--store', self.db, check=0)
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute('SELECT state, present FROM retrieval').fetchone(),
                             ('complete', 28))
        self.assertIdenticalToSource(self.dir / 'in')

    def test_bad_nodes_are_refused_with_the_reason(self):
        port = self.orthanc.node.rsplit(':', 1)[1]
        wrong = run('pacs', 'echo', '--node', f'NOTORTHANC@127.0.0.1:{port}', check=1).stderr
        self.assertIn('refused the association', wrong)
        closed = run('pacs', 'echo', '--node',
                     f'ORTHANC@127.0.0.1:{orthanc_fixture.free_port()}', check=1).stderr
        self.assertIn('cannot connect', closed)
        run('pacs', 'echo', '--node', 'ORTHANC@127.0.0.1', check=2)
        run('pacs', 'echo', '--node', 'A_TITLE_MUCH_TOO_LONG@127.0.0.1:104', check=2)


if __name__ == '__main__':
    if not CLI:
        print('skipped: RADIOLENS_CLI is not set; run through ctest (issue 8)')
        sys.exit(77)
    if orthanc_fixture.EXECUTABLE is None:
        print('skipped: Orthanc is not installed (apt-get install orthanc; issue 8)')
        sys.exit(77)
    if not CT.is_dir():
        print(f'skipped: shared data not found at {CT} (set RADIOLENS_DATA_DIR; issue 8)')
        sys.exit(77)
    if pydicom is None:
        print('skipped: pydicom is not installed (apt-get install python3-pydicom; issue 8)')
        sys.exit(77)
    unittest.main()
