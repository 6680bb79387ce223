"""Radiolens's decoded pixels against an independent decoder (pydicom).

For every DICOM file that pydicom can decode, `radiolens-cli convert FILE OUT.mha --no-resample`
must write the same values pydicom gives once the same output rules are applied to pydicom's
array (BitsStored masking, modality rescale, YBR -> RGB, frames in position order):

* lossless transfer syntaxes: exactly equal;
* DCT JPEG (baseline .50, extended .51) and irreversible (9/7) JPEG 2000: within a few grey levels,
  since the inverse transform is implementation dependent (see MAX_ABS_LOSSY below).

Data: RADIOLENS_PYDICOM_FILES (pydicom's own test files, python3-pydicom) and
RADIOLENS_DATA_DIR/dicom/transfer-syntaxes (one MR slice in nine transfer syntaxes, which must
also give nine identical Radiolens volumes). A missing folder skips its tests; a missing
RADIOLENS_CLI fails them.

Run: /usr/bin/python3 -m unittest -v tests/reference/test_pixels_vs_pydicom.py
(from the project root; or run the file directly with python3).
"""

import contextlib
import functools
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor

try:
    import numpy as np
    import pydicom
    from pydicom.encaps import generate_pixel_data_frame
    from pydicom.pixel_data_handlers.util import apply_modality_lut, convert_color_space

    IMPORT_ERROR = None
except ImportError as error:  # pragma: no cover - reported by each test as a skip
    IMPORT_ERROR = error

# ---- what the comparison allows -----------------------------------------------------------------

# DCT-based JPEG: the standard fixes the bit stream, not the inverse DCT, so decoders differ by
# rounding. IEEE 1180 asks an IDCT for a peak error of 1 per sample; one more grey level covers
# the YCbCr -> RGB conversion rounding on top (integer tables in libjpeg, floating point in
# pydicom's convert_color_space). The bound is in stored-value units at 8 and 12 bit alike (the
# IDCT error does not grow with precision), times |RescaleSlope| once rescaled. Measured on
# Debian 12 (DCMTK's IJG codecs against GDCM's): 0 on every file, as both are IJG "islow"
# decoders; the slack is for other builds (e.g. libjpeg-turbo's SIMD IDCT).
# The same bound applies to irreversible (9/7 wavelet) JPEG 2000, whose floating-point inverse
# wavelet may round differently in another decoder (0 measured: both sides use OpenJPEG).
# Reversible (5/3) JPEG 2000 is integer arithmetic, exact even when quality layers were dropped
# (693_J2KI.dcm), so .91 files with the 5/3 wavelet are compared exactly. JPEG-LS, even
# near-lossless (.81), is compared exactly too: its reconstruction is specified in integers, so
# any two correct decoders agree bit for bit.
MAX_ABS_LOSSY = 2.0
MAX_MEAN_ABS_LOSSY = 0.5

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
JPEG_2000 = "1.2.840.10008.1.2.4.91"  # may hold reversible (lossless) or irreversible data

# Files pydicom "decodes" that Radiolens rightly refuses or that are not fit for comparison.
# value: (reason, compare_if_accepted). compare_if_accepted=True: refusing is acceptable, but if
# Radiolens reads the file its pixels must still match pydicom's (pydicom's are right).
# Radiolens must not crash on any of them (exit code 0 or 1).
EXCLUDED = {
    "JPEG2000-embedded-sequence-delimiter.dcm": (
        "deliberately corrupted copy of JPEG2000.dcm (4 codestream bytes overwritten with a "
        "sequence delimiter, pydicom issue #1140); OpenJPEG rejects the SIZ marker, and pydicom's "
        "GDCM handler returns a garbage buffer instead of raising (133901 of 262144 pixels differ "
        "from JPEG2000.dcm), so there is nothing valid to compare; Radiolens must refuse it",
        False,
    ),
    "SC_rgb_jpeg.dcm": (
        "non-conformant encoding: the data set is Implicit VR although the transfer syntax is "
        "JPEG Baseline, whose data set must be Explicit VR Little Endian (PS3.5 A.4); pydicom "
        "guesses and reads it, DCMTK (dcmdump too) refuses it, so refusing is acceptable",
        True,
    ),
}

_SAFE_EXIT_CODES = (0, 1)
_CONVERT_TIMEOUT_S = 120

# ---- MetaImage reader ---------------------------------------------------------------------------

_MET_TYPES = {
    "MET_CHAR": "i1", "MET_UCHAR": "u1", "MET_SHORT": "i2", "MET_USHORT": "u2",
    "MET_INT": "i4", "MET_UINT": "u4", "MET_LONG": "i4", "MET_ULONG": "u4",
    "MET_LONG_LONG": "i8", "MET_ULONG_LONG": "u8", "MET_FLOAT": "f4", "MET_DOUBLE": "f8",
}


def read_mha(path):
    """Returns (header dict, array shaped (z, y, x) or (z, y, x, channels))."""
    with open(path, "rb") as f:
        blob = f.read()
    header, pos = {}, 0
    while True:
        end = blob.find(b"\n", pos)
        if end < 0:
            raise ValueError(f"{path}: MetaImage header without 'ElementDataFile'")
        line = blob[pos:end].decode("ascii", "replace").strip()
        pos = end + 1
        if not line:
            continue
        key, _, value = line.partition("=")
        header[key.strip()] = value.strip()
        if key.strip() == "ElementDataFile":
            break
    if header["ElementDataFile"] != "LOCAL":
        raise ValueError(f"{path}: data in a separate file ({header['ElementDataFile']})")
    dims = [int(v) for v in header["DimSize"].split()]
    channels = int(header.get("ElementNumberOfChannels", "1"))
    order = ">" if header.get("BinaryDataByteOrderMSB", "False").lower() == "true" else "<"
    dtype = np.dtype(order + _MET_TYPES[header["ElementType"]])
    data = blob[pos:]
    if header.get("CompressedData", "False").lower() == "true":
        data = zlib.decompress(data)
    count = int(np.prod(dims)) * channels
    if len(data) < count * dtype.itemsize:
        raise ValueError(f"{path}: {len(data)} data bytes, {count * dtype.itemsize} expected")
    array = np.frombuffer(data, dtype=dtype, count=count)
    shape = list(reversed(dims)) + ([channels] if channels > 1 else [])
    if len(shape) == 2 or (channels > 1 and len(shape) == 3):
        shape = [1] + shape  # 2D image: one slice
    return header, array.reshape(shape)


# ---- Radiolens ----------------------------------------------------------------------------------


def require_cli(test):
    cli = os.environ.get("RADIOLENS_CLI", "")
    if not cli:
        test.fail("RADIOLENS_CLI is not set (the path of the built radiolens-cli)")
    if not (os.path.isfile(cli) and os.access(cli, os.X_OK)):
        test.fail(f"RADIOLENS_CLI={cli!r} is not an executable file")
    return cli


def radiolens_convert(cli, path, out_dir):
    """Runs the conversion; returns a dict with returncode, stderr and the output path."""
    out = os.path.join(out_dir, os.path.basename(path) + ".mha")
    try:
        run = subprocess.run([cli, "convert", path, out, "--no-resample"], capture_output=True,
                             text=True, errors="replace", timeout=_CONVERT_TIMEOUT_S)
        return {"returncode": run.returncode, "stderr": run.stderr.strip(), "out": out}
    except subprocess.TimeoutExpired:
        return {"returncode": None, "stderr": f"timed out after {_CONVERT_TIMEOUT_S} s", "out": out}


def radiolens_info(cli, path):
    """Radiolens's own report on the file (for failure messages), or the error."""
    try:
        run = subprocess.run([cli, "info", path, "--json"], capture_output=True, text=True,
                             errors="replace", timeout=_CONVERT_TIMEOUT_S)
        if run.returncode != 0:
            return run.stderr.strip()
        info = json.loads(run.stdout)
        keys = ("size", "pixelType", "photometric", "warnings", "problems")
        return json.dumps({k: info.get(k) for k in keys})
    except Exception as error:  # diagnostics only
        return f"(info failed: {error})"


# ---- pydicom reference --------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_native_stderr():
    """GDCM prints codec warnings on file descriptor 2; keep them out of the test log."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _mask_to_bits_stored(arr, bits_stored, signed):
    """Keeps the low BitsStored bits (sign-extended when signed), as a DICOM reader must."""
    if arr.dtype.kind not in "iu" or bits_stored >= arr.dtype.itemsize * 8:
        return arr
    values = arr.astype(np.int64) & ((1 << bits_stored) - 1)
    if signed:
        values = np.where(values >= (1 << (bits_stored - 1)), values - (1 << bits_stored), values)
    return values


def _j2k_is_irreversible(ds, frames):
    """True when the first JPEG 2000 codestream uses the 9/7 (lossy) wavelet (COD marker)."""
    try:
        first = next(generate_pixel_data_frame(ds.PixelData, frames))
    except Exception:
        return True  # cannot tell: allow the lossy bound
    start = first.find(b"\xff\x4f\xff\x51")  # SOC SIZ (skips a JP2 wrapper if any)
    if start < 0:
        return True
    i = start + 2
    while i + 4 <= len(first):
        marker = first[i:i + 2]
        length = int.from_bytes(first[i + 2:i + 4], "big")
        if marker == b"\xff\x52":  # COD: Scod, SGcod(4), levels, cbw, cbh, cbstyle, transform
            return i + 13 < len(first) and first[i + 13] == 0
        if marker == b"\xff\x90":  # first tile part: COD not in the main header
            break
        i += 2 + length
    return True


def _frame_order(ds, frames):
    """The frame order Radiolens uses: ascending along the slice normal when every frame has a
    position (enhanced per-frame positions, or an RT dose GridFrameOffsetVector), else file order.
    Stable; of frames at the same position only the first is kept."""
    if frames < 2:
        return list(range(frames))
    depth = None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]

    def group(item, keyword):
        for source in (item, shared):
            if source is not None and keyword in source and len(source[keyword].value):
                return source[keyword].value[0]
        return None

    if per_frame and len(per_frame) == frames:
        depth = []
        for item in per_frame:
            pos = group(item, "PlanePositionSequence")
            ori = group(item, "PlaneOrientationSequence")
            if pos is None or ori is None or "ImagePositionPatient" not in pos:
                depth = None
                break
            iop = np.array(ori.ImageOrientationPatient, dtype=float)
            normal = np.cross(iop[:3], iop[3:])
            depth.append(float(np.dot(np.array(pos.ImagePositionPatient, dtype=float), normal)))
    elif ("GridFrameOffsetVector" in ds and "ImageOrientationPatient" in ds
          and "ImagePositionPatient" in ds and len(ds.GridFrameOffsetVector) == frames):
        depth = [float(v) for v in ds.GridFrameOffsetVector]
    if depth is None:
        return list(range(frames))
    order = []
    for index in sorted(range(frames), key=lambda k: depth[k]):
        if order and depth[index] - depth[order[-1]] < 1e-3:
            continue
        order.append(index)
    return order


def pydicom_reference(path):
    """pydicom's pixels with Radiolens's output rules applied.

    Returns a dict: ok, error, array (float64, (z, y, x[, 3])), ts, photometric, lossy, slope.
    """
    ref = {"ok": False, "error": "", "ts": "?", "photometric": "?", "lossy": False, "slope": 1.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(path)
            ref["ts"] = str(ds.file_meta.TransferSyntaxUID)
        except Exception as error:
            ref["error"] = f"pydicom cannot read it: {type(error).__name__}: {error}"
            return ref
        # Read these before pixel_array: pydicom 2.3's GDCM handler rewrites PixelRepresentation
        # of J2K files whose codestream sign disagrees with it (J2K_pixelrep_mismatch.dcm).
        photometric = str(ds.get("PhotometricInterpretation", "")).strip()
        ref["photometric"] = photometric
        bits_stored = ds.get("BitsStored")
        signed = ds.get("PixelRepresentation", 0) == 1
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        try:
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            with quiet_native_stderr():
                arr = np.asarray(ds.pixel_array)
        except Exception as error:
            ref["error"] = f"pydicom cannot decode it: {type(error).__name__}: {error}"
            return ref

        rows, columns = int(ds.Rows), int(ds.Columns)
        shape = (frames, rows, columns) + ((samples,) if samples > 1 else ())
        if arr.size != int(np.prod(shape)):
            ref["error"] = f"pydicom gave {arr.shape}, not {shape}"
            return ref
        arr = arr.reshape(shape)
        if bits_stored:
            arr = _mask_to_bits_stored(arr, int(bits_stored), signed)
        if samples == 3 and photometric in ("YBR_FULL", "YBR_FULL_422"):
            # pydicom 2.3 returns these in YCbCr from every handler (numpy, RLE, and for JPEG
            # GDCM's handler and Pillow's, which decodes with draft('YCbCr')); checked per file:
            # converting gives Radiolens's RGB, not converting differs by up to 255.
            # (YBR_RCT / YBR_ICT are undone by the JPEG 2000 decoder itself: already RGB.)
            arr = convert_color_space(arr.astype(np.uint8), photometric, "RGB")
        if samples == 1:
            per_frame_rescale = _per_frame_rescale(ds, frames)
            if per_frame_rescale is not None:
                slopes, intercepts = per_frame_rescale
                arr = arr * slopes[:, None, None] + intercepts[:, None, None]
                ref["slope"] = float(np.max(np.abs(slopes)))
            elif "ModalityLUTSequence" in ds or (
                    "RescaleSlope" in ds or "RescaleIntercept" in ds):
                if "RescaleSlope" in ds and "RescaleIntercept" not in ds:
                    ds.RescaleIntercept = 0
                if "RescaleIntercept" in ds and "RescaleSlope" not in ds:
                    ds.RescaleSlope = 1
                arr = apply_modality_lut(arr, ds)
                ref["slope"] = abs(float(ds.get("RescaleSlope", 1) or 1))
        arr = arr[_frame_order(ds, frames)]
        ts = ref["ts"]
        ref["lossy"] = ts in (JPEG_BASELINE, JPEG_EXTENDED) or (
            ts == JPEG_2000 and _j2k_is_irreversible(ds, frames))
        ref["array"] = np.asarray(arr, dtype=np.float64)
        ref["dtype"] = str(arr.dtype)
        ref["ok"] = True
        return ref


def _per_frame_rescale(ds, frames):
    """(slopes, intercepts) from the enhanced PixelValueTransformationSequence, or None."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]
    if not per_frame and shared is None:
        return None
    slopes, intercepts = [], []
    for f in range(frames):
        item = per_frame[f] if per_frame and f < len(per_frame) else None
        transform = None
        for source in (item, shared):
            seq = source.get("PixelValueTransformationSequence") if source is not None else None
            if seq:
                transform = seq[0]
                break
        if transform is None:
            return None
        slopes.append(float(transform.get("RescaleSlope", 1)))
        intercepts.append(float(transform.get("RescaleIntercept", 0)))
    return np.array(slopes), np.array(intercepts)


# ---- running and comparing ----------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def process_folder(cli, files, out_dir):
    """Converts every file with Radiolens (in parallel) while pydicom decodes them.

    Returns {path: (conversion dict, reference dict)}.
    """
    workers = max(2, min(8, os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {path: pool.submit(radiolens_convert, cli, path, out_dir) for path in files}
        references = {path: pydicom_reference(path) for path in files}
        return {path: (futures[path].result(), references[path]) for path in files}


def diagnose(mine, expected):
    """Names a simple relation between Radiolens's array and pydicom's, to speed up diagnosis."""
    candidates = []
    if mine.dtype.kind in "iu" and mine.dtype.itemsize > 1:
        candidates.append(("bytes swapped within each value", mine.byteswap()))
        if mine.dtype.itemsize == 4:
            halves = mine.view(np.uint32)
            swapped = ((halves >> np.uint32(16)) | (halves << np.uint32(16))).view(mine.dtype)
            candidates.append(("16-bit halves of each 32-bit value swapped", swapped))
    if mine.ndim == 4:
        candidates.append(("colour channels reversed (BGR)", mine[..., ::-1]))
    if mine.shape[0] > 1:
        candidates.append(("frames in reverse order", mine[::-1]))
    if mine.shape[1] == mine.shape[2]:
        candidates.append(("rows and columns transposed", mine.swapaxes(1, 2)))
    for label, candidate in candidates:
        if np.array_equal(candidate.astype(np.float64), expected):
            return f" Hint: equal once {label}."
    delta = mine.astype(np.float64) - expected
    if delta.size and np.all(delta == delta.flat[0]):
        return f" Hint: Radiolens is pydicom {delta.flat[0]:+g} everywhere."
    if delta.size and np.array_equal(-mine.astype(np.float64), expected):
        return " Hint: sign flipped."
    return ""


def compare(name, conversion, ref, cli, path):
    """Returns (failure message or None, max abs difference)."""
    try:
        header, mine = read_mha(conversion["out"])
    except Exception as error:
        return f"{name}: Radiolens's output cannot be read: {error}", None
    expected = ref["array"]
    context = (f"{name} [{ref['ts']}, {ref['photometric']}]: Radiolens {mine.shape} "
               f"{mine.dtype} ({header.get('ElementType')}), pydicom {expected.shape} "
               f"{ref['dtype']}")
    if mine.shape != expected.shape:
        return f"{context}: shapes differ. Radiolens info: {radiolens_info(cli, path)}", None
    got = mine.astype(np.float64)
    diff = np.abs(got - expected)
    max_diff = float(diff.max()) if diff.size else 0.0
    mean_diff = float(diff.mean()) if diff.size else 0.0
    if ref["lossy"]:
        scale = max(1.0, ref["slope"])
        bound, mean_bound = MAX_ABS_LOSSY * scale, MAX_MEAN_ABS_LOSSY * scale
        if max_diff <= bound and mean_diff < mean_bound:
            return None, max_diff
        rule = f"lossy bound: max <= {bound:g}, mean < {mean_bound:g}"
    else:
        if np.array_equal(got, expected):
            return None, 0.0
        rule = "lossless: must be equal"
    where = np.unravel_index(int(np.argmax(diff)), diff.shape)
    differing = int(np.count_nonzero(diff))
    return (f"{context}: {rule}; max |diff| {max_diff:g} at (z, y, x[, c]) = "
            f"{tuple(int(v) for v in where)} (Radiolens {got[where]:g}, pydicom "
            f"{expected[where]:g}), mean |diff| {mean_diff:.4g}, {differing} of {diff.size} "
            f"samples differ.{diagnose(mine, expected)} Radiolens info: "
            f"{radiolens_info(cli, path)}"), max_diff


def _skip_unless_imports(test):
    if IMPORT_ERROR is not None:
        test.skipTest(f"pydicom/numpy not importable ({IMPORT_ERROR}); "
                      "install python3-pydicom and python3-numpy; issue 3")


class PixelsMatchPydicom(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="radiolens-vs-pydicom-")

    @classmethod
    def tearDownClass(cls):
        process_folder.cache_clear()
        cls._tmp.cleanup()

    def _out_dir(self, label):
        path = os.path.join(self._tmp.name, label)
        os.makedirs(path, exist_ok=True)
        return path

    # -- pydicom's own test files -----------------------------------------------------------------

    def _pydicom_files(self):
        folder = os.environ.get("RADIOLENS_PYDICOM_FILES", "")
        if not folder or not os.path.isdir(folder):
            self.skipTest(f"pydicom test files not found (RADIOLENS_PYDICOM_FILES={folder!r}); "
                          "install python3-pydicom; issue 3")
        files = tuple(sorted(glob.glob(os.path.join(folder, "*.dcm"))))
        if not files:
            self.skipTest(f"no *.dcm files in {folder}; issue 3")
        return files

    def test_pydicom_test_files_match(self):
        """Every file pydicom decodes: Radiolens gives the same pixels (or it is excluded)."""
        _skip_unless_imports(self)
        cli = require_cli(self)
        files = self._pydicom_files()
        results = process_folder(cli, files, self._out_dir("pydicom"))
        exact, lossy, undecodable, excluded, lossy_max = [], [], [], [], 0.0
        for path, (conversion, ref) in results.items():
            name = os.path.basename(path)
            with self.subTest(file=name):
                code = conversion["returncode"]
                if code not in _SAFE_EXIT_CODES:
                    self.fail(f"{name}: radiolens-cli convert crashed or hung (exit {code}): "
                              f"{conversion['stderr'][-400:]}")
                if not ref["ok"]:
                    undecodable.append(name)  # not tested: pydicom has no reference
                    continue
                if name in EXCLUDED:
                    reason, compare_if_accepted = EXCLUDED[name]
                    excluded.append(name)
                    if code != 0:
                        continue  # refused, as allowed
                    if not compare_if_accepted:
                        self.fail(f"{name}: Radiolens converted a file it must refuse ({reason})")
                elif code != 0:
                    self.fail(f"{name} [{ref['ts']}, {ref['photometric']}]: pydicom decodes it "
                              f"but Radiolens refuses it: {conversion['stderr']}")
                message, max_diff = compare(name, conversion, ref, cli, path)
                if message:
                    self.fail(message)
                if ref["lossy"]:
                    lossy.append(name)
                    lossy_max = max(lossy_max, max_diff)
                else:
                    exact.append(name)
        sys.stderr.write(
            f"\n  pydicom test files: {len(results)} files; {len(exact)} equal exactly, "
            f"{len(lossy)} lossy within bounds (largest difference {lossy_max:g}); "
            f"{len(undecodable)} not decodable by pydicom, not tested ({', '.join(undecodable)}); "
            f"{len(excluded)} excluded ({', '.join(excluded) or '-'})\n")

    # -- one slice in nine transfer syntaxes ------------------------------------------------------

    def _transfer_syntax_files(self):
        data = os.environ.get("RADIOLENS_DATA_DIR", "")
        folder = os.path.join(data, "dicom", "transfer-syntaxes")
        if not data or not os.path.isdir(folder):
            self.skipTest(f"shared data not found: {folder!r} (RADIOLENS_DATA_DIR={data!r}); "
                          "issue 3")
        files = tuple(os.path.join(folder, f"{k}.dcm") for k in range(1, 10))
        missing = [os.path.basename(f) for f in files if not os.path.isfile(f)]
        if missing:
            self.fail(f"{folder} lacks {', '.join(missing)}")
        return files

    def test_transfer_syntaxes_match_pydicom(self):
        """1.dcm..9.dcm: Radiolens's pixels equal pydicom's exactly (all nine are lossless)."""
        _skip_unless_imports(self)
        cli = require_cli(self)
        files = self._transfer_syntax_files()
        results = process_folder(cli, files, self._out_dir("transfer-syntaxes"))
        for path, (conversion, ref) in results.items():
            name = os.path.basename(path)
            with self.subTest(file=name):
                self.assertTrue(ref["ok"], f"{name}: {ref['error']}")
                self.assertEqual(conversion["returncode"], 0,
                                 f"{name} [{ref['ts']}]: Radiolens refuses it: "
                                 f"{conversion['stderr']}")
                ref = dict(ref, lossy=False)  # every one of the nine is lossless
                message, _ = compare(name, conversion, ref, cli, path)
                if message:
                    self.fail(message)

    def test_transfer_syntaxes_identical_in_radiolens(self):
        """All nine Radiolens volumes are the same array (type, shape and values) as 1.dcm's."""
        _skip_unless_imports(self)
        cli = require_cli(self)
        files = self._transfer_syntax_files()
        results = process_folder(cli, files, self._out_dir("transfer-syntaxes"))
        volumes = {}
        for path, (conversion, _) in results.items():
            name = os.path.basename(path)
            self.assertEqual(conversion["returncode"], 0,
                             f"{name}: Radiolens refuses it: {conversion['stderr']}")
            header, array = read_mha(conversion["out"])
            volumes[name] = (header["ElementType"], array)
        first_type, first = volumes["1.dcm"]
        for name, (element_type, array) in volumes.items():
            with self.subTest(file=name):
                self.assertEqual((element_type, array.shape), (first_type, first.shape),
                                 f"{name} differs from 1.dcm in type or shape")
                if not np.array_equal(array, first):
                    diff = np.abs(array.astype(np.float64) - first.astype(np.float64))
                    where = np.unravel_index(int(np.argmax(diff)), diff.shape)
                    self.fail(f"{name} differs from 1.dcm: {int(np.count_nonzero(diff))} voxels, "
                              f"max |diff| {diff.max():g} at {tuple(int(v) for v in where)}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
