"""HTML pages of surveys: the public hosted page (cem.surveys.hosted) and the builder for the CX team."""

from __future__ import annotations

from fastapi import APIRouter

from cem.surveys import hosted

router = APIRouter()
router.include_router(hosted.router)
