"""The investigation report of a run folder (HTML + JSON), see :mod:`linewatch.report.build`.

``build_report`` is imported lazily: :mod:`linewatch.evidence` uses this package's
``findings`` module, and the build uses the evidence module.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linewatch.evidence import EvidenceOptions

__all__ = ["build_report"]


def build_report(
    run_dir: str | Path,
    evidence: bool = True,
    options: EvidenceOptions | None = None,
    manifest: bool = True,
) -> Path:
    """Write RUN_DIR/report/index.html and report.json (and missing evidence, the manifest)."""
    from linewatch.report.build import build_report as build

    return build(run_dir, evidence=evidence, options=options, manifest=manifest)
