"""Mounts every domain's HTML router. Pages call the same services as the API: one rule, one place."""

from pathlib import Path

from fastapi import APIRouter

from cem.admin.web import router as admin_web

STATIC_DIR = Path(__file__).parent / "static"

web_router = APIRouter(include_in_schema=False)
for router in (admin_web,):
    web_router.include_router(router)
