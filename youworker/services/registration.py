"""The registration policy: open, or by invitation only (an installation-wide admin setting)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from youworker.models import AppSetting, User
from youworker.models.base import utcnow
from youworker.services import audit
from youworker.services.authz import require_site_admin
from youworker.services.errors import ValidationFailed

REGISTRATION_KEY = "registration_mode"


class RegistrationMode(StrEnum):
    OPEN = "open"
    INVITE_ONLY = "invite_only"


async def get_mode(session: AsyncSession) -> RegistrationMode:
    row = await session.get(AppSetting, REGISTRATION_KEY)
    return RegistrationMode(row.value) if row else RegistrationMode.OPEN


async def set_mode(
    session: AsyncSession, actor: User, mode: str, context: audit.RequestContext | None = None
) -> RegistrationMode:
    require_site_admin(actor)
    try:
        new_mode = RegistrationMode(mode)
    except ValueError as exc:
        raise ValidationFailed({"mode": "Choose open or invite_only."}) from exc
    row = await session.get(AppSetting, REGISTRATION_KEY)
    if row is None:
        session.add(AppSetting(key=REGISTRATION_KEY, value=new_mode.value))
    else:
        row.value = new_mode.value
        row.updated_at = utcnow()
    audit.record(
        session, "settings.registration_mode", actor=actor, context=context, mode=new_mode.value
    )
    await session.commit()
    return new_mode
