"""SQLModel tables. Importing this package registers every table on `SQLModel.metadata`."""

from youworker.models.audit import AuditEvent
from youworker.models.group import Group, GroupInvitation, GroupMembership, GroupRole
from youworker.models.setting import AppSetting
from youworker.models.user import ApiKey, Role, User, UserSession

__all__ = [
    "ApiKey",
    "AppSetting",
    "AuditEvent",
    "Group",
    "GroupInvitation",
    "GroupMembership",
    "GroupRole",
    "Role",
    "User",
    "UserSession",
]
