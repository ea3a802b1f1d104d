"""Sentence embeddings move to the model run on 8-bit activations: every stored vector is computed again

The embedder now runs the model's weight products on integers (`embeddings._integer_products`, MODEL_ID
"all-MiniLM-L6-v2-onnx-int8-qdq8"). Its vectors are about 0.99 cosine to the old ones, close but not the same
space: a draft embedded by the new code against ideas embedded by the old would score on neither calibration.
So both ways the stored vectors go (`ideas.embedding`, and the board indexes that carry them): with no index
row every board with ideas is stale, the sweep rebuilds it and embeds its ideas again; until then "did you mean"
matches each board's ideas per request, embedding those it has no vector for.

Revision ID: 0019_integer_embeddings
Revises: 0018_score_rows
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_integer_embeddings"
down_revision: str | None = "0018_score_rows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _forget_vectors() -> None:
    op.execute("UPDATE ideas SET embedding = NULL WHERE embedding IS NOT NULL")
    op.execute("DELETE FROM board_indexes")


def upgrade() -> None:
    _forget_vectors()


def downgrade() -> None:
    _forget_vectors()
