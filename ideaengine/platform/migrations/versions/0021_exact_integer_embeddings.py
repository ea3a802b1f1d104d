"""Sentence embeddings are computed again, on integer products that are exact on every CPU

The embedder's weight products now multiply uint8 activations by uint8 weights (each stored int8 weight plus
128, with 128 as the zero point; `embeddings._integer_products`, MODEL_ID "all-MiniLM-L6-v2-onnx-int8-qdq8-exact").
With the int8 weights as stored, onnxruntime's AVX2 kernel on a CPU without VNNI saturated, so a server on such
a CPU stored vectors 0.98-0.99 cosine to the ones a CPU with VNNI computes, and the two could not be told
apart. Both ways every stored vector goes (`ideas.embedding`, and the board indexes that carry them), as in
0019: the sweep rebuilds each board's index and embeds its ideas again.

Revision ID: 0021_exact_integer_embeddings
Revises: 0020_index_payload_last
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_exact_integer_embeddings"
down_revision: str | None = "0020_index_payload_last"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _forget_vectors() -> None:
    op.execute("UPDATE ideas SET embedding = NULL WHERE embedding IS NOT NULL")
    op.execute("DELETE FROM board_indexes")


def upgrade() -> None:
    _forget_vectors()


def downgrade() -> None:
    _forget_vectors()
