"""Named numeric arrays as bytes for a database column, and back: numpy's npz format, never pickle.

Whoever can write a column must not run code in the processes that read it (a pickle would), nor make
them allocate more than the blob holds: `loads` refuses object arrays and any array whose header claims
more data than its archive member has, before numpy reads a byte of it.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Mapping

import numpy as np
from numpy.lib import format as npy

MAX_BYTES = 1 << 30
"""Most uncompressed bytes `loads` reads from one blob (PostgreSQL's bytea holds at most 1 GiB anyway)."""


def dumps(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Uncompressed: an index is written on every text change and read by every API process, and deflate
    costs far more time (30-50 times, for a board of 10,000 ideas) than the space it saves (2.5 times)."""
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def loads(payload: bytes, max_bytes: int = MAX_BYTES) -> dict[str, np.ndarray]:
    """The arrays `dumps` wrote; ValueError for anything else (not an archive, objects, sizes that lie)."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > max_bytes:
                raise ValueError(f"payload holds more than {max_bytes} bytes of arrays")
            for member in members:
                _check_header(archive, member)
        with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, KeyError) as exc:
        raise ValueError(f"payload is not an archive of arrays ({exc})") from None


def _check_header(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    name = member.filename
    if not name.endswith(".npy"):
        raise ValueError(f"payload member {name!r} is not an array")
    with archive.open(member) as fp:
        try:
            version = npy.read_magic(fp)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"npy format {version} is not one numpy.savez writes")
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = read_header(fp)
        except zipfile.BadZipFile:  # a damaged archive (a CRC mismatch on a small member), not a bad header
            raise
        except Exception as exc:  # a malformed header raises ValueError, SyntaxError or tokenize.TokenError
            raise ValueError(f"payload member {name!r} is not an array ({exc})") from None
        if dtype.hasobject:
            raise ValueError(f"payload member {name!r} holds Python objects")
        if any(d < 0 for d in shape):
            raise ValueError(f"payload member {name!r} has a negative dimension")
        if int(np.prod(shape, dtype=object)) * dtype.itemsize > member.file_size - fp.tell():
            raise ValueError(f"payload member {name!r} claims more data than it holds")
