"""A real Orthanc server (Debian package `orthanc`) for the networking tests: started on loopback
with a temporary configuration and storage, and killed afterwards. Also speaks Orthanc's REST API
(to push a study to Radiolens, or read back what Radiolens sent)."""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

EXECUTABLE = shutil.which('Orthanc') or next(
    (p for p in ('/usr/sbin/Orthanc', '/usr/bin/Orthanc') if os.access(p, os.X_OK)), None)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Orthanc:
    def __init__(self, folder, move_aet, move_port):
        self.folder = pathlib.Path(folder)
        self.dicom_port = free_port()
        self.http_port = free_port()
        (self.folder / 'storage').mkdir(parents=True, exist_ok=True)
        config = {
            'Name': 'radiolens-test', 'DicomAet': 'ORTHANC',
            'StorageDirectory': str(self.folder / 'storage'),
            'IndexDirectory': str(self.folder / 'storage'),
            'DicomPort': self.dicom_port, 'HttpPort': self.http_port,
            'RemoteAccessAllowed': False, 'AuthenticationEnabled': False,
            'DicomCheckCalledAet': True,
            'DicomAlwaysAllowEcho': True, 'DicomAlwaysAllowStore': True,
            'DicomAlwaysAllowFind': True, 'DicomAlwaysAllowGet': True,
            'DicomAlwaysAllowMove': True,
            'DicomModalities': {'radiolens': [move_aet, '127.0.0.1', move_port]},
            'Plugins': [],
        }
        self.config = self.folder / 'orthanc.json'
        self.config.write_text(json.dumps(config, indent=1))
        self.process = None
        self.start()

    @property
    def node(self):
        return f'ORTHANC@127.0.0.1:{self.dicom_port}'

    def start(self):
        with open(self.folder / 'orthanc.log', 'ab') as log:
            self.process = subprocess.Popen([EXECUTABLE, str(self.config)], stdout=log,
                                            stderr=log)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.rest('/system')
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError('Orthanc did not start: ' +
                                       (self.folder / 'orthanc.log').read_text())
                time.sleep(0.05)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()

    def pause(self):
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def rest(self, path, body=None):
        request = urllib.request.Request(
            f'http://127.0.0.1:{self.http_port}{path}',
            data=None if body is None else (body if isinstance(body, bytes)
                                            else json.dumps(body).encode()),
            method='GET' if body is None else 'POST')
        with urllib.request.urlopen(request, timeout=60) as response:
            data = response.read()
        try:
            return json.loads(data)
        except ValueError:
            return data
