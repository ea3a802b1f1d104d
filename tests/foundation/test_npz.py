"""Arrays in a database blob: what numpy.savez wrote loads back; nothing else does, and nothing is unpickled."""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.lib import format as npy

from ideaengine.platform import npz


class Trap:
    """Unpickling one creates a file: proof of whether a pickle was loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)
    return buffer.getvalue()


def npy_bytes(header: dict[str, Any], data: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    buffer = io.BytesIO()
    write = npy.write_array_header_1_0 if version == (1, 0) else npy.write_array_header_2_0
    write(buffer, header)
    return buffer.getvalue() + data


def npy_header(text: bytes) -> bytes:
    """A version 1.0 npy header around any text."""
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def test_arrays_come_back_with_their_values_dtypes_and_shapes() -> None:
    arrays: dict[str, np.ndarray] = {
        "format": np.asarray(1, dtype=np.int64),
        "bytes": np.frombuffer("Café".encode(), dtype=np.uint8),
        "ids": np.arange(5, dtype=np.int32),
        "rows": np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4),
        "empty": np.zeros((0, 384)),
    }
    loaded = npz.loads(npz.dumps(arrays))
    assert sorted(loaded) == sorted(arrays)
    for name, array in arrays.items():
        assert (loaded[name].dtype, loaded[name].shape) == (array.dtype, array.shape), name
        np.testing.assert_array_equal(loaded[name], array)


def test_object_arrays_are_not_written() -> None:
    with pytest.raises(ValueError) as refused:
        npz.dumps({"objects": np.array([{"a": 1}], dtype=object)})
    assert str(refused.value) == "Object arrays cannot be saved when allow_pickle=False"


def test_a_pickle_is_refused_without_being_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    with pytest.raises(ValueError) as refused:
        npz.loads(pickle.dumps(Trap(marker)))
    assert str(refused.value) == "payload is not an archive of arrays (File is not a zip file)"
    assert not marker.exists()


def test_an_object_array_in_an_archive_is_refused_without_being_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    buffer = io.BytesIO()
    np.savez(buffer, ids=np.arange(3), objects=np.array([Trap(marker)], dtype=object))  # pickles the object
    with pytest.raises(ValueError) as refused:
        npz.loads(buffer.getvalue())
    assert str(refused.value) == "payload member 'objects.npy' holds Python objects"
    assert not marker.exists()


HEADER = {"descr": "<i8", "fortran_order": False}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param(lambda: b"", "payload is not an archive of arrays (File is not a zip file)", id="empty"),
        pytest.param(
            lambda: npy_bytes({**HEADER, "shape": (1,)}, bytes(8)),
            "payload is not an archive of arrays (File is not a zip file)",
            id="one npy file, not an archive",
        ),
        pytest.param(
            lambda: archive({"ids.npy": npy_bytes({**HEADER, "shape": (10**12,)}, bytes(8))}),
            "payload member 'ids.npy' claims more data than it holds",
            id="a header that claims a terabyte",
        ),
        pytest.param(
            lambda: archive({"ids.npy": npy_bytes({**HEADER, "shape": (3,)}, bytes(16))}),
            "payload member 'ids.npy' claims more data than it holds",
            id="a header one row past the data",
        ),
        pytest.param(
            lambda: archive({"notes.txt": b"hello"}),
            "payload member 'notes.txt' is not an array",
            id="a member that is not an array",
        ),
        pytest.param(
            lambda: archive({"ids.npy": npy_header(b"{'descr': 'nonsense'}")}),
            "payload member 'ids.npy' is not an array (Header does not contain the correct keys: ['descr'])",
            id="a header that is not an array's",
        ),
        pytest.param(
            lambda: archive({"ids.npy": npy_header(b"{'descr': '<i8', 'fortr")}),
            "payload member 'ids.npy' is not an array (('EOF in multi-line statement', (2, 0)))",
            id="a header cut short",
        ),
        pytest.param(
            lambda: archive({"ids.npy": npy_bytes({**HEADER, "shape": (-1,)}, bytes(8))}),
            "payload member 'ids.npy' has a negative dimension",
            id="a negative dimension",
        ),
        pytest.param(
            lambda: archive(
                {"rows.npy": npy_bytes({"descr": [("a", "O")], "fortran_order": False, "shape": (1,)}, b"")}
            ),
            "payload member 'rows.npy' holds Python objects",
            id="a record with an object field",
        ),
        pytest.param(
            lambda: archive({"ids.npy": b"\x93NUMPY\x09\x00" + bytes(16)}),
            "payload member 'ids.npy' is not an array (npy format (9, 0) is not one numpy.savez writes)",
            id="an npy format numpy does not write",
        ),
        pytest.param(
            lambda: archive({"ids.npy": b"not an npy file"}),
            "payload member 'ids.npy' is not an array "
            "(the magic string is not correct; expected b'\\x93NUMPY', got b'not an')",
            id="a member that is not npy",
        ),
    ],
)
def test_what_numpy_savez_did_not_write_is_refused(payload: Callable[[], bytes], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        npz.loads(payload())
    assert str(refused.value) == message


def test_a_blob_larger_than_the_limit_is_refused_before_it_is_read() -> None:
    payload = npz.dumps({"rows": np.zeros((100, 10))})
    assert npz.loads(payload, max_bytes=8_200)["rows"].shape == (100, 10)
    with pytest.raises(ValueError) as refused:
        npz.loads(payload, max_bytes=8_000)
    assert str(refused.value) == "payload holds more than 8000 bytes of arrays"
