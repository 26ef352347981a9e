"""A throw-away PostgreSQL cluster for tests: a temp dir, loopback only, run as the unprivileged ``postgres`` user.

PostgreSQL refuses to run as root, and the test machine runs us as root, so
the server binaries run as ``postgres`` (``subprocess``'s ``user=``) in a
folder that user owns.  Run as an ordinary user, they run as that user.
Password authentication (scram) is on, so a wrong password fails as it would
on a real server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass

PASSWORD = "nas-test-password"
USER = "postgres"


def find_binaries() -> str | None:
    """The folder of ``initdb``/``pg_ctl`` (Debian's versioned folders, or on PATH)."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(folder, "pg_ctl")):
            return folder
    found = shutil.which("pg_ctl")
    return os.path.dirname(found) if found else None


def free_port() -> int:
    """A loopback port nothing listens on now (a server, torchrun's rendezvous, or a refused connection)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresCluster:
    bin_dir: str
    root: str = ""
    port: int = 0

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        as_user = {"user": USER, "group": pwd.getpwnam(USER).pw_gid, "extra_groups": []} if os.geteuid() == 0 else {}
        return subprocess.run(
            [os.path.join(self.bin_dir, command[0]), *command[1:]],
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
            cwd=self.root,
            env={**os.environ, "PGPASSWORD": PASSWORD},
            **as_user,
        )

    @property
    def data_dir(self) -> str:
        return os.path.join(self.root, "data")

    def start(self) -> "PostgresCluster":
        self.root = tempfile.mkdtemp(prefix="nas-pg-")
        if os.geteuid() == 0:
            entry = pwd.getpwnam(USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        with open(os.path.join(self.root, "pw"), "w") as handle:
            handle.write(PASSWORD)
        if os.geteuid() == 0:
            os.chown(os.path.join(self.root, "pw"), pwd.getpwnam(USER).pw_uid, -1)
        self._run(
            "initdb",
            "-D",
            self.data_dir,
            "-U",
            USER,
            "--auth=scram-sha-256",
            f"--pwfile={self.root}/pw",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.port = free_port()
        self.server("start")
        return self

    def server(self, action: str) -> None:
        """``start`` or ``stop`` the server (tests stop it to lose the connection, then start it again)."""
        if action == "start":
            options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
            self._run("pg_ctl", "-D", self.data_dir, "-l", os.path.join(self.root, "log"), "-o", options, "-w", "start")
        else:
            self._run("pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "stop", check=False)

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name)
        return self.url(name)

    def url(self, name: str, password: str = PASSWORD) -> str:
        return f"postgresql+psycopg2://{USER}:{password}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.root:
            self.server("stop")
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = ""
