"""Installation-wide settings that admins change at run time (not environment settings)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from youworker.models.base import created_field


class AppSetting(SQLModel, table=True):
    __tablename__ = "app_settings"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=1000)
    updated_at: datetime = created_field()
