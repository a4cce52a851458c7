"""The chat domain: conversations, messages and the answers a model writes into them.

The conversation and message API is re-exported here (`from youworker.services import chat`;
`chat.get_owned`, `chat.list_messages`, ...). The modules:

- `conversations`: owner-checked reads and writes of the list, titles and switches;
- `messages`: saving a question, decrypted views of a thread, the history the model sees;
- `titles`, `display`: sealed titles and how a conversation or an answer's end reads;
- `runs` (ChatRuns: admit, create, launch, follow and stop answers), `run_state`, `snapshots`,
  `events`, `checkpoints`, `interrupted`: an answer while it is written, on one worker or
  several; `answers`: the one writer of answer rows (open, checkpoint, finish, interrupted);
- `agent`: the tool loop; `documents`: the passages "Use my documents" retrieves first.

May import models, settings, the other services (documents, llm, tools, broker, audit); never
Reflex or the API.
"""

from youworker.services.chat.conversations import (
    MAX_COLLECTIONS,
    NAME_MAX_CHARS,
    PAGE_MAX,
    ConversationCursor,
    ConversationPage,
    check_owned,
    create_conversation,
    delete_conversation,
    get_owned,
    list_conversations,
    rename,
    set_collections,
    set_disabled_tools,
    set_model,
    set_use_documents,
)
from youworker.services.chat.display import UNTITLED, title_from
from youworker.services.chat.messages import (
    MessagePage,
    MessageView,
    SavedQuestion,
    ToolCallView,
    add_question,
    add_user_message,
    get_message,
    history_for_model,
    list_messages,
    message_view,
    messages_of,
    remove_last_answer,
    validate_user_text,
)
from youworker.services.chat.titles import title_of

__all__ = [
    "MAX_COLLECTIONS",
    "NAME_MAX_CHARS",
    "PAGE_MAX",
    "UNTITLED",
    "ConversationCursor",
    "ConversationPage",
    "MessagePage",
    "MessageView",
    "SavedQuestion",
    "ToolCallView",
    "add_question",
    "add_user_message",
    "check_owned",
    "create_conversation",
    "delete_conversation",
    "get_message",
    "get_owned",
    "history_for_model",
    "list_conversations",
    "list_messages",
    "message_view",
    "messages_of",
    "remove_last_answer",
    "rename",
    "set_collections",
    "set_disabled_tools",
    "set_model",
    "set_use_documents",
    "title_from",
    "title_of",
    "validate_user_text",
]
