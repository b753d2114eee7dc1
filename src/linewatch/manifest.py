"""Chain of custody: ``RUN_DIR/manifest.json`` holds the SHA-256 of every file of a run.

Covered: the camera sources (the footage, by absolute path, as in the config snapshot),
``config.yaml``, ``run.json``, ``events.db``, ``tracks*.parquet``, every file under
``evidence/`` and every file under ``report/``. Write it last: after the evidence and the
report, so it covers them.

The manifest cannot contain its own hash (writing the hash changes the file).
:func:`write_manifest` returns the manifest's SHA-256 and ``linewatch report`` /
``linewatch verify`` print it: record it outside the run folder (case notes, an e-mail, a
ticket) to detect a rewritten manifest as well.

:func:`verify_run` re-hashes every listed file and names each one that changed or is
missing, and each file under ``evidence/`` or ``report/`` that was added since.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from linewatch import __version__
from linewatch.config import ConfigError, load_config

MANIFEST_FILE = "manifest.json"
RUN_FILES = ("config.yaml", "run.json", "events.db")
TREES = ("evidence", "report")  # every file under these is listed; additions are reported
_CHUNK = 1 << 20

Status = Literal["ok", "changed", "missing", "added"]


class ManifestError(ValueError):
    """No manifest, or one that cannot be read."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _run_files(run_dir: Path) -> Iterator[tuple[str, str]]:
    """(path relative to the run folder, role) of every run file that exists."""
    for name in RUN_FILES:
        if (run_dir / name).is_file():
            yield name, "run"
    for p in sorted(run_dir.glob("tracks*.parquet")):
        yield p.name, "run"
    for tree in TREES:
        for p in sorted((run_dir / tree).rglob("*")):
            if p.is_file():
                yield p.relative_to(run_dir).as_posix(), tree


def _sources(run_dir: Path) -> list[dict[str, Any]]:
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        return []
    try:
        cfg = load_config(cfg_path)
    except ConfigError as e:
        raise ManifestError(f"{cfg_path}: cannot read the camera sources: {e}") from None
    out: dict[str, dict[str, Any]] = {}
    for cam in cfg.cameras:
        path = cam.source if _is_url(cam.source) else str(cfg.resolve(cam.source))
        if path in out:  # several cameras on one file: one entry
            out[path]["cameras"].append(cam.id)
            continue
        entry: dict[str, Any] = {"path": path, "role": "source", "cameras": [cam.id]}
        if _is_url(cam.source):
            entry.update(sha256=None, bytes=None, note="live source: not hashable")
        elif Path(path).is_file():
            entry.update(sha256=sha256_file(Path(path)), bytes=Path(path).stat().st_size)
        else:
            entry.update(sha256=None, bytes=None, note="not found when the manifest was made")
        out[path] = entry
    return list(out.values())


def write_manifest(run_dir: str | Path) -> str:
    """Write ``RUN_DIR/manifest.json``; returns the manifest file's own SHA-256."""
    d = Path(run_dir)
    files = _sources(d)
    for rel, role in _run_files(d):
        p = d / rel
        files.append(
            {"path": rel, "role": role, "sha256": sha256_file(p), "bytes": p.stat().st_size}
        )
    doc = {
        "manifest_version": 1,
        "algorithm": "sha256",
        "software": {"name": "linewatch", "version": __version__},
        "note": (
            "Covers the sources, the run files, evidence/ and report/. It does not hold its "
            "own hash: record the SHA-256 of this file (printed when it is written) elsewhere."
        ),
        "files": files,
    }
    path = d / MANIFEST_FILE
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return sha256_file(path)


@dataclass(frozen=True, slots=True)
class FileCheck:
    path: str  # relative to the run folder, or absolute for sources
    role: str  # source, run, evidence, report
    status: Status
    expected: str | None = None
    actual: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    run_dir: Path
    manifest_sha256: str
    checks: list[FileCheck] = field(default_factory=list)

    def _with(self, status: Status) -> list[str]:
        return [c.path for c in self.checks if c.status == status]

    @property
    def changed(self) -> list[str]:
        return self._with("changed")

    @property
    def missing(self) -> list[str]:
        return self._with("missing")

    @property
    def added(self) -> list[str]:
        return self._with("added")

    @property
    def ok(self) -> bool:
        return all(c.status == "ok" for c in self.checks)

    def lines(self) -> list[str]:
        """One line per problem, then a summary line."""
        out = [f"{c.status.upper()}: {c.path} ({c.role})" for c in self.checks if c.status != "ok"]
        n_ok = sum(c.status == "ok" for c in self.checks)
        verdict = "intact" if self.ok else "MODIFIED"
        out.append(
            f"{self.run_dir}: {verdict}: {n_ok} of {len(self.checks)} files match "
            f"(manifest sha256 {self.manifest_sha256})"
        )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "ok": self.ok,
            "manifest_sha256": self.manifest_sha256,
            "changed": self.changed,
            "missing": self.missing,
            "added": self.added,
            "checked": len(self.checks),
        }


def verify_run(run_dir: str | Path) -> VerifyResult:
    """Check every file of the manifest; name those changed, missing or added."""
    d = Path(run_dir)
    path = d / MANIFEST_FILE
    if not path.is_file():
        raise ManifestError(f"{d}: no {MANIFEST_FILE}; build the report first (it writes one)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries = list(doc["files"])
    except (ValueError, KeyError, TypeError) as e:
        raise ManifestError(f"{path}: not a linewatch manifest ({e})") from None
    checks: list[FileCheck] = []
    listed: set[str] = set()
    for entry in entries:
        rel, role, expected = str(entry["path"]), str(entry["role"]), entry.get("sha256")
        listed.add(rel)
        if role == "source" and expected is None and _is_url(rel):
            continue  # live sources cannot be hashed
        p = Path(rel) if role == "source" else d / rel
        if not p.is_file() or expected is None:
            checks.append(FileCheck(rel, role, "missing", expected))
            continue
        actual = sha256_file(p)
        status: Status = "ok" if actual == expected else "changed"
        checks.append(FileCheck(rel, role, status, expected, actual))
    for rel, role in _run_files(d):
        if rel not in listed and role in TREES:
            checks.append(FileCheck(rel, role, "added", None, sha256_file(d / rel)))
    return VerifyResult(d, sha256_file(path), checks)


def _is_url(source: str) -> bool:
    """A live source (``rtsp://...``): no file to cut evidence from or to hash."""
    return "://" in source
