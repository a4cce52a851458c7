"""Health under /api/v1: liveness for anyone, every dependency for administrators."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from youworker.api.errors import ERROR_RESPONSES, ErrorResponse
from youworker.api.principal import CurrentPrincipal
from youworker.services import health
from youworker.settings import get_settings

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class ProbePublic(BaseModel):
    name: str
    status: str = Field(description="ok | degraded | down | not_configured")
    latency_ms: float | None
    detail: str


class DetailedHealth(BaseModel):
    status: str
    checks: dict[str, ProbePublic]


@router.get("/health")
async def liveness() -> Liveness:
    """The process answers (the same as /health). No secrets, no dependency calls."""
    return Liveness()


@router.get(
    "/health/detailed",
    response_model=DetailedHealth,
    responses={
        403: {"model": ErrorResponse, "description": "Administrators only"},
        503: {"model": DetailedHealth, "description": "The database is down"},
        **ERROR_RESPONSES,
    },
)
async def detailed(principal: CurrentPrincipal) -> JSONResponse:
    """Every dependency with status and latency (as /health/detailed); administrators only."""
    status, probes = await health.detailed(principal.user, get_settings())
    body = DetailedHealth(
        status=status,
        checks={probe.name: ProbePublic.model_validate(probe.as_dict()) for probe in probes},
    )
    return JSONResponse(body.model_dump(), status_code=503 if status == "down" else 200)
