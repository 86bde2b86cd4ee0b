"""A private PostgreSQL 15 + Q3C server, set up the way Astro Data Lab runs its catalogs.

The baseline Skydock is measured against: a throw-away cluster in a temporary directory,
listening on 127.0.0.1 only on a port chosen at run time, memory tuned for a 24 GB host,
each table loaded with ``COPY``, indexed with ``q3c_ang2ipix(ra, dec)``, ``CLUSTER``-ed on
that index and ``ANALYZE``-d. The Debian packages are installed when missing (root only).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

PG_VERSION = "15"
PG_BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
Q3C_CONTROL = Path(f"/usr/share/postgresql/{PG_VERSION}/extension/q3c.control")
PACKAGES = (f"postgresql-{PG_VERSION}", f"postgresql-{PG_VERSION}-q3c")
COPY_BLOCK = 8 << 20
ROOT_PREFIX = "skydock-bench-pg-"
OWNER_FILE = "owner.pid"

# DuckDB column types and the PostgreSQL type the same values load into.
_PG_TYPES = {
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}


class PostgresUnavailableError(RuntimeError):
    """PostgreSQL + Q3C cannot be installed or started here; the PG baseline is skipped."""


def pg_type(duckdb_type: str) -> str | None:
    """The PostgreSQL type for a DuckDB column type, or None when it is not loaded."""
    return _PG_TYPES.get(duckdb_type.upper())


def ensure_installed(log: Any = print) -> None:
    """Install postgresql-15 and its Q3C extension from Debian if either is missing."""
    if (PG_BIN / "postgres").is_file() and Q3C_CONTROL.is_file():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailableError(
            f"PostgreSQL {PG_VERSION} with Q3C is not installed and this is not a root "
            f"Debian shell; install {' '.join(PACKAGES)} or pass --no-postgres"
        )
    log(f"installing {' '.join(PACKAGES)} (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet: dict[str, Any] = {"env": env, "stdout": subprocess.DEVNULL}
    subprocess.run(["apt-get", "update"], check=True, **quiet)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES],
        check=True,
        **quiet,
    )
    if not Q3C_CONTROL.is_file():
        raise PostgresUnavailableError(f"installing {PACKAGES[1]} did not provide {Q3C_CONTROL}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Tuning:
    """Memory settings of the benchmark cluster (Data Lab tunes its servers the same way)."""

    shared_buffers: str = "4GB"
    work_mem: str = "256MB"
    maintenance_work_mem: str = "2GB"
    effective_cache_size: str = "12GB"


class PostgresServer:
    """One private cluster: ``start()``, load tables, query, ``stop()`` (also on exit)."""

    def __init__(self, tuning: Tuning | None = None, log: Any = print) -> None:
        self.tuning = tuning or Tuning()
        self.log = log
        self.port = 0
        self.root: Path | None = None
        self._running = False
        self.version = ""
        self._as_postgres = os.geteuid() == 0

    @property
    def datadir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        ensure_installed(self.log)
        self.sweep_stale()
        self.root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
        (self.root / OWNER_FILE).write_text(str(os.getpid()))
        if self._as_postgres:
            # root may not run the server; the postgres account owns the cluster.
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._pg("initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.port = free_port()
        t = self.tuning
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "shared_buffers": f"'{t.shared_buffers}'",
            "work_mem": f"'{t.work_mem}'",
            "maintenance_work_mem": f"'{t.maintenance_work_mem}'",
            "effective_cache_size": f"'{t.effective_cache_size}'",
            "max_parallel_workers_per_gather": "2",
            "random_page_cost": "1.1",
            # A scratch cluster: durability costs load time and buys nothing here.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_wal_size": "'8GB'",
            "logging_collector": "off",
        }
        conf = self.datadir / "postgresql.conf"
        with conf.open("a", encoding="utf-8") as fh:
            fh.write("\n# skydock benchmark settings\n")
            fh.writelines(f"{k} = {v}\n" for k, v in settings.items())
        log_file = self.root / "server.log"
        self._pg("pg_ctl", "-D", str(self.datadir), "-l", str(log_file), "-w", "-t", "60", "start")
        self._running = True
        with self.connect() as con:
            con.execute("CREATE EXTENSION IF NOT EXISTS q3c")
            version = con.execute("SELECT version()").fetchone()
            q3c = con.execute("SELECT q3c_version()").fetchone()
        self.version = (
            f"{str(version[0]).split(' on ')[0] if version else '?'}, Q3C {q3c[0] if q3c else '?'}"
        )
        self.log(f"PostgreSQL up on 127.0.0.1:{self.port} ({self.version})")

    def stop(self) -> None:
        if self._running:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._pg("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")
            self._running = False
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def sweep_stale(self) -> None:
        """Stop and remove clusters left by benchmark runs that were killed outright."""
        for root in Path(tempfile.gettempdir()).glob(ROOT_PREFIX + "*"):
            owner = root / OWNER_FILE
            try:
                pid = int(owner.read_text())
            except (OSError, ValueError):
                continue
            if _alive(pid):
                continue
            if (root / "data" / "postmaster.pid").exists():
                self.log(f"stopping a PostgreSQL left running by benchmark process {pid}")
                with contextlib.suppress(PostgresUnavailableError):
                    self._pg("pg_ctl", "-D", str(root / "data"), "-m", "immediate", "-w", "stop")
            shutil.rmtree(root, ignore_errors=True)

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def load_csv(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        csv_path: Path,
        *,
        ra: str = "ra",
        dec: str = "dec",
    ) -> dict[str, float]:
        """Create ``table``, COPY the CSV (with header) in, then index, cluster, analyze.

        Returns the seconds each step took.
        """
        steps: dict[str, float] = {}
        ddl = ", ".join(f'"{name}" {typ}' for name, typ in columns)
        with self.connect() as con:
            con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(f"CREATE TABLE {table} ({ddl})")
            start = time.perf_counter()
            with (
                con.cursor() as cur,
                cur.copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as copy,
                csv_path.open("rb") as fh,
            ):
                while block := fh.read(COPY_BLOCK):
                    copy.write(block)
            steps["copy"] = time.perf_counter() - start
            index = f"{table}_q3c_idx"
            for step, sql in (
                ("index", f"CREATE INDEX {index} ON {table} (q3c_ang2ipix({ra}, {dec}))"),
                ("cluster", f"CLUSTER {table} USING {index}"),
                ("analyze", f"ANALYZE {table}"),
            ):
                start = time.perf_counter()
                con.execute(sql)
                steps[step] = time.perf_counter() - start
        return steps

    def prewarm(self, table: str) -> None:
        """Read the table and its index once so timings see a warm buffer cache."""
        with self.connect() as con:
            con.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            con.execute(f"SELECT pg_prewarm('{table}')")
            con.execute(f"SELECT pg_prewarm('{table}_q3c_idx')")

    def _pg(self, program: str, *args: str) -> None:
        cmd = [str(PG_BIN / program), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if result.returncode != 0:
            raise PostgresUnavailableError(
                f"{program} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
            )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def running(tuning: Tuning | None = None, log: Any = print) -> Iterator[PostgresServer]:
    server = PostgresServer(tuning, log)
    try:
        server.start()
        yield server
    finally:
        server.stop()
