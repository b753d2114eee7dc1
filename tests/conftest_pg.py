"""A throwaway PostgreSQL cluster for tests (the recipe of ../shared/SERVICES.md).

``postgres_unavailable()`` says why a cluster cannot be started here (None when it can);
``postgres_cluster()`` starts one with initdb/pg_ctl in a temporary folder on a free
loopback port, yields its SQLAlchemy URL, and stops it (by its data dir) and removes the
folder afterwards. As root the server runs as the ``postgres`` user (via runuser).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

INITDB_GLOB = "/usr/lib/postgresql/*/bin/initdb"


def _bindir() -> Path | None:
    found = sorted(glob.glob(INITDB_GLOB), key=lambda p: int(Path(p).parts[4]), reverse=True)
    return Path(found[0]).parent if found else None


def postgres_unavailable() -> str | None:
    """Why no throwaway PostgreSQL can be started here, or None."""
    if _bindir() is None:
        return f"PostgreSQL not installed (no {INITDB_GLOB}; apt-get install postgresql)"
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg not importable (the project needs psycopg[binary] for PostgreSQL URLs)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_cluster(db: str = "testdb") -> Iterator[str]:
    """Start a throwaway cluster; yield ``postgresql+psycopg://postgres@127.0.0.1:PORT/db``."""
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError(f"PostgreSQL not installed ({INITDB_GLOB})")
    root = Path(tempfile.mkdtemp(prefix="linewatch-pg-"))
    data = root / "data"
    log = root / "server.log"
    as_pg: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_pg = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    pg_ctl = [*as_pg, str(bindir / "pg_ctl"), "-D", str(data)]

    def run(cmd: list[str]) -> None:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if res.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}{res.stderr}{tail}"
            )

    started = False
    try:
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        run([*as_pg, *initdb, "-E", "UTF8", "--locale=C.UTF-8"])
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        run([*pg_ctl, "-l", str(log), "-w", "-t", "30", "-o", opts, "start"])
        started = True
        run([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", db])
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{db}"
    finally:
        if started:
            subprocess.run(
                [*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True, timeout=60, check=False
            )
        shutil.rmtree(root, ignore_errors=True)
