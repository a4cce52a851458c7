"""A .zip uploaded over the REST API: 1,000 files become documents with their folders, indexed
and searchable; hostile members are refused one by one and leave nothing behind."""

from __future__ import annotations

import io
import stat
import zipfile

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import count_rows
from tests.integration.api_v1_support import api, client, jwt_for
from tests.integration.test_api_v1_documents import DOCUMENTS, search, upload, wired
from tests.integration.test_documents import context, files, store, worker
from youworker.models import User
from youworker.services.documents.storage import FileStore
from youworker.services.documents.worker import IngestionWorker

__all__ = ["api", "client", "context", "files", "store", "wired", "worker"]  # fixtures

PAGES = 1000


def manual_zip() -> bytes:
    """A 1,000-page manual in ten chapters, plus what an attacker would slip in."""
    buffer = io.BytesIO()
    link = zipfile.ZipInfo("manual/passwd.md")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(PAGES):
            body = f"# Page {n}\n\nSetting number {n} is called knob{n:04d}.\n"
            if n == 421:
                body = (
                    "# Kitchen\n\nThe coffee machine on the third floor is descaled on Fridays.\n"
                )
            archive.writestr(f"manual/chapter{n // 100}/page{n}.md", body)
        archive.writestr("../../escape.md", "# Escaped\n")
        archive.writestr("manual/inner.zip", b"PK\x03\x04 nested")
        archive.writestr(link, "/etc/passwd")
        archive.writestr("manual/bomb.txt", b"\0" * (60 * 1024 * 1024))
    return buffer.getvalue()


async def test_a_zip_of_a_thousand_files_is_indexed_with_its_folders(
    client: httpx.AsyncClient,
    wired: FastAPI,
    alice: User,
    worker: IngestionWorker,
    files: FileStore,
    db: AsyncSession,
) -> None:
    headers = jwt_for(alice)
    response = await upload(client, headers, ("bundle.zip", manual_zip(), "application/zip"))
    assert response.status_code == 201, response.text
    items = response.json()["items"]
    created = [i for i in items if i["outcome"] == "created"]
    assert len(created) == PAGES
    assert created[7]["filename"] == "bundle/manual/chapter0/page7.md"
    assert created[7]["document"]["name"] == "page7.md"
    assert created[7]["document"]["folder"] == "bundle/manual/chapter0"
    refused = {i["filename"]: i["error"]["message"] for i in items if i["outcome"] == "rejected"}
    assert refused == {
        "bundle/../../escape.md": "Its path leads outside the archive.",
        "bundle/manual/inner.zip": "Archives inside the archive are not unpacked.",
        "bundle/manual/passwd.md": "Links are not followed.",
        "bundle/manual/bomb.txt": "It expands to 60 MB; the limit is 50 MB.",
    }
    assert await count_rows(db, "documents") == PAGES
    assert len(list(files.root.iterdir())) == PAGES  # stored by id, never by the member's path

    chapter = (await client.get(f"{DOCUMENTS}?q=chapter3&limit=100", headers=headers)).json()
    assert chapter["total"] == 100
    assert {d["folder"] for d in chapter["items"]} == {"bundle/manual/chapter3"}

    assert await worker.run_until_idle() == PAGES
    passages = await search(client, headers, query="When is the coffee machine descaled?")
    assert passages and passages[0]["document_name"] == "page421.md"
    assert "Fridays" in passages[0]["text"]

    again = await upload(client, headers, ("bundle.zip", manual_zip(), "application/zip"))
    assert again.status_code == 200  # every file already there: nothing added twice
    assert sum(i["outcome"] == "duplicate" for i in again.json()["items"]) == PAGES
