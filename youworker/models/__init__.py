"""SQLModel tables. Importing this package registers every table on `SQLModel.metadata`."""

from youworker.models.audit import AuditEvent
from youworker.models.chat import Conversation, Message, MessageStatus, ToolCall
from youworker.models.document import (
    Document,
    DocumentChunk,
    DocumentPage,
    DocumentShare,
    DocumentStatus,
    IngestionJob,
    JobStatus,
)
from youworker.models.group import Group, GroupInvitation, GroupMembership, GroupRole
from youworker.models.setting import AppSetting
from youworker.models.tool import McpServer, McpTransport, ToolSetting
from youworker.models.user import ApiKey, Role, User, UserSession

__all__ = [
    "ApiKey",
    "AppSetting",
    "AuditEvent",
    "Conversation",
    "Document",
    "DocumentChunk",
    "DocumentPage",
    "DocumentShare",
    "DocumentStatus",
    "Group",
    "GroupInvitation",
    "GroupMembership",
    "GroupRole",
    "IngestionJob",
    "JobStatus",
    "McpServer",
    "McpTransport",
    "Message",
    "MessageStatus",
    "Role",
    "ToolCall",
    "ToolSetting",
    "User",
    "UserSession",
]
