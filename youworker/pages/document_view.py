"""A document's extracted text; `?chunk=<id>` highlights a cited passage and scrolls to it."""

from __future__ import annotations

import reflex as rx

from youworker.components.download import download_link
from youworker.components.layout import app_shell
from youworker.state.document_view import DocumentViewState, TextBlock


def _block(block: TextBlock) -> rx.Component:
    return rx.match(
        block.kind,
        (
            "page",
            rx.hstack(
                rx.text(
                    block.text, size="1", weight="bold", color_scheme="gray", white_space="nowrap"
                ),
                rx.separator(size="4"),
                width="100%",
                align="center",
                id=f"page-{block.page}",
                padding_top="1rem",
            ),
        ),
        ("heading", rx.heading(block.text, as_="h3", size="4", data_testid="section-heading")),
        (
            "passage",
            rx.box(
                rx.text(block.text, white_space="pre-wrap"),
                id="passage",
                background=rx.color("amber", 4),
                border_left=f"3px solid {rx.color('amber', 9)}",
                padding="0.5rem 0.75rem",
                border_radius="0.25rem",
                data_testid="cited-passage",
                data_page=block.page,
            ),
        ),
        rx.text(block.text, white_space="pre-wrap"),
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.button(
            "Earlier pages",
            size="1",
            variant="soft",
            disabled=~DocumentViewState.has_earlier,
            on_click=DocumentViewState.earlier,
        ),
        rx.button(
            "Later pages",
            size="1",
            variant="soft",
            disabled=~DocumentViewState.has_later,
            on_click=DocumentViewState.later,
            data_testid="later-pages",
        ),
        spacing="2",
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.link(
                rx.hstack(rx.icon("arrow-left", size=14, aria_hidden="true"), "Documents"),
                href="/documents",
            ),
            rx.spacer(),
            download_link("Download", DocumentViewState.download_url, testid="view-download"),
            width="100%",
            align="center",
        ),
        rx.heading(DocumentViewState.name, as_="h2", size="5", data_testid="document-title"),
        rx.text(DocumentViewState.meta, size="1", color_scheme="gray"),
        rx.cond(
            DocumentViewState.status != "ready",
            rx.callout(
                rx.text(
                    "This document is ",
                    DocumentViewState.status,
                    "; its text appears when indexing is done.",
                ),
                icon="info",
                width="100%",
            ),
        ),
        _pager(),
        rx.vstack(
            rx.foreach(DocumentViewState.blocks, _block),
            width="100%",
            spacing="3",
            data_testid="document-text",
        ),
        _pager(),
        width="100%",
        spacing="3",
    )


def document_view_page() -> rx.Component:
    return app_shell(
        rx.cond(
            DocumentViewState.not_found,
            rx.callout(
                "Document not found.",
                icon="circle-alert",
                color_scheme="red",
                data_testid="not-found",
            ),
            _content(),
        ),
        title="Document",
    )
