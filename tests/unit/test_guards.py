"""The handler guards: what the page's event sees of a guarded handler, and id parsing."""

from __future__ import annotations

import inspect
import uuid

import pytest

from youworker.services.errors import NotFound
from youworker.state.admin import AdminState
from youworker.state.chat import ChatState
from youworker.state.event_args import misfit_argument
from youworker.state.guards import parse_id


@pytest.mark.parametrize(
    ("state", "handler", "parameters"),
    [
        (AdminState, "set_role", ["self", "user_id", "role"]),
        (AdminState, "search", ["self", "query"]),  # from the SearchableList mixin
        (AdminState, "load", ["self"]),
        (ChatState, "search", ["self", "query"]),
        (ChatState, "toggle_tool", ["self", "name", "enabled"]),
    ],
)
def test_a_guarded_handler_takes_the_pages_arguments_only(
    state: type, handler: str, parameters: list[str]
) -> None:
    """Reflex maps an event's arguments by the handler's signature and type hints: the user the
    guard supplies must not be one of them."""
    fn = state.event_handlers[handler].fn
    assert list(inspect.signature(fn).parameters) == parameters
    assert not {"user", "actor"} & set(fn.__annotations__)


def test_parse_id_accepts_a_uuid() -> None:
    ident = uuid.uuid4()
    assert parse_id(str(ident), "Gone.") == ident


@pytest.mark.parametrize("forged", ["", "not-an-id", "1' OR 1=1", 42, None, ["x"]])
def test_a_forged_id_is_not_found(forged: object) -> None:
    with pytest.raises(NotFound) as caught:
        parse_id(forged, "User not found.")  # type: ignore[arg-type]
    assert caught.value.message == "User not found."


async def _handler(self: object, user: object, name: str, enabled: bool, page: int) -> None:
    """A handler as the guards see it: self, the user, then the page's arguments."""


@pytest.mark.parametrize(
    ("args", "kwargs", "misfit"),
    [
        (("calculator", True, 2), {}, None),
        ((), {"name": "calculator", "enabled": False, "page": 0}, None),
        ((["calculator"], True, 2), {}, "name"),  # a list where a string belongs
        (("calculator", "yes", 2), {}, "enabled"),
        (("calculator", True, True), {}, "page"),  # a bool is no page number
        (("calculator", True, "2"), {}, "page"),
        (("calculator", True), {}, "arguments"),  # one missing
        (("calculator", True, 2), {"extra": 1}, "arguments"),
    ],
)
def test_an_argument_of_another_type_is_named(
    args: tuple[object, ...], kwargs: dict[str, object], misfit: str | None
) -> None:
    assert misfit_argument(_handler, "self", "user", *args, **kwargs) == misfit
