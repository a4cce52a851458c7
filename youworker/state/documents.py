"""The documents page: upload with per-file progress, a sortable paginated list, live status."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import User
from youworker.services import runtime, sharing
from youworker.services.documents import collections, jobs, library
from youworker.services.documents.batch_upload import FileOutcome, add_upload
from youworker.services.documents.filetypes import format_size
from youworker.services.errors import ServiceError
from youworker.settings import get_settings
from youworker.state.guards import signed_in
from youworker.state.session import SessionState
from youworker.state.share_dialog import DOCUMENT, ShareDialogState
from youworker.state.times import iso_utc

PAGE_SIZE = 20
# The drop zone's and the folder picker's upload ids (pages/documents.py).
UPLOAD_IDS = ("documents", "documents-folder")
DEFAULT_SORT = "created_at"
QUERY_MAX = 200
MAX_PAGE = 100_000


def list_url(page: int, sort: str, descending: bool, query: str, collection: str = "") -> str:
    """/documents with the list's page, sort, search and collection (defaults left out)."""
    params: dict[str, str | int] = {}
    if collection:
        params["collection"] = collection
    if page > 1:
        params["page"] = page
    if sort != DEFAULT_SORT or not descending:
        params["sort"], params["dir"] = sort, "desc" if descending else "asc"
    if query:
        params["q"] = query
    return "/documents" + (f"?{urlencode(params)}" if params else "")


def parse_list_params(params: dict[str, str]) -> tuple[int, str, bool, str]:
    """(page, sort, descending, query) from the URL; anything invalid falls back to the default."""
    raw_page = params.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and 0 < len(raw_page) <= 6 else 1
    sort = params.get("sort", DEFAULT_SORT)
    if sort not in library.SORT_KEYS:
        sort = DEFAULT_SORT
    direction = params.get("dir", "")
    descending = direction == "desc" if direction in ("asc", "desc") else sort == DEFAULT_SORT
    query = params.get("q", "")[:QUERY_MAX]
    return min(max(page, 1), MAX_PAGE), sort, descending, query


def parse_collection(params: dict[str, str]) -> str:
    """The collection id the list is narrowed to, or "" (anything but a UUID is ignored)."""
    raw = params.get("collection", "")
    try:
        return str(uuid.UUID(raw)) if 0 < len(raw) <= 36 else ""
    except ValueError:
        return ""


def page_window(current: int, last: int, around: int = 2) -> list[int]:
    """Page numbers to offer: the first, the last and a few around the current one (0: a gap)."""
    shown = sorted({1, last, *range(max(1, current - around), min(last, current + around) + 1)})
    numbers: list[int] = []
    for number in shown:
        if numbers and number - numbers[-1] > 1:
            numbers.append(0)
        numbers.append(number)
    return numbers if last > 1 else []


# Jobs in other processes change status without waking this one: poll this often meanwhile.
STATUS_POLL_SECONDS = 1.0
WATCH_IDLE_SECONDS = 600.0
PENDING = {"queued", "parsing", "embedding"}
STATUS_LABELS = {
    "queued": "Queued",
    "parsing": "Parsing",
    "embedding": "Embedding",
    "ready": "Ready",
    "failed": "Failed",
}


@dataclasses.dataclass
class PageLink:
    """One pager entry; `current` travels with it so the highlight redraws with the item."""

    number: int = 0
    current: bool = False


@dataclasses.dataclass
class DocumentRow:
    id: str = ""
    name: str = ""
    folder: str = ""
    kind: str = ""
    size: str = ""
    pages: str = ""
    chunks: str = ""
    status: str = ""
    status_label: str = ""
    error: str = ""
    owner: str = ""
    created: str = ""
    is_owner: bool = False
    stale: bool = False
    share_label: str = ""  # "Shared with 2 groups" (owner) or "Shared with you via Team"
    share_groups: str = ""


@dataclasses.dataclass
class UploadRow:
    name: str = ""
    size: str = ""
    size_bytes: int = 0
    progress: int = 0
    state: str = "waiting"  # waiting | sending | checking | added | duplicate | rejected
    message: str = ""
    document_id: str = ""


def _share_label(is_owner: bool, groups: list[str]) -> str:
    if not groups:
        return ""
    if is_owner:
        return f"Shared with {len(groups)} group{'s' if len(groups) > 1 else ''}"
    return f"Shared with you via {', '.join(groups)}"


def _row(
    view: library.DocumentView, embedder_key: str, groups: list[str] | None = None
) -> DocumentRow:
    groups = groups or []
    return DocumentRow(
        id=view.id,
        name=view.name,
        folder=view.folder or "",
        kind=view.kind.upper() if view.kind in ("pdf", "csv", "html") else view.kind.title(),
        size=format_size(view.size_bytes),
        pages="" if view.page_count is None else str(view.page_count),
        chunks="" if view.chunk_count is None else str(view.chunk_count),
        status=view.status,
        status_label=STATUS_LABELS.get(view.status, view.status),
        error=view.error or "",
        owner="you" if view.is_owner else view.owner_name,
        created=iso_utc(view.created_at),
        is_owner=view.is_owner,
        stale=bool(embedder_key and view.embedder_key) and view.embedder_key != embedder_key,
        share_label=_share_label(view.is_owner, groups),
        share_groups=", ".join(groups),
    )


def _upload_row(name: str, size: int, state: str, message: str, document_id: str = "") -> UploadRow:
    return UploadRow(
        name=name[:300],
        size=format_size(size),
        size_bytes=size,
        progress=100,
        state=state,
        message=message,
        document_id=document_id,
    )


def _outcome_row(outcome: FileOutcome) -> UploadRow:
    """A file's result as the upload list shows it ("archive/path" for a file of a .zip)."""
    if outcome.result is None:
        message = outcome.error.message if outcome.error else "Not added."
        return _upload_row(outcome.label, 0, "rejected", message.removeprefix("file: "))
    document = outcome.result.document
    if outcome.result.duplicate:
        state, message = "duplicate", f"Already uploaded as {document.name}."
    else:
        state, message = "added", "Uploaded; indexing starts now."
    return _upload_row(outcome.label, document.size_bytes, state, message, document.id)


class DocumentsState(SessionState):
    rows: list[DocumentRow] = []
    total: int = 0
    offset: int = 0
    sort: str = "created_at"
    descending: bool = True
    query: str = ""
    collection: str = ""  # the collection the list is narrowed to ("" = every document)
    uploads: list[UploadRow] = []
    uploading: bool = False
    sent_percent: int = 0  # of the upload request's body, for batches not listed file by file
    stale_count: int = 0
    embedder_name: str = ""
    notice: str = ""
    deleting_id: str = ""
    deleting_name: str = ""
    _watching: bool = False
    _embedder_key: str = ""

    @rx.var
    def max_upload_mb(self) -> int:
        return get_settings().documents.max_upload_mb

    @rx.var
    def max_batch_files(self) -> int:
        return get_settings().documents.max_batch_files

    @rx.var
    def batch_progress(self) -> int:
        """The whole batch's progress (bytes sent, weighted by size), 0-100."""
        total = sum(row.size_bytes for row in self.uploads)
        if self.uploading and not total:  # a folder: its files are listed once checked
            return self.sent_percent
        if not total:
            return 100 if self.uploads and not self.uploading else 0
        return int(sum(row.size_bytes * row.progress for row in self.uploads) / total)

    @rx.var
    def batch_summary(self) -> str:
        """ "1000 added, 4 refused" once the batch is checked; what is happening before."""
        if self.uploading:
            return f"Sending {len(self.uploads)} file(s)…" if self.uploads else "Sending…"
        counts = {state: 0 for state in ("added", "duplicate", "rejected")}
        for row in self.uploads:
            counts[row.state] = counts.get(row.state, 0) + 1
        parts = [
            f"{counts['added']} added",
            f"{counts['duplicate']} already there",
            f"{counts['rejected']} refused",
        ]
        return ", ".join(part for part in parts if not part.startswith("0 "))

    @rx.var
    def range_label(self) -> str:
        if self.total == 0:
            return ""
        last = min(self.offset + PAGE_SIZE, self.total)
        return f"{self.offset + 1}-{last} of {self.total}"

    @rx.var
    def has_previous(self) -> bool:
        return self.offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.offset + PAGE_SIZE < self.total

    @rx.var
    def page_links(self) -> list[PageLink]:
        current = self.offset // PAGE_SIZE + 1
        last = max(1, (self.total + PAGE_SIZE - 1) // PAGE_SIZE)
        return [PageLink(number, number == current) for number in page_window(current, last)]

    @rx.var
    def delete_open(self) -> bool:
        return self.deleting_id != ""

    # ---- loading ---------------------------------------------------------------------------

    async def _refresh(self, user: User) -> None:
        embedder = runtime.known_embedder()
        self._embedder_key = embedder.key if embedder else ""
        self.embedder_name = embedder.name if embedder else ""
        async with session_scope() as db:
            within = None
            if self.collection:
                try:
                    within = await collections.documents_clause(
                        db, user, uuid.UUID(self.collection)
                    )
                except ServiceError as exc:  # deleted, or not (or no longer) theirs
                    self.collection, self.notice = "", exc.message
            page = await library.list_documents(
                db,
                user,
                offset=self.offset,
                limit=PAGE_SIZE,
                sort=self.sort,
                descending=self.descending,
                query=self.query,
                within=within,
            )
            if page.total and not page.items and self.offset:
                self.offset = max(0, (page.total - 1) // PAGE_SIZE * PAGE_SIZE)
                page = await library.list_documents(
                    db,
                    user,
                    offset=self.offset,
                    limit=PAGE_SIZE,
                    sort=self.sort,
                    descending=self.descending,
                    query=self.query,
                    within=within,
                )
            self.stale_count = (
                await library.count_stale(db, user, self._embedder_key) if embedder else 0
            )
            shares = await sharing.document_share_names(
                db, user, [uuid.UUID(view.id) for view in page.items]
            )
        self.total = page.total
        self.rows = [
            _row(view, self._embedder_key, shares.get(uuid.UUID(view.id))) for view in page.items
        ]

    def _pending(self) -> bool:
        return any(row.status in PENDING for row in self.rows)

    @signed_in
    async def _reload(self, user: User) -> EventSpec | None:
        await self._refresh(user)
        return DocumentsState.watch if self._pending() else None

    def _to_list(self, page: int, *, replace: bool = False) -> EventSpec:
        """Show `page` of the list as it is sorted and searched now, through the URL."""
        url = list_url(page, self.sort, self.descending, self.query, self.collection)
        return rx.redirect(url, replace=replace)

    @rx.event
    async def load(self) -> EventSpec | None:
        params = dict(self.router.url.query_parameters)
        page, self.sort, self.descending, self.query = parse_list_params(params)
        self.collection = parse_collection(params)
        self.offset = (page - 1) * PAGE_SIZE
        self.notice = ""
        self.uploads = []
        self.deleting_id = ""
        share = await self.get_state(ShareDialogState)
        if share.share_kind == DOCUMENT:  # left open when the browser went back
            share.share_kind = ""
        return await self._reload()

    @rx.event
    async def refresh(self) -> EventSpec | None:
        """Reload the current page of the list (after a document's sharing changed)."""
        return await self._reload()

    @rx.event
    def sort_by(self, column: str) -> EventSpec | None:
        if column not in library.SORT_KEYS:
            return None
        if self.sort == column:
            self.descending = not self.descending
        else:
            self.sort, self.descending = column, column in ("created_at", "size_bytes")
        return self._to_list(1)

    @rx.event
    def search(self, query: str) -> EventSpec:
        # Typing replaces the history entry: Back leaves the search, not each keystroke.
        self.query = query[:QUERY_MAX]
        return self._to_list(1, replace=True)

    @rx.event
    def show_collection(self, collection_id: str) -> EventSpec:
        """Narrow the list to one collection ("" or "all": every document)."""
        self.collection = parse_collection({"collection": collection_id})
        return self._to_list(1)

    @rx.event
    def go_to_page(self, page: int) -> EventSpec | None:
        if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= MAX_PAGE:
            return None
        return self._to_list(page)

    @rx.event
    def next_page(self) -> EventSpec:
        return self._to_list(self.offset // PAGE_SIZE + 2)

    @rx.event
    def previous_page(self) -> EventSpec:
        return self._to_list(max(1, self.offset // PAGE_SIZE))

    # ---- live status -----------------------------------------------------------------------

    @rx.event(background=True)
    async def watch(self) -> None:
        """Refresh the list while any document on it is still being ingested."""
        async with self:
            if self._watching:
                return
            self._watching = True
        idle_until = time.monotonic() + WATCH_IDLE_SECONDS
        try:
            while time.monotonic() < idle_until:
                waiter = jobs.status_changed.waiter()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), STATUS_POLL_SECONDS)
                async with self:
                    if not self.router.url.path.startswith("/documents"):
                        return
                    user = await self._authenticate()
                    if user is None:
                        return
                    await self._refresh(user)
                    if not self._pending():
                        return
        finally:
            async with self:
                self._watching = False

    # ---- uploading -------------------------------------------------------------------------

    @rx.event
    def prepare_upload(self, files: list[dict[str, Any]]) -> None:
        """The browser's list of chosen files (name and size), before their bytes are sent."""
        self.notice = ""
        self.uploads = [
            UploadRow(
                name=str(item.get("name", ""))[:200],
                size=format_size(int(item.get("size") or 0)),
                size_bytes=int(item.get("size") or 0),
                state="sending",
            )
            for item in files[: get_settings().documents.max_batch_files]
            if isinstance(item, dict)
        ]
        self.uploading = bool(self.uploads)

    @rx.event
    def start_folder_upload(self) -> None:
        """A folder was picked: its files go at once (the browser lists them only by path)."""
        self.notice, self.uploads, self.uploading, self.sent_percent = "", [], True, 0

    @rx.event
    def upload_progress(self, progress: dict[str, Any]) -> None:
        """Per-file progress: the multipart body carries the files in the order chosen."""
        loaded = float(progress.get("loaded") or 0)
        total = float(progress.get("total") or 0)
        self.sent_percent = int(min(max(loaded / total, 0.0), 1.0) * 100) if total else 0
        start = 0.0
        for row in self.uploads:
            if row.state != "sending":
                start += row.size_bytes
                continue
            share = (loaded - start) / row.size_bytes if row.size_bytes else 1.0
            row.progress = int(max(0.0, min(share, 1.0)) * 100)
            if row.progress >= 100:
                row.state = "checking"
            start += row.size_bytes

    @rx.event
    @signed_in
    async def handle_upload(self, user: User, files: list[rx.UploadFile]) -> EventSpec | None:
        settings = get_settings().documents
        results: list[UploadRow] = []
        for upload in files:
            try:
                results.extend(await self._store(user, upload, settings.max_upload_bytes))
            except ServiceError as exc:  # over the upload budget: this file and the rest wait
                name = upload.path.as_posix() if upload.path else "file"
                results.append(_upload_row(name, upload.size or 0, "rejected", exc.message))
        self.uploads = results
        self.uploading = False
        added = sum(1 for row in results if row.state == "added")
        if added:
            self.offset = 0
            self.sort, self.descending = "created_at", True
        await self._refresh(user)
        cleared = [rx.clear_selected_files(upload_id) for upload_id in UPLOAD_IDS]
        return [*cleared, DocumentsState.watch]  # type: ignore[return-value]

    async def _store(self, user: User, upload: rx.UploadFile, max_bytes: int) -> list[UploadRow]:
        """One row for a file, or one per file of a .zip.

        The files of a dropped folder arrive with their path (Reflex keeps it, cleaned, in
        `upload.path`): it becomes their folder label.
        """
        name = upload.path.as_posix() if upload.path else "file"
        size = upload.size or 0
        if size > max_bytes:
            message = f"This file is {format_size(size)}; the limit is {format_size(max_bytes)}."
            return [_upload_row(name, size, "rejected", message)]
        data = await upload.read()
        async with session_scope() as db:
            outcomes = await add_upload(
                db, user, runtime.get_file_store(), name, data, context=self._context()
            )
        return [_outcome_row(outcome) for outcome in outcomes]

    @rx.event
    def dismiss_uploads(self) -> None:
        self.uploads = []

    @rx.event
    def drop_rejected(self, rejected: list[dict[str, Any]]) -> None:
        """Files the browser refused before sending them (too large, or too many)."""
        documents = get_settings().documents
        reasons = {
            "file-too-large": f"Over the {documents.max_upload_mb} MB limit.",
            "too-many-files": f"At most {documents.max_batch_files} files at once.",
        }
        rows = []
        for item in rejected[: documents.max_batch_files]:
            if not isinstance(item, dict):
                continue
            codes = [e.get("code") for e in item.get("errors") or [] if isinstance(e, dict)]
            file_info = item.get("file")
            if not isinstance(file_info, dict):
                file_info = {}
            rows.append(
                UploadRow(
                    name=str(file_info.get("path") or file_info.get("name") or "file")[:200],
                    state="rejected",
                    message=next((reasons[c] for c in codes if c in reasons), "Not accepted."),
                )
            )
        self.uploads = rows

    # ---- actions ---------------------------------------------------------------------------

    @rx.event
    @signed_in
    async def reindex(self, user: User, document_id: str) -> EventSpec | None:
        try:
            async with session_scope() as db:
                await library.reindex(db, user, uuid.UUID(document_id), self._context())
        except (ServiceError, ValueError) as exc:
            self.notice = getattr(exc, "message", "Document not found.")
        return await self._reload()

    @rx.event
    @signed_in
    async def reindex_stale(self, user: User) -> EventSpec | None:
        if not self._embedder_key:
            return await self._reload()
        async with session_scope() as db:
            queued = await library.reindex_stale(db, user, self._embedder_key)
        self.notice = f"Re-indexing {queued} document(s) with {self.embedder_name}."
        return await self._reload()

    @rx.event
    def ask_delete(self, document_id: str, name: str) -> None:
        self.deleting_id, self.deleting_name = document_id, name

    @rx.event
    def cancel_delete(self) -> None:
        self.deleting_id = ""

    @rx.event
    def delete_open_changed(self, is_open: bool) -> None:
        if not is_open:
            self.deleting_id = ""

    @rx.event
    @signed_in
    async def confirm_delete(self, user: User) -> EventSpec | None:
        target, self.deleting_id = self.deleting_id, ""
        try:
            async with session_scope() as db:
                removed = await library.delete_document(
                    db,
                    user,
                    uuid.UUID(target),
                    runtime.get_file_store(),
                    runtime.get_vector_store(),
                    self._context(),
                )
            self.notice = f"Deleted {removed.name}."
        except (ServiceError, ValueError) as exc:
            self.notice = getattr(exc, "message", "Document not found.")
        return await self._reload()
