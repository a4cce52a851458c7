"""Liveness for anyone, and every dependency's health for administrators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from youworker.api.principal import CurrentPrincipal
from youworker.services import health
from youworker.settings import get_settings

router = APIRouter()


@router.get("/health")
async def liveness() -> dict[str, str]:
    """Liveness: the process answers. No secrets, no dependency calls."""
    return {"status": "ok"}


@router.get("/health/detailed")
async def detailed_health(principal: CurrentPrincipal) -> JSONResponse:
    """Every dependency with status and latency; administrators (any credential, the root key
    included, which is audited) only."""
    status, probes = await health.detailed(principal.user, get_settings())
    body: dict[str, Any] = {
        "status": status,
        "checks": {probe.name: probe.as_dict() for probe in probes},
    }
    return JSONResponse(body, status_code=503 if body["status"] == "down" else 200)
