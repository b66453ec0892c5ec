"""Mounts every domain's JSON router under /api/v1. Every route here is authenticated by its dependencies."""

from fastapi import APIRouter

from cem.admin.api import router as admin_router
from cem.analytics.analyses.api import router as analyses_router
from cem.analytics.api import router as analytics_router
from cem.analytics.dashboards.api import router as dashboards_router
from cem.api.errors import ERROR_RESPONSES
from cem.customers.api import router as customers_router
from cem.distribution.api import router as distribution_router
from cem.feedback.api import router as feedback_router
from cem.imports.api import router as imports_router
from cem.interchange.importers.api import router as survey_interchange_router
from cem.journeys.api import router as journeys_router
from cem.privacy.api import router as privacy_router
from cem.sources.api import router as sources_router
from cem.surveys.api import router as surveys_router
from cem.text.api import router as text_router
from cem.text.topics.api import router as topics_router

api_router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
for router in (
    customers_router,
    feedback_router,
    journeys_router,
    imports_router,
    sources_router,
    privacy_router,
    survey_interchange_router,  # before surveys_router: /surveys/import is not a survey id
    surveys_router,
    analytics_router,
    analyses_router,
    dashboards_router,
    text_router,
    topics_router,
    admin_router,
    distribution_router,
):
    api_router.include_router(router)
