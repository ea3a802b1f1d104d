"""schema/schema.graphql keeps every name of the shared contract (skipped where ../shared is absent)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from graphql import GraphQLEnumType, GraphQLSchema

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT.parent / "shared" / "tools" / "contract-check"


@pytest.mark.skipif(not CHECK.exists(), reason="../shared/tools/contract-check is not beside this clone")
def test_exported_schema_keeps_the_contract() -> None:
    result = subprocess.run(
        [sys.executable, str(CHECK), "schema/schema.graphql"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_checked_in_schema_is_what_the_code_exports() -> None:
    from schema import export_sdl

    assert (ROOT / "schema" / "schema.graphql").read_text() == export_sdl()


def _schema() -> GraphQLSchema:
    from schema import build_schema

    return build_schema()._schema


def test_every_enum_value_says_what_it_means() -> None:
    """The schema is the API's documentation: a client reading `IdeaSort` learns what MOST_VOTES counts."""
    enums = [
        t for name, t in _schema().type_map.items() if isinstance(t, GraphQLEnumType) and not name.startswith("__")
    ]
    assert {e.name for e in enums} >= {"IdeaStatus", "IdeaSort", "Role", "UserErrorCode", "VoteValue", "WebhookEvent"}
    undescribed = [f"{e.name}.{v}" for e in enums for v, value in e.values.items() if not value.description]
    assert undescribed == []


def test_every_operation_is_described_and_every_mutation_names_its_codes() -> None:
    root = _schema()
    for kind in (root.query_type, root.mutation_type, root.subscription_type):
        assert kind is not None
        assert [n for n, f in kind.fields.items() if not f.description] == [], kind.name
    assert root.mutation_type is not None
    assert [n for n, f in root.mutation_type.fields.items() if "Codes:" not in (f.description or "")] == []


def test_an_enum_value_left_undescribed_is_refused_at_import() -> None:
    import enum

    from schema.enums import described

    class Colour(enum.Enum):
        RED = "RED"
        BLUE = "BLUE"

    with pytest.raises(ValueError, match="Colour: describe every value; missing BLUE"):
        described(Colour, "Colour", "A colour.", {Colour.RED: "Warm."})
