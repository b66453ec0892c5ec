"""Mounts every domain's HTML router. Pages call the same services as the API: one rule, one place."""

from pathlib import Path

from fastapi import APIRouter

from cem.admin.web import router as admin_web
from cem.admin.web_admin import router as admin_pages
from cem.analytics.web import router as analytics_web
from cem.customers.web import router as customers_web
from cem.distribution.web import router as distribution_web
from cem.feedback.web import router as feedback_web
from cem.imports.web import router as imports_web
from cem.journeys.web import router as journeys_web
from cem.privacy.web import router as privacy_web
from cem.sources.web import router as sources_web
from cem.surveys.web import router as surveys_web
from cem.text.web import router as text_web
from cem.text.web_search import router as text_search_web

STATIC_DIR = Path(__file__).parent / "static"

web_router = APIRouter(include_in_schema=False)
for router in (admin_web, customers_web, journeys_web, feedback_web, imports_web, sources_web, admin_pages):
    web_router.include_router(router)
web_router.include_router(analytics_web)
web_router.include_router(text_web)
web_router.include_router(text_search_web)
web_router.include_router(distribution_web)
web_router.include_router(surveys_web)
web_router.include_router(privacy_web)
