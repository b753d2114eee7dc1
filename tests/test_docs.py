"""Docs match the code: the config reference is generated from the config models."""

from __future__ import annotations

from pathlib import Path

from linewatch.configdoc import render

ROOT = Path(__file__).resolve().parents[1]


def test_config_reference_is_current() -> None:
    committed = (ROOT / "docs/config.md").read_text(encoding="utf-8")
    assert committed == render(), (
        "docs/config.md is stale: run `uv run python -m linewatch.configdoc > docs/config.md`"
    )


def test_readme_has_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install uv && uv run linewatch demo" in readme
    assert "uv run pytest" in readme
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert "uv run pytest" in ci
