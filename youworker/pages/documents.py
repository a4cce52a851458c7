"""Documents: upload, list with live status, re-index, download, delete."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars.base import Var

# The chosen files live in Reflex's upload context; sizes are read there for per-file progress.
from reflex_components_core.core.upload import get_upload_files_context_var_data

from youworker.components.download import download_link
from youworker.components.layout import app_shell, scroll_x
from youworker.components.local_time import time_element
from youworker.components.share_dialog import share_dialog
from youworker.pages.document_collections import (
    collections_bar,
    select_cell,
    select_page_cell,
)
from youworker.services.documents.filetypes import SUPPORTED_TYPES
from youworker.state.documents import (
    UPLOAD_IDS,
    DocumentRow,
    DocumentsState,
    PageLink,
    UploadRow,
)
from youworker.state.share_dialog import DOCUMENT, ShareDialogState

UPLOAD_ID, FOLDER_UPLOAD_ID = UPLOAD_IDS

_CHOSEN_FILES: Var[list[dict[str, Any]]] = Var(
    _js_expr=(
        f'(filesById["{UPLOAD_ID}"] ? filesById["{UPLOAD_ID}"]'
        ".map((f) => ({name: f.name, size: f.size})) : [])"
    ),
    _var_type=list[dict[str, Any]],
    _var_data=get_upload_files_context_var_data(),
)


def _name_file_input(component: rx.Component, name: str) -> bool:
    """Give the dropzone's visually hidden file input an accessible name (no prop for it)."""
    for child in component.children:
        if child.tag == "input" and str(getattr(child, "type", "")) == '"file"':
            child.custom_attrs["aria-label"] = name
            return True
        if _name_file_input(child, name):
            return True
    return False


def _upload_zone() -> rx.Component:
    zone = rx.upload(
        rx.vstack(
            rx.icon("cloud-upload", size=28, color=rx.color("accent", 11), aria_hidden="true"),
            rx.text("Drop files or a folder here, or click to choose", weight="medium"),
            rx.text(
                f"{SUPPORTED_TYPES}, or a .zip of them; up to ",
                DocumentsState.max_upload_mb,
                " MB each.",
                size="1",
                color_scheme="gray",
            ),
            align="center",
            spacing="1",
        ),
        id=UPLOAD_ID,
        multiple=True,
        max_files=DocumentsState.max_batch_files,
        max_size=DocumentsState.max_upload_mb * 1024 * 1024,
        on_drop_rejected=DocumentsState.drop_rejected,
        border=f"2px dashed {rx.color('gray', 7)}",
        border_radius="0.75rem",
        padding="1.5rem",
        width="100%",
        cursor="pointer",
        data_testid="dropzone",
    )
    if not _name_file_input(zone, "Choose documents to upload"):
        raise RuntimeError("the upload component has no file input to name")
    return zone


def _folder_picker() -> rx.Component:
    """ "Choose a folder": the browser's folder dialog; every file in it is sent at once."""
    picker = rx.upload(
        rx.button(
            rx.icon("folder-up", size=14),
            "Choose a folder",
            variant="soft",
            size="2",
            type="button",
            loading=DocumentsState.uploading,
        ),
        id=FOLDER_UPLOAD_ID,
        multiple=True,
        no_drag=True,
        max_files=DocumentsState.max_batch_files,
        on_drop=[
            DocumentsState.start_folder_upload,
            DocumentsState.handle_upload(
                rx.upload_files(
                    upload_id=FOLDER_UPLOAD_ID,
                    on_upload_progress=DocumentsState.upload_progress,
                )
            ),
        ],
        on_drop_rejected=DocumentsState.drop_rejected,
        border="none",
        padding="0",
        width="auto",
        data_testid="folder-picker",
    )
    if not _mark_folder_input(picker):
        raise RuntimeError("the folder picker has no file input")
    return picker


def _mark_folder_input(component: rx.Component) -> bool:
    """Make the picker's hidden file input choose folders (no prop for it) and name it."""
    for child in component.children:
        if child.tag == "input" and str(getattr(child, "type", "")) == '"file"':
            child.custom_attrs.update(
                {"webkitdirectory": "", "aria-label": "Choose a folder to upload"}
            )
            return True
        if _mark_folder_input(child):
            return True
    return False


def _dropzone() -> rx.Component:
    chosen = rx.selected_files(UPLOAD_ID)
    return rx.vstack(
        _upload_zone(),
        _folder_picker(),
        rx.cond(
            chosen.length() > 0,
            rx.hstack(
                rx.text(
                    chosen.length(),
                    " file(s) chosen: ",
                    chosen.join(", "),
                    size="2",
                    trim="end",
                    min_width="0",
                    data_testid="chosen-files",
                ),
                rx.spacer(),
                rx.button(
                    "Clear",
                    variant="soft",
                    color_scheme="gray",
                    on_click=rx.clear_selected_files(UPLOAD_ID),
                    disabled=DocumentsState.uploading,
                ),
                rx.button(
                    rx.icon("upload", size=14),
                    "Upload",
                    loading=DocumentsState.uploading,
                    on_click=[
                        DocumentsState.prepare_upload(_CHOSEN_FILES),
                        DocumentsState.handle_upload(
                            rx.upload_files(
                                upload_id=UPLOAD_ID,
                                on_upload_progress=DocumentsState.upload_progress,
                            )
                        ),
                    ],
                    data_testid="upload-button",
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
        ),
        width="100%",
    )


def _upload_state(row: UploadRow) -> rx.Component:
    return rx.match(
        row.state,
        ("sending", rx.text("Sending", size="1", color_scheme="gray")),
        ("checking", rx.text("Checking", size="1", color_scheme="gray")),
        ("added", rx.text(row.message, size="1", color_scheme="green")),
        ("duplicate", rx.text(row.message, size="1", color_scheme="amber")),
        ("rejected", rx.text(row.message, size="1", color_scheme="red", role="alert")),
        rx.text(row.message, size="1"),
    )


def _upload_row(row: UploadRow) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(row.name, size="2", weight="medium", trim="end"),
            rx.text(row.size, size="1", color_scheme="gray"),
            rx.spacer(),
            _upload_state(row),
            width="100%",
            align="center",
        ),
        rx.progress(value=row.progress, max=100, width="100%", size="1"),
        width="100%",
        spacing="1",
        data_testid="upload-row",
        data_state=row.state,
    )


def _uploads() -> rx.Component:
    return rx.cond(
        DocumentsState.uploads.length() > 0,
        rx.card(
            rx.vstack(
                rx.text(
                    DocumentsState.batch_summary,
                    size="2",
                    weight="medium",
                    role="status",
                    data_testid="batch-summary",
                ),
                rx.progress(
                    value=DocumentsState.batch_progress,
                    max=100,
                    width="100%",
                    aria_label="Upload progress",
                ),
                rx.scroll_area(
                    rx.vstack(
                        rx.foreach(DocumentsState.uploads, _upload_row),
                        width="100%",
                        spacing="3",
                    ),
                    type="auto",
                    scrollbars="vertical",
                    max_height="24rem",
                ),
                rx.cond(
                    ~DocumentsState.uploading,
                    rx.button(
                        "Dismiss",
                        size="1",
                        variant="ghost",
                        on_click=DocumentsState.dismiss_uploads,
                    ),
                ),
                width="100%",
                spacing="3",
            ),
            width="100%",
        ),
    )


def _status(row: DocumentRow) -> rx.Component:
    badge = rx.match(
        row.status,
        ("ready", rx.badge(row.status_label, color_scheme="green")),
        ("failed", rx.badge(row.status_label, color_scheme="red")),
        ("queued", rx.badge(row.status_label, color_scheme="gray")),
        rx.badge(rx.spinner(size="1"), row.status_label, color_scheme="blue"),
    )
    return rx.vstack(
        rx.hstack(
            badge,
            rx.cond(
                row.stale,
                rx.tooltip(
                    rx.badge("old index", color_scheme="amber", variant="outline"),
                    content="Indexed with another embedder: re-index to search it.",
                ),
            ),
            spacing="1",
        ),
        rx.cond(
            row.error != "",
            rx.text(
                row.error,
                size="1",
                # A queued document with a reason is waiting out an outage, not failed.
                color_scheme=rx.cond(row.status == "failed", "red", "amber"),
                data_testid="document-error",
            ),
        ),
        spacing="1",
        data_testid="document-status",
        data_status=row.status,
    )


def _actions(row: DocumentRow) -> rx.Component:
    return rx.hstack(
        rx.tooltip(
            download_link(
                "",
                f"/api/documents/{row.id}/download",
                testid="download",
                aria_label="Download " + row.name.to(str),
            ),
            content="Download the original",
        ),
        rx.cond(
            row.is_owner,
            rx.hstack(
                rx.tooltip(
                    rx.icon_button(
                        rx.icon("share-2", size=14),
                        size="1",
                        variant="ghost",
                        on_click=ShareDialogState.open_document(row.id, row.name),
                        aria_label="Share " + row.name.to(str),
                        data_testid="share",
                    ),
                    content="Share with your groups",
                ),
                rx.tooltip(
                    rx.icon_button(
                        rx.icon("refresh-cw", size=14),
                        size="1",
                        variant="ghost",
                        on_click=DocumentsState.reindex(row.id),
                        disabled=(row.status != "ready") & (row.status != "failed"),
                        aria_label=rx.cond(row.status == "failed", "Retry ", "Re-index ")
                        + row.name.to(str),
                        data_testid="reindex",
                    ),
                    content=rx.cond(row.status == "failed", "Retry", "Re-index"),
                ),
                rx.tooltip(
                    rx.icon_button(
                        rx.icon("trash-2", size=14),
                        size="1",
                        variant="ghost",
                        color_scheme="red",
                        on_click=DocumentsState.ask_delete(row.id, row.name),
                        aria_label="Delete " + row.name.to(str),
                        data_testid="delete",
                    ),
                    content="Delete",
                ),
                spacing="1",
            ),
        ),
        spacing="1",
    )


def _owner(row: DocumentRow) -> rx.Component:
    return rx.vstack(
        rx.text(row.owner, size="1", data_testid="document-owner"),
        rx.cond(
            row.share_label != "",
            rx.tooltip(
                rx.badge(
                    rx.icon("users", size=12),
                    row.share_label,
                    color_scheme="blue",
                    variant="soft",
                    size="1",
                    data_testid="share-badge",
                ),
                content=row.share_groups,
            ),
        ),
        spacing="1",
    )


def _row(row: DocumentRow) -> rx.Component:
    return rx.table.row(
        select_cell(row),
        rx.table.cell(
            rx.link(row.name, href=f"/documents/{row.id}", weight="medium"),
            rx.cond(
                row.folder != "",
                rx.text(row.folder, size="1", color_scheme="gray", data_testid="document-folder"),
            ),
            max_width="18rem",
        ),
        rx.table.cell(rx.text(row.kind, size="1")),
        rx.table.cell(rx.text(row.size, size="1")),
        rx.table.cell(rx.text(row.pages, size="1")),
        rx.table.cell(rx.text(row.chunks, size="1")),
        rx.table.cell(_status(row)),
        rx.table.cell(_owner(row)),
        rx.table.cell(rx.text(time_element(row.created), size="1", white_space="nowrap")),
        rx.table.cell(_actions(row)),
        data_testid="document-row",
        data_name=row.name,
    )


def _header(label: str, column: str | None = None) -> rx.Component:
    if column is None:
        return rx.table.column_header_cell(label)
    arrow = rx.cond(
        DocumentsState.sort == column,
        rx.cond(DocumentsState.descending, " ↓", " ↑"),
        "",
    )
    return rx.table.column_header_cell(
        rx.button(
            label,
            arrow,
            variant="ghost",
            size="1",
            on_click=DocumentsState.sort_by(column),
            data_testid=f"sort-{column}",
        )
    )


def _page_button(link: rx.Var[PageLink]) -> rx.Component:
    # The highlight comes from the item, not a comparison with state: foreach items that
    # compare against a state var kept a stale aria-current when only the page changed.
    number, current = link.number, link.current
    return rx.cond(
        number == 0,
        rx.text("…", size="1", color_scheme="gray"),
        rx.button(
            number,
            size="1",
            variant=rx.cond(current, "solid", "soft"),
            aria_label=f"Page {number}",
            aria_current=rx.cond(current, "page", "false"),
            on_click=DocumentsState.go_to_page(number),
            data_testid="page-number",
        ),
    )


def _table() -> rx.Component:
    return rx.cond(
        DocumentsState.rows.length() > 0,
        rx.vstack(
            scroll_x(
                "Documents",
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            select_page_cell(),
                            _header("Name", "name"),
                            _header("Type", "kind"),
                            _header("Size", "size_bytes"),
                            _header("Pages", "page_count"),
                            _header("Chunks"),
                            _header("Status", "status"),
                            _header("Owner"),
                            _header("Uploaded", "created_at"),
                            _header("Actions"),
                        )
                    ),
                    rx.table.body(rx.foreach(DocumentsState.rows, _row)),
                    width="100%",
                    size="1",
                ),
            ),
            rx.hstack(
                rx.text(
                    DocumentsState.range_label,
                    size="1",
                    color_scheme="gray",
                    data_testid="range-label",
                ),
                rx.spacer(),
                rx.button(
                    "Previous",
                    size="1",
                    variant="soft",
                    disabled=~DocumentsState.has_previous,
                    on_click=DocumentsState.previous_page,
                ),
                rx.foreach(DocumentsState.page_links, _page_button),
                rx.button(
                    "Next",
                    size="1",
                    variant="soft",
                    disabled=~DocumentsState.has_next,
                    on_click=DocumentsState.next_page,
                    data_testid="next-page",
                ),
                width="100%",
                align="center",
                wrap="wrap",
                role="navigation",
                aria_label="Pages",
            ),
            width="100%",
        ),
        rx.text(
            rx.cond(
                DocumentsState.query != "",
                "No document matches this search.",
                "No documents yet. Upload some to ask questions about them in chat.",
            ),
            color_scheme="gray",
            data_testid="no-documents",
        ),
    )


def _stale_banner() -> rx.Component:
    return rx.cond(
        DocumentsState.stale_count > 0,
        rx.callout(
            rx.hstack(
                rx.text(
                    DocumentsState.stale_count,
                    " document(s) were indexed with another embedder and are not searchable with ",
                    DocumentsState.embedder_name,
                    ".",
                ),
                rx.button("Re-index them", size="1", on_click=DocumentsState.reindex_stale),
                align="center",
                wrap="wrap",
            ),
            icon="info",
            color_scheme="amber",
            width="100%",
        ),
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete document?"),
            rx.alert_dialog.description(
                rx.text(
                    "“",
                    DocumentsState.deleting_name,
                    "”, its passages and its file are removed for everyone it is shared with.",
                )
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray"),
                ),
                rx.alert_dialog.action(
                    rx.button(
                        "Delete",
                        color_scheme="red",
                        on_click=DocumentsState.confirm_delete,
                        data_testid="confirm-delete",
                    ),
                ),
                justify="end",
                spacing="2",
                margin_top="1rem",
            ),
        ),
        open=DocumentsState.delete_open,
        on_open_change=DocumentsState.delete_open_changed,
    )


def documents_page() -> rx.Component:
    return app_shell(
        rx.vstack(
            _dropzone(),
            _uploads(),
            _stale_banner(),
            rx.cond(
                DocumentsState.notice != "",
                rx.callout(DocumentsState.notice, icon="info", width="100%", data_testid="notice"),
            ),
            collections_bar(),
            rx.input(
                placeholder="Search by name or folder",
                aria_label="Search documents by name or folder",
                value=DocumentsState.query,
                on_change=DocumentsState.search.debounce(300),
                width="100%",
                max_length=200,
                data_testid="document-search",
            ),
            _table(),
            _delete_dialog(),
            share_dialog(
                DOCUMENT,
                "Members of the groups you switch on can read, download and search it; "
                "only you can change or delete it.",
                "share-group-",
            ),
            width="100%",
            spacing="4",
        ),
        title="Documents",
    )
