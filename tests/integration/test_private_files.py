"""Database and data files are created private, whatever the umask (real processes)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPEN_UMASK = 0o002  # a common shell default: group-writable, world-readable


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    """A real process started with a permissive umask; SQLite in DATA_DIR (the default)."""
    env = {**os.environ, "DATA_DIR": str(data_dir), "DATABASE__URL": ""}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        preexec_fn=lambda: os.umask(OPEN_UMASK),
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_migrate_creates_a_private_data_dir_and_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = run(["-m", "youworker", "migrate"], data)
    assert result.returncode == 0, result.stdout + result.stderr
    assert mode(data) == 0o700
    created = [p for p in data.rglob("*") if p.is_file()]
    assert data / "youworker.db" in created
    for path in created:
        assert mode(path) & 0o077 == 0, f"{path.name} is {oct(mode(path))}"


def test_files_an_older_version_left_open_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    assert run(["-m", "youworker", "migrate"], data).returncode == 0
    database = data / "youworker.db"
    os.chmod(data, 0o755)
    os.chmod(database, 0o644)

    result = run(["-m", "youworker", "migrate"], data)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (mode(data), mode(database)) == (0o700, 0o600)


def test_the_app_process_writes_private_files(tmp_path: Path) -> None:
    """Importing the Reflex app (what every backend worker does) sets umask 077 first."""
    data = tmp_path / "data"
    probe = (
        "import os, uuid\n"
        "from pathlib import Path\n"
        "import youworker.youworker\n"
        "from youworker.services.documents.storage import FileStore\n"
        f"FileStore(Path({str(data / 'documents')!r})).write(uuid.uuid4(), b'x')\n"
        f"open({str(data / 'note.txt')!r}, 'w').close()\n"
        f"os.mkdir({str(data / 'made')!r})\n"
    )
    result = run(["-c", probe], data)
    assert result.returncode == 0, result.stdout + result.stderr
    assert mode(data) == 0o700
    assert mode(data / "note.txt") == 0o600
    assert mode(data / "made") == 0o700
    assert mode(data / "documents") == 0o700
