"""SQLModel tables. Importing this package registers every table on `SQLModel.metadata`."""

from youworker.models.audit import AuditEvent
from youworker.models.chat import (
    Conversation,
    ConversationShare,
    Message,
    MessageStatus,
    ToolCall,
)
from youworker.models.collection import Collection, CollectionDocument
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
from youworker.models.mail import MailStatus, OutboxMail
from youworker.models.setting import AppSetting
from youworker.models.tool import McpServer, McpTransport, ToolSetting
from youworker.models.user import ApiKey, PasswordReset, Role, User, UserSession

__all__ = [
    "ApiKey",
    "AppSetting",
    "AuditEvent",
    "Collection",
    "CollectionDocument",
    "Conversation",
    "ConversationShare",
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
    "MailStatus",
    "McpServer",
    "McpTransport",
    "Message",
    "MessageStatus",
    "OutboxMail",
    "PasswordReset",
    "Role",
    "ToolCall",
    "ToolSetting",
    "User",
    "UserSession",
]
