"""Labelling and local retraining from the command line, as an annotator and a clinician use
it (issue 6): labels added, listed, exported and imported again; two readers' agreement; the
audit log catching an edited and a deleted entry; retraining from labelled DICOM radiographs
(the demo's synthetic chest films, with their true classes as labels) killed with SIGKILL and
resumed from its checkpoint to the very model an uninterrupted run makes, with the registry
untouched by the killed run; promote, roll back, a tampered package refused; the comparison
report; the active-learning worklist; and bad input refused with the reason.

Environment (set by CTest): RADIOLENS_CLI.
"""
import csv
import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import tempfile
import unittest

CLI = os.environ.get('RADIOLENS_CLI', '')


def run(*args, check=None, timeout=300):
    result = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True,
                            timeout=timeout)
    if check is not None:
        assert result.returncode == check, (args, result.returncode, result.stdout,
                                            result.stderr)
    return result


class Labels(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = pathlib.Path(self.tmp.name)
        self.db = self.root / 'store.sqlite'

    def tearDown(self):
        self.tmp.cleanup()

    def test_add_list_export_and_import_again(self):
        run('label', 'add', '--store', self.db, '--instance', '1.2.3.1', '--class', 'pneumonia',
            '--annotator', 'ann', check=0)
        run('label', 'add', '--store', self.db, '--instance', '1.2.3.2', '--class', 'normal',
            '--annotator', 'ann', check=0)
        run('label', 'add', '--store', self.db, '--series', '1.2.4', '--class', 'normal',
            '--annotator', 'bob', check=0)
        # Ann changes her mind about the first image; then takes the second label back.
        run('label', 'add', '--store', self.db, '--instance', '1.2.3.1', '--class', 'normal',
            '--annotator', 'ann', check=0)
        run('label', 'add', '--store', self.db, '--instance', '1.2.3.2', '--withdraw',
            '--annotator', 'ann', check=0)
        listed = json.loads(run('label', 'list', '--store', self.db, '--json', check=0).stdout)
        self.assertEqual([(l.get('instance'), l.get('series'), l['class'], l['annotator'])
                          for l in listed],
                         [(None, '1.2.4', 'normal', 'bob'), ('1.2.3.1', None, 'normal', 'ann')])
        for label in listed:
            self.assertRegex(label['time'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
            self.assertEqual(label['source'], 'human')
        history = json.loads(run('label', 'list', '--store', self.db, '--history', '--json',
                                 check=0).stdout)
        self.assertEqual([l['class'] for l in history if l.get('instance') == '1.2.3.1'],
                         ['pneumonia', 'normal'])
        self.assertEqual([l['class'] for l in history if l.get('instance') == '1.2.3.2'],
                         ['normal', ''])

        # Export, then import into a new store: the same labels, times and annotators.
        for suffix in ('csv', 'json'):
            out = self.root / f'labels.{suffix}'
            run('label', 'export', '--store', self.db, '--out', out, check=0)
            other = self.root / f'other-{suffix}.sqlite'
            result = run('label', 'import', '--store', other, out, check=0)
            self.assertIn('2 labels imported', result.stdout)
            again = json.loads(run('label', 'list', '--store', other, '--json', check=0).stdout)
            strip = lambda labels: [{k: v for k, v in l.items() if k != 'id'} for l in labels]
            self.assertEqual(strip(again), strip(listed))
            # Importing the same file again changes nothing.
            self.assertIn('0 labels imported, 2 unchanged',
                          run('label', 'import', '--store', other, out, check=0).stdout)

        counts = run('label', 'classes', '--store', self.db, check=0).stdout.split('\n')
        self.assertEqual(counts[0].split(), ['pneumonia', '0'])
        self.assertEqual(counts[1].split(), ['normal', '2'])

    def test_import_reports_bad_rows_and_keeps_the_rest(self):
        path = self.root / 'mixed.csv'
        path.write_text('instance,class,annotator,time\n'
                        '1.1,normal,ann,2026-12-01T10:00:00Z\n'
                        ',normal,ann,\n'
                        '1.3,pneumonia,ann,yesterday\n'
                        '1.4,pneumonia,,\n'
                        '1.5,normal,ann,,extra,cells\n')
        result = run('label', 'import', '--store', self.db, path, '--annotator', 'importer',
                     check=0)
        self.assertIn('5 rows, 2 labels imported', result.stdout)
        self.assertIn('mixed.csv:3: no item', result.stderr)
        self.assertIn("mixed.csv:4: time 'yesterday'", result.stderr)
        self.assertIn('mixed.csv:6: 6 cells for 4 columns', result.stderr)
        listed = json.loads(run('label', 'list', '--store', self.db, '--json', check=0).stdout)
        self.assertEqual([(l['instance'], l['annotator'], l['time']) for l in listed],
                         [('1.1', 'ann', '2026-12-01T10:00:00.000Z'),
                          ('1.4', 'importer', listed[1]['time'])])
        self.assertIn('missing.csv: cannot be read',
                      run('label', 'import', '--store', self.db, self.root / 'missing.csv',
                          check=1).stderr)
        bad = self.root / 'bad.json'
        bad.write_text('{"not": "labels"}')
        self.assertIn('bad.json', run('label', 'import', '--store', self.db, bad, check=1).stderr)
        run('label', 'add', '--store', self.db, '--instance', '1.9', '--annotator', 'ann', check=2)
        run('label', 'add', '--store', self.db, '--class', 'x', '--annotator', 'ann', check=2)

    def test_two_readers_agreement(self):
        rows = ['instance,class,annotator']
        # 50 images: both say yes on 20, no on 15; A yes/B no on 5, A no/B yes on 10: kappa 0.4.
        pairs = [('yes', 'yes')] * 20 + [('yes', 'no')] * 5 + [('no', 'yes')] * 10 + \
                [('no', 'no')] * 15
        for i, (a, b) in enumerate(pairs):
            rows += [f'1.{i},{a},A', f'1.{i},{b},B']
        path = self.root / 'readers.csv'
        path.write_text('\n'.join(rows) + '\n')
        run('label', 'import', '--store', self.db, path, check=0)
        agreement = json.loads(run('label', 'agreement', '--store', self.db, '--json',
                                   check=0).stdout)
        self.assertEqual(agreement['items'], 50)
        self.assertAlmostEqual(agreement['kappa'], 0.4, places=9)
        self.assertEqual(agreement['table'], [[15, 10], [5, 20]])
        self.assertIn("Cohen's kappa 0.400",
                      run('label', 'agreement', '--store', self.db, '--annotators', 'A,B',
                          check=0).stdout)

    def test_audit_log_catches_an_edit_and_a_deletion(self):
        for i in range(6):
            run('label', 'add', '--store', self.db, '--instance', f'1.{i}', '--class',
                'normal' if i % 2 else 'pneumonia', '--annotator', 'ann', check=0)
        verified = run('audit', 'verify', '--store', self.db, check=0).stdout
        self.assertIn('8 entries, chain intact', verified)
        head = verified.split()[-1]
        entries = json.loads(run('audit', 'list', '--store', self.db, '--json', check=0).stdout)
        self.assertEqual([e['action'] for e in entries].count('label.add'), 6)

        def tampered(sql):
            copy = self.root / 'tampered.sqlite'
            for suffix in ('', '-wal', '-shm'):
                pathlib.Path(str(copy) + suffix).unlink(missing_ok=True)
            db = sqlite3.connect(self.db)
            db.execute(f"VACUUM INTO '{copy}'")
            db.close()
            db = sqlite3.connect(copy)
            with self.assertRaises(sqlite3.DatabaseError):  # the log refuses it as it is
                db.execute(sql)
            db.executescript('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; ' + sql)
            db.commit()
            db.close()
            return run('audit', 'verify', '--store', copy, check=1).stderr

        self.assertIn('entry 4 was changed', tampered("UPDATE audit SET details = '{}' WHERE id = 4"))
        self.assertIn('entries 3-3 are missing', tampered('DELETE FROM audit WHERE id = 3'))
        self.assertIn('newest entries were deleted', tampered('DELETE FROM audit WHERE id = 8'))
        run('audit', 'verify', '--store', self.db, '--head', head, check=0)
        run('audit', 'verify', '--store', self.db, '--head', 'f' * 64, check=1)


class Retraining(unittest.TestCase):
    """Demo chest radiographs (64 px, one patient each, every other one with a nodule) labelled
    with their true classes, and small quick models."""

    TRAIN = ['--scratch', '--arch', 'smallcnn', '--width', '8', '--image-size', '64',
             '--epochs', '8', '--seed', '2']

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = pathlib.Path(cls.tmp.name)
        cls.db = cls.root / 'store.sqlite'
        demo = cls.root / 'demo'
        truth = cls.root / 'truth.csv'
        run('demo', '--out', demo, '--chests', '40', '--chest-size', '64', '--truth', truth,
            check=0)
        run('index', demo, '--store', cls.db, check=0)
        # The last ten radiographs are left for the worklist.
        rows = truth.read_text().splitlines()
        cls.labelled = cls.root / 'labelled.csv'
        cls.labelled.write_text('\n'.join(rows[:31]) + '\n')
        run('label', 'import', '--store', cls.db, cls.labelled, check=0)
        probe = run('engine')
        if probe.returncode != 0 and 'cannot load the ML plugin' in probe.stderr:
            raise unittest.SkipTest('ML plugin not built (RADIOLENS_BUILD_ML=OFF); issue 6 trains with it')

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def versions(self):
        return json.loads(run('models', 'list', '--store', self.db, '--json', check=0).stdout)

    def test_a_killed_run_changes_nothing_and_resumes_to_the_same_model(self):
        before = self.versions()
        process = subprocess.Popen([CLI, 'retrain', '--store', str(self.db), '--progress-json',
                                    '--id', 'killed', *self.TRAIN],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        epochs = []
        for line in process.stdout:
            event = json.loads(line)
            if event['event'] == 'epoch':
                epochs.append(event)
                if event['epoch'] == 3:
                    process.send_signal(signal.SIGKILL)
                    break
        process.wait()
        process.stdout.close()
        process.stderr.close()
        self.assertEqual(process.returncode, -signal.SIGKILL)
        self.assertEqual(self.versions(), before, 'a killed run publishes nothing')
        runs = json.loads(run('models', 'runs', '--store', self.db, '--json', check=0).stdout)
        killed = [r for r in runs if r['model'] == 'killed']
        # Its process is gone: shown as interrupted, not as running.
        self.assertEqual(killed[0]['state'], 'interrupted')
        self.assertGreaterEqual(killed[0]['epoch'], 3)

        resumed = run('retrain', '--store', self.db, '--progress-json', '--id', 'killed',
                      *self.TRAIN, check=0)
        events = [json.loads(line) for line in resumed.stdout.splitlines()]
        notes = [e['text'] for e in events if e['event'] == 'note']
        self.assertTrue(any('resuming run' in n and 'after epoch 3' in n for n in notes), notes)
        replayed = [e for e in events if e['event'] == 'epoch' and e['replayed']]
        self.assertEqual([e['epoch'] for e in replayed], [1, 2, 3])
        self.assertEqual([round(e['loss'], 6) for e in replayed],
                         [round(e['loss'], 6) for e in epochs])
        done = events[-1]
        self.assertEqual(done['event'], 'done')
        model = done['model']
        self.assertFalse(model['active'])
        self.assertEqual(model['labels'], 30)
        self.assertEqual(len(model['labelSetSha256']), 64)

        # The same training without interruption makes the same weights, bit for bit.
        fresh = json.loads(run('retrain', '--store', self.db, '--json', '--fresh', '--id',
                               'killed', *self.TRAIN, check=0).stdout)
        self.assertEqual(fresh['weightsSha256'], model['weightsSha256'])
        self.assertEqual(fresh['labelSetSha256'], model['labelSetSha256'])
        run('audit', 'verify', '--store', self.db, check=0)

    def test_registry_promote_rollback_compare_and_worklist(self):
        first = json.loads(run('retrain', '--store', self.db, '--json', '--id', 'chest',
                               *self.TRAIN, check=0).stdout)
        card = json.loads((pathlib.Path(first['package']) / 'card.json').read_text())
        self.assertEqual(card['training']['split'], 'by patient')
        self.assertEqual(card['input']['modalities'], ['DX'])
        patients = int(card['training']['trainPatients']) + int(card['training']['validationPatients'])
        self.assertEqual(patients, 30)
        # About a fifth of the patients validate (a fixed hash per patient decides).
        self.assertTrue(3 <= int(card['training']['validationPatients']) <= 10, card['training'])
        run('models', 'promote', '--store', self.db, '--model', 'chest', first['version'], check=0)

        # Fine-tuning the active model: its parent is recorded.
        second = json.loads(run('retrain', '--store', self.db, '--json', '--id', 'chest',
                                '--epochs', '3', '--seed', '5', check=0).stdout)
        self.assertEqual(second['parent'], first['version'])
        run('models', 'promote', '--store', self.db, '--model', 'chest', second['version'],
            check=0)
        listed = [m for m in self.versions() if m['model'] == 'chest']
        self.assertEqual([m['active'] for m in listed], [False, True])
        self.assertIn(first['version'],
                      run('models', 'rollback', '--store', self.db, '--model', 'chest',
                          check=0).stdout)
        self.assertIn('no earlier active version',
                      run('models', 'rollback', '--store', self.db, '--model', 'chest',
                          check=1).stderr)

        report = self.root / 'compare.html'
        compared = json.loads(run('models', 'compare', '--store', self.db, '--model', 'chest',
                                  first['version'], second['version'], '--report', report,
                                  '--json', check=0).stdout)
        self.assertEqual(compared['n'], 30 - int(card['training']['trainPatients']))
        self.assertEqual([m['version'] for m in compared['models']],
                         [first['version'], second['version']])
        self.assertEqual(sum(map(sum, compared['models'][0]['confusion'])), compared['n'])
        html = report.read_text()
        self.assertIn('<svg', html)
        self.assertIn('ROC', html)
        self.assertIn('Reliability', html)

        # The worklist: the ten unlabelled chest radiographs and the demo's skull radiograph
        # (DX too), most uncertain first.
        worklist = json.loads(run('label', 'worklist', '--store', self.db, '--json',
                                  check=0).stdout)
        self.assertEqual(worklist['labelled'], 30)
        self.assertEqual(worklist['unlabelled'], 11)
        self.assertEqual(worklist['model'], 'chest')
        uncertainty = [item['uncertainty'] for item in worklist['items']]
        self.assertEqual(uncertainty, sorted(uncertainty, reverse=True))
        by_date = json.loads(run('label', 'worklist', '--store', self.db, '--json', '--order',
                                 'date', check=0).stdout)
        self.assertEqual(sorted(i['instance'] for i in by_date['items']),
                         sorted(i['instance'] for i in worklist['items']))

        # A package changed behind the registry's back is refused, with the file named.
        weights = pathlib.Path(second['package']) / 'model.pt'
        weights.write_bytes(weights.read_bytes() + b'tampered')
        refused = run('models', 'promote', '--store', self.db, '--model', 'chest',
                      second['version'], check=1).stderr
        self.assertIn('model.pt', refused)
        self.assertIn('changed since it was published', refused)

    def test_store_check_backup_and_restore(self):
        db = self.root / 'safety.sqlite'
        for i in range(4):
            run('label', 'add', '--store', db, '--instance', f'1.2.3.{i}', '--class',
                'nodule', '--annotator', 'ann', check=0)
        self.assertIn('intact', run('store', 'check', '--store', db, check=0).stdout)
        backup = self.root / 'backup.sqlite'
        run('store', 'backup', '--store', db, '--to', backup, check=0)
        run('label', 'add', '--store', db, '--instance', '1.2.3.9', '--class', 'normal',
            '--annotator', 'bob', check=0)
        # Someone edits the audit log behind Radiolens's back: the store is refused, by name.
        with sqlite3.connect(db) as connection:
            connection.executescript("DROP TRIGGER audit_no_update; "
                             "UPDATE audit SET actor = 'mallory' WHERE id = 2")
        refused = run('label', 'list', '--store', db, check=1).stderr
        self.assertIn('the audit log does not verify (entry 2', refused)
        checked = json.loads(run('store', 'check', '--store', db, '--json',
                                 check=1).stdout)
        self.assertEqual((checked['ok'], checked['integrity'], checked['auditOk']),
                         (False, 'ok', False))
        restored = run('store', 'restore', '--store', db, '--from', backup, check=0).stdout
        self.assertIn('what it held before is in', restored)
        kept = pathlib.Path(restored.strip().rsplit(' ', 1)[1])
        self.assertTrue(kept.exists())
        listed = json.loads(run('label', 'list', '--store', db, '--json', check=0).stdout)
        self.assertEqual(sorted(l['instance'] for l in listed), [f'1.2.3.{i}' for i in range(4)])
        # A file that is not a backup is refused and the store is unchanged.
        junk = self.root / 'junk.sqlite'
        junk.write_text('not a database')
        self.assertIn('junk.sqlite', run('store', 'restore', '--store', db, '--from', junk,
                                         check=1).stderr)
        run('store', 'check', '--store', db, check=0)

    def test_nothing_to_train_on_is_refused_with_the_reason(self):
        empty = self.root / 'empty.sqlite'
        self.assertIn('too few labelled images',
                      run('retrain', '--store', empty, *self.TRAIN, check=1).stderr)
        lost = self.root / 'lost.sqlite'
        run('label', 'add', '--store', lost, '--instance', '9.9.9', '--class', 'nodule',
            '--annotator', 'ann', check=0)
        result = run('retrain', '--store', lost, *self.TRAIN, check=1)
        self.assertIn('image 9.9.9: not in the study index', result.stderr)
        run('retrain', '--store', self.db, '--out', self.root, *self.TRAIN, check=1)
        run('retrain', '--store', self.db, '--validation', '2', *self.TRAIN, check=2)


if __name__ == '__main__':
    unittest.main()
