"""The stored duplicate index: numeric arrays that load back, never a pickle, and rebuilt when unusable."""

from __future__ import annotations

import io
import logging
import pickle
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, select, update

import ranking
from ideaengine import scores, sweep
from ideaengine.duplicates import StoredIndex, idea_text
from ideaengine.platform import embeddings, npz
from ideaengine.platform.models import Board, BoardIndex, Idea, utcnow
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, idea_id

IDEAS = [
    ("Oat milk in every store", "Stock oat milk at every location"),
    ("Longer opening hours on Sundays", "Open until 8pm on Sundays"),
    ("Recyclable coffee cups", "Compostable cups and lids"),
]
SIMILAR = """query($b: ID!) { similarIdeas(boardId: $b, text: "oat milk at every location") { idea { id } } }"""


class Trap:
    """Unpickling one creates a file: proof of whether a pickle was loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


class Board3:
    """A board with IDEAS, indexed: its global id, its primary key and its ideas' ids (global, then keys)."""

    def __init__(self, board: str, board_pk: int, ideas: list[str], idea_pks: list[int]) -> None:
        self.id, self.pk, self.ideas, self.idea_pks = board, board_pk, ideas, idea_pks


@pytest.fixture
async def board(api: Api, ws: Workspace, services: Any) -> Board3:
    board = await create_board(api, ws.api_key)
    ideas = [await idea_id(api, ws.token("alice"), board, title, body=body) for title, body in IDEAS]
    await services.queue.drain()
    async with services.db.read() as session:
        board_pk = (await session.execute(select(Board.id))).scalar_one()
        idea_pks = list((await session.execute(select(Idea.id).order_by(Idea.id))).scalars())
    return Board3(board, board_pk, ideas, idea_pks)


async def stored_row(services: Any) -> Any:
    async with services.db.read() as session:
        return (await session.execute(select(BoardIndex))).scalar_one_or_none()


async def similar(api: Api, board: Board3) -> list[str]:
    found = await api(SIMILAR, {"b": board.id})
    return [f["idea"]["id"] for f in found["data"]["similarIdeas"]]


async def most_similar(api: Api, board: Board3) -> str:
    return (await similar(api, board))[0]


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ideaengine.duplicates"]


async def test_the_index_is_stored_as_arrays_that_load_back(board: Board3, services: Any) -> None:
    row = await stored_row(services)
    assert (row.board_id, row.text_seq, row.max_idea_id, row.format_version) == (
        board.pk,
        3,
        board.idea_pks[-1],
        ranking.INDEX_FORMAT,
    )
    assert row.payload[:4] == b"PK\x03\x04"  # a zip of .npy files (numpy.savez), not a pickle
    stored = StoredIndex.from_bytes(row.payload)
    assert stored.idea_ids == board.idea_pks
    assert stored.index.texts == [idea_text(title, body) for title, body in IDEAS]
    async with services.db.read() as session:
        vectors = list((await session.execute(select(Idea.embedding).order_by(Idea.id))).scalars())
    if embeddings.available():  # the `semantic` extra: the ideas' embeddings are part of the index
        assert stored.index.vectors is not None
        expected = np.vstack([np.frombuffer(v, dtype=np.float32) for v in vectors])
        np.testing.assert_allclose(stored.index.vectors, expected, rtol=0, atol=1e-6)
    else:
        assert stored.index.vectors is None and vectors == [None] * 3


async def test_similar_ideas_come_from_the_stored_index(
    api: Api, board: Board3, services: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with services.transaction() as session:  # what is stored is what answers: emptied, it finds nothing
        payload = StoredIndex(ranking.TextIndex(["Charging points for electric cars"]), [board.idea_pks[2]]).to_bytes()
        await session.execute(update(BoardIndex).values(payload=payload, built_at=utcnow()))
    assert await similar(api, board) == []
    assert refusals(caplog) == []


async def test_a_pickle_in_the_column_is_never_loaded_and_the_board_still_answers(
    api: Api, board: Board3, services: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    async with services.transaction() as session:
        await session.execute(update(BoardIndex).values(payload=pickle.dumps(Trap(marker)), built_at=utcnow()))
    caplog.set_level(logging.WARNING, logger="ideaengine.duplicates")
    assert await most_similar(api, board) == board.ideas[0]  # every idea matched per request instead
    assert await most_similar(api, board) == board.ideas[0]
    assert not marker.exists()
    assert refusals(caplog) == [
        f"board {board.pk}: stored duplicate index (text_seq 3) ignored: payload is not an archive of arrays "
        "(File is not a zip file) (rebuilt at the board's next text change)"
    ]  # once per build and process, not once per request


def flip_a_data_byte(payload: bytes, member: str) -> bytes:
    """The archive with one byte of a member's array data changed (after its 128-byte npy header)."""
    info = zipfile.ZipFile(io.BytesIO(payload)).getinfo(member)
    name_length, extra_length = struct.unpack("<HH", payload[info.header_offset + 26 : info.header_offset + 30])
    position = info.header_offset + 30 + name_length + extra_length + 128
    changed = bytearray(payload)
    changed[position] ^= 0xFF
    return bytes(changed)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        pytest.param(lambda good: b"", "payload is not an archive of arrays (File is not a zip file)", id="empty"),
        pytest.param(
            lambda good: b"\x00" * 64, "payload is not an archive of arrays (File is not a zip file)", id="garbage"
        ),
        pytest.param(
            lambda good: good[: len(good) // 2],
            "payload is not an archive of arrays (File is not a zip file)",
            id="cut short",
        ),
        pytest.param(
            lambda good: flip_a_data_byte(good, "word_ids.npy"),
            "payload is not an archive of arrays (Bad CRC-32 for file 'word_ids.npy')",
            id="one byte changed",
        ),
        pytest.param(
            lambda good: npz.dumps({**npz.loads(good), "format": np.asarray(ranking.INDEX_FORMAT + 1)}),
            f"format {ranking.INDEX_FORMAT + 1} is not {ranking.INDEX_FORMAT}, the one this version reads",
            id="arrays of another format under the current column",
        ),
        pytest.param(
            lambda good: npz.dumps({**npz.loads(good), "word_ids": npz.loads(good)["word_ids"] + np.int64(10**6)}),
            "word_ids has ids outside 0..{}",
            id="ids past the vocabulary",
        ),
    ],
)
async def test_a_tampered_index_is_refused_and_the_next_text_change_rebuilds_it(
    api: Api,
    ws: Workspace,
    board: Board3,
    services: Any,
    caplog: pytest.LogCaptureFixture,
    tamper: Callable[[bytes], bytes],
    reason: str,
) -> None:
    good = (await stored_row(services)).payload
    async with services.transaction() as session:
        await session.execute(update(BoardIndex).values(payload=tamper(good), built_at=utcnow()))
    caplog.set_level(logging.WARNING, logger="ideaengine.duplicates")
    assert await most_similar(api, board) == board.ideas[0]  # every idea matched per request instead
    words = len(npz.loads(good)["word_vocab_ptr"]) - 1
    assert refusals(caplog) == [
        f"board {board.pk}: stored duplicate index (text_seq 3) ignored: {reason.format(words - 1)} "
        "(rebuilt at the board's next text change)"
    ]
    await idea_id(api, ws.token("bob"), board.id, "Please stock oat milk at all locations")
    await services.queue.drain()
    rebuilt = StoredIndex.from_bytes((await stored_row(services)).payload)
    assert rebuilt.idea_ids == [*board.idea_pks, board.idea_pks[-1] + 1]


async def test_an_index_of_another_format_counts_as_missing_until_the_sweep_rebuilds_it(
    api: Api, board: Board3, services: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with services.transaction() as session:
        await session.execute(update(BoardIndex).values(format_version=ranking.INDEX_FORMAT + 1, built_at=utcnow()))
    async with services.db.read() as session:
        assert await scores.stale_boards(session) == ([], [board.pk])
    caplog.set_level(logging.WARNING, logger="ideaengine.duplicates")
    assert await most_similar(api, board) == board.ideas[0]
    assert refusals(caplog) == [
        f"board {board.pk}: stored duplicate index (text_seq 3) ignored: format {ranking.INDEX_FORMAT + 1} "
        f"is not {ranking.INDEX_FORMAT} (the sweep rebuilds it)"
    ]
    assert await sweep.sweep(services.db, services.queue) == 1
    await services.queue.drain()
    row = await stored_row(services)
    assert (row.text_seq, row.format_version) == (3, ranking.INDEX_FORMAT)
    assert StoredIndex.from_bytes(row.payload).idea_ids == board.idea_pks
    async with services.db.read() as session:
        assert await scores.stale_boards(session) == ([], [])


async def test_the_sweep_rebuilds_a_cleared_index(api: Api, board: Board3, services: Any) -> None:
    """What migration 0004 leaves: no index rows at all."""
    async with services.transaction() as session:
        await session.execute(delete(BoardIndex))
    async with services.db.read() as session:
        assert await scores.stale_boards(session) == ([], [board.pk])
    assert await most_similar(api, board) == board.ideas[0]
    assert await sweep.sweep(services.db, services.queue) == 1
    await services.queue.drain()
    row = await stored_row(services)
    assert (row.text_seq, row.max_idea_id, row.format_version) == (3, board.idea_pks[-1], ranking.INDEX_FORMAT)
    assert StoredIndex.from_bytes(row.payload).idea_ids == board.idea_pks


def test_embeddings_are_stored_as_float32_and_load_back() -> None:
    rows = np.random.default_rng(0).standard_normal((3, 384)).astype(np.float32)
    index = ranking.TextIndex([idea_text(t, b) for t, b in IDEAS], vectors=rows)
    payload = StoredIndex(index, [7, 8, 9]).to_bytes()
    restored = StoredIndex.from_bytes(payload)
    assert restored.idea_ids == [7, 8, 9]
    assert restored.index.vectors is not None and index.vectors is not None
    np.testing.assert_allclose(restored.index.vectors, index.vectors, rtol=0, atol=1e-7)
    assert len(payload) < len(StoredIndex(ranking.TextIndex(index.texts), [7, 8, 9]).to_bytes()) + 3 * 384 * 4 + 512
    query = rows[0] / np.linalg.norm(rows[0])
    assert [i for i, _ in restored.index.similar("oat milk", k=3, vector=query)] == [
        i for i, _ in index.similar("oat milk", k=3, vector=query)
    ]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        pytest.param(None, "idea_ids is missing", id="no idea ids"),
        pytest.param(np.arange(2), "idea_ids must be 3 integers, one per indexed text", id="too few idea ids"),
        pytest.param(np.ones(3), "idea_ids must be 3 integers, one per indexed text", id="idea ids as floats"),
    ],
)
def test_a_stored_index_needs_one_idea_id_per_text(ids: np.ndarray | None, message: str) -> None:
    arrays = ranking.TextIndex([idea_text(t, b) for t, b in IDEAS]).to_arrays()
    payload = npz.dumps(arrays if ids is None else {**arrays, "idea_ids": ids})
    with pytest.raises(ValueError) as refused:
        StoredIndex.from_bytes(payload)
    assert str(refused.value) == message


def test_an_index_pickled_by_the_previous_version_is_refused() -> None:
    old = pickle.dumps(StoredIndex(ranking.TextIndex(["Oat milk in every store"]), [1]))
    with pytest.raises(ValueError) as refused:
        StoredIndex.from_bytes(old)
    assert str(refused.value) == "payload is not an archive of arrays (File is not a zip file)"
