"""The Documents page's collection controls: the list's collection picker, "New collection",
and what to do with the selected documents (add to a collection, move, take out of this one)."""

from __future__ import annotations

import reflex as rx

from youworker.components.forms import submit_button
from youworker.state.document_collections import CollectionOption, CollectionsState, GroupChoice
from youworker.state.documents import DocumentRow, DocumentsState


def select_cell(row: DocumentRow) -> rx.Component:
    return rx.table.cell(
        rx.checkbox(
            checked=CollectionsState.selected.contains(row.id),
            on_change=lambda checked: CollectionsState.toggle_selected(row.id, checked),
            aria_label=f"Select {row.name}",
            data_testid="select-document",
        )
    )


def select_page_cell() -> rx.Component:
    """The header's box: tick or untick every row on this page."""
    return rx.table.column_header_cell(
        rx.checkbox(
            checked=CollectionsState.page_selected,
            on_change=CollectionsState.toggle_page,
            aria_label="Select every document on this page",
            data_testid="select-page",
        )
    )


def _option(option: CollectionOption) -> rx.Component:
    return rx.select.item(option.label, value=option.id)


def _group_choice(group: GroupChoice) -> rx.Component:
    return rx.select.item(group.name, value=group.id)


def _new_collection_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("folder-plus", size=14),
                "New collection",
                size="2",
                variant="soft",
                data_testid="new-collection",
            )
        ),
        rx.dialog.content(
            rx.dialog.title("New collection"),
            rx.dialog.description(
                "Group documents to search them together; a group's collection is shared "
                "with its members.",
                size="2",
            ),
            rx.form(
                rx.vstack(
                    rx.input(
                        placeholder="Name",
                        aria_label="Collection name",
                        value=CollectionsState.new_name,
                        on_change=CollectionsState.set_new_name,
                        max_length=100,
                        width="100%",
                        auto_focus=True,
                        data_testid="collection-name",
                    ),
                    rx.cond(
                        CollectionsState.own_groups.length() > 0,
                        rx.select.root(
                            rx.select.trigger(aria_label="Whose collection", width="100%"),
                            rx.select.content(
                                rx.select.item("Mine", value="me"),
                                rx.foreach(CollectionsState.own_groups, _group_choice),
                            ),
                            value=CollectionsState.new_owner,
                            on_change=CollectionsState.set_new_owner,
                        ),
                    ),
                    rx.cond(
                        CollectionsState.collection_notice != "",
                        rx.text(
                            CollectionsState.collection_notice,
                            color_scheme="red",
                            size="2",
                            role="alert",
                        ),
                    ),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                        submit_button("Create", data_testid="create-collection"),
                        justify="end",
                        width="100%",
                    ),
                    width="100%",
                ),
                on_submit=lambda _: CollectionsState.create(),
                reset_on_submit=False,
            ),
        ),
        open=CollectionsState.new_open,
        on_open_change=CollectionsState.set_new_open,
    )


def _selection_actions() -> rx.Component:
    return rx.cond(
        CollectionsState.selected.length() > 0,
        rx.hstack(
            rx.text(
                CollectionsState.selected.length(),
                " selected",
                size="2",
                data_testid="selected-count",
            ),
            rx.cond(
                CollectionsState.manageable.length() > 0,
                rx.select.root(
                    rx.select.trigger(
                        placeholder="Add to collection…", data_testid="add-to-collection"
                    ),
                    rx.select.content(rx.foreach(CollectionsState.manageable, _option)),
                    value="",
                    on_change=CollectionsState.add_selected,
                ),
            ),
            rx.cond(
                CollectionsState.current_manageable & (CollectionsState.move_targets.length() > 0),
                rx.select.root(
                    rx.select.trigger(placeholder="Move to…", data_testid="move-to-collection"),
                    rx.select.content(rx.foreach(CollectionsState.move_targets, _option)),
                    value="",
                    on_change=CollectionsState.move_selected,
                ),
            ),
            rx.cond(
                CollectionsState.current_manageable,
                rx.button(
                    "Take out of this collection",
                    variant="soft",
                    color_scheme="red",
                    size="2",
                    on_click=CollectionsState.remove_selected,
                    data_testid="remove-from-collection",
                ),
            ),
            rx.button(
                "Clear selection",
                variant="ghost",
                size="2",
                on_click=CollectionsState.clear_selected,
            ),
            align="center",
            wrap="wrap",
        ),
    )


def collections_bar() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.select.root(
                rx.select.trigger(aria_label="Collection", data_testid="collection-filter"),
                rx.select.content(
                    rx.select.item("All documents", value="all"),
                    rx.foreach(CollectionsState.options, _option),
                ),
                value=CollectionsState.filter_value,
                on_change=DocumentsState.show_collection,
            ),
            _new_collection_dialog(),
            align="center",
            wrap="wrap",
            width="100%",
        ),
        _selection_actions(),
        width="100%",
        spacing="2",
    )
