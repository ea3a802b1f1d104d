"""schema/schema.graphql keeps every name of the shared contract (skipped where ../shared is absent)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
