"""`python -m youworker import`: a folder of files into a person's library, resumable.

The service runs against both databases with real ingestion (ONNX embedder, embedded Qdrant);
the command runs as a real subprocess on 1,000 files, twice.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import count_rows
from tests.files import PAGE_ONE, PAGE_TWO, make_pdf
from tests.integration.test_cli import run_cli
from tests.integration.test_documents import context, files, store, worker
from youworker.models import User
from youworker.services import groups
from youworker.services.documents.bulk_import import (
    FileResult,
    Outcome,
    files_to_import,
    import_files,
    resolve_target,
)
from youworker.services.documents.embedders import get_onnx_embedder
from youworker.services.documents.retrieval import search_passages
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.documents.worker import IngestionWorker
from youworker.services.errors import NotFound

__all__ = ["context", "files", "store", "worker"]

MAX_BYTES = 10**6


def manual_folder(root: Path) -> Path:
    """A folder as people have them: subfolders, a PDF, notes, and things to skip or refuse."""
    folder = root / "manual"
    (folder / "travel").mkdir(parents=True)
    (folder / "travel" / "allowances.pdf").write_bytes(make_pdf([PAGE_ONE, PAGE_TWO]))
    (folder / "notes.md").write_text("# Parking\n\nThe car park opens at 7 am.\n")
    (folder / "empty.txt").write_text("")
    (folder / "tool.exe").write_bytes(b"MZ\x90\x00" + bytes(range(256)) * 4)
    (folder / "huge.txt").write_text("x" * (MAX_BYTES + 1))
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[core]\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x00")
    (folder / "outside").symlink_to(root)  # never followed: the import stays in the folder
    return folder


async def test_a_folder_goes_in_once_and_a_second_run_skips_it(
    db: AsyncSession,
    admin: User,
    alice: User,
    bob: User,
    files: FileStore,
    store: EdgeVectorStore,
    worker: IngestionWorker,
    tmp_path: Path,
) -> None:
    team = await groups.create_group(db, alice, "Travel desk")
    folder = manual_folder(tmp_path)
    found = files_to_import([folder])
    assert [label for _, label in found] == [
        "empty.txt",
        "huge.txt",
        "notes.md",
        "tool.exe",
        "travel/allowances.pdf",
    ]
    target = await resolve_target(alice.email.upper(), "Travel desk")
    seen: list[FileResult] = []
    results = await import_files(target, found, files, MAX_BYTES, seen.append)
    assert seen == results
    outcome = {r.label: (r.outcome, r.reason) for r in results}
    assert outcome["notes.md"] == (Outcome.ADDED, "")
    assert outcome["travel/allowances.pdf"] == (Outcome.ADDED, "")
    assert outcome["huge.txt"][0] is Outcome.REFUSED and "the limit is" in outcome["huge.txt"][1]
    assert outcome["empty.txt"][0] is Outcome.REFUSED and "empty" in outcome["empty.txt"][1]
    assert outcome["tool.exe"][0] is Outcome.REFUSED
    assert await count_rows(db, "documents") == 2
    folders = dict((await db.execute(text("SELECT name, folder FROM documents"))).all())
    assert folders == {"notes.md": None, "allowances.pdf": "travel"}  # the path is its label

    # Interrupted or not, running it again adds nothing.
    again = await import_files(target, found, files, MAX_BYTES, lambda _: None)
    assert [r.outcome for r in again if r.outcome is not Outcome.REFUSED] == [
        Outcome.ALREADY_THERE,
        Outcome.ALREADY_THERE,
    ]
    assert await count_rows(db, "documents") == 2

    # Indexed and shared with the group: a member finds it, someone outside does not.
    assert await worker.run_until_idle() == 2
    await groups.add_member(db, team.id, bob.id)
    await db.commit()
    for reader, finds in ((bob, True), (admin, False)):
        passages = await search_passages(
            db, reader, "How much is the meal allowance?", store=store, embedder=get_onnx_embedder()
        )
        assert [p.document_name for p in passages[:1]] == (["allowances.pdf"] if finds else [])


async def test_the_target_must_be_an_active_account_in_the_group(
    db: AsyncSession, alice: User, bob: User
) -> None:
    await groups.create_group(db, bob, "Bob's team")
    with pytest.raises(NotFound, match="No active account"):
        await resolve_target("nobody@example.com", None)
    with pytest.raises(NotFound, match="not a member"):
        await resolve_target(alice.email, "Bob's team")


@pytest.mark.timeout(1200)
def test_the_command_imports_a_thousand_files_and_a_second_run_skips_them(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "wiki"
    for index in range(1000):
        part = folder / f"part-{index // 100}"
        part.mkdir(parents=True, exist_ok=True)
        (part / f"page-{index:04d}.md").write_text(
            f"# Page {index}\n\nRoom {index} is booked through desk number {index * 7}.\n"
        )
    assert run_cli(["migrate"], tmp_path).returncode == 0
    created = run_cli(
        ["create-admin", "ops@example.com"], tmp_path, YOUWORKER_ADMIN_PASSWORD="pw-ops-12345"
    )
    assert created.returncode == 0, created.stdout + created.stderr

    first = run_cli(["import", str(folder), "--user", "ops@example.com"], tmp_path, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1000 added, 0 already there, 0 refused" in first.stdout
    # Again, into a collection: nothing is added twice, and all 1,000 go in the collection.
    again = run_cli(
        ["import", str(folder), "--user", "ops@example.com", "--collection", "Manual"],
        tmp_path,
        timeout=600,
    )
    assert "0 added, 1000 already there, 0 refused" in again.stdout

    refused = run_cli(
        ["import", str(folder), "--user", "ops@example.com", "--group", "None"], tmp_path
    )
    assert refused.returncode == 2 and "not a member of a group named 'None'" in refused.stdout

    # Every file is queued for the app's workers (indexing is tested on a folder above).
    with sqlite3.connect(tmp_path / "cli.db") as database:
        statuses = dict(database.execute("SELECT status, count(*) FROM documents GROUP BY status"))
        jobs = database.execute("SELECT count(*) FROM ingestion_jobs").fetchone()[0]
    assert statuses == {"queued": 1000} and jobs == 1000
    with sqlite3.connect(tmp_path / "cli.db") as database:
        collected = database.execute(
            "SELECT c.name, count(*), count(DISTINCT d.folder) FROM collections c"
            " JOIN collection_documents cd ON cd.collection_id = c.id"
            " JOIN documents d ON d.id = cd.document_id GROUP BY c.name"
        ).fetchall()
    assert collected == [("Manual", 1000, 10)]  # with their ten folders (part-0 ... part-9)
