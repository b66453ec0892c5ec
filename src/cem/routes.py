"""Router composition: every domain's JSON and HTML routers, mounted by `create_app` (cem.app).

This is a composition root like cem.app and cem.cli: it may import every domain, and nothing imports it but
them (the import contracts in pyproject.toml keep it so). The HTTP kernels, cem.api and cem.web, know no
domain. Order matters where paths overlap: the first matching route wins.
"""

from __future__ import annotations

from fastapi import APIRouter

from cem.admin import api as admin_api
from cem.admin import web as admin_web
from cem.admin import web_admin
from cem.analytics import api as analytics_api
from cem.analytics import web as analytics_web
from cem.analytics.analyses import api as analyses_api
from cem.analytics.dashboards import api as dashboards_api
from cem.api.errors import ERROR_RESPONSES
from cem.cases import api as cases_api
from cem.cases import web as cases_web
from cem.cases import web_setup as cases_web_setup
from cem.churn import api as churn_api
from cem.clv import api as clv_api
from cem.customers import api as customers_api
from cem.customers import web as customers_web
from cem.distribution import api as distribution_api
from cem.distribution import web as distribution_web
from cem.feedback import api as feedback_api
from cem.feedback import web as feedback_web
from cem.imports import api as imports_api
from cem.imports import web as imports_web
from cem.interchange.importers import api as interchange_api
from cem.journeys import api as journeys_api
from cem.journeys import web as journeys_web
from cem.privacy import api as privacy_api
from cem.privacy import web as privacy_web
from cem.responses import api as responses_api
from cem.responses import web as responses_web
from cem.responses import web_team as responses_web_team
from cem.sources import api as sources_api
from cem.sources import web as sources_web
from cem.surveys import api as surveys_api
from cem.surveys import web as surveys_web
from cem.text import api as text_api
from cem.text import web as text_web
from cem.text import web_search
from cem.text.topics import api as topics_api
from cem.webhooks import api as webhooks_api
from cem.webhooks import web as webhooks_web


def api_router() -> APIRouter:
    """Every JSON route under /api/v1; each is authenticated by its own dependencies."""
    router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
    for domain in (
        customers_api,
        feedback_api,
        journeys_api,
        imports_api,
        sources_api,
        privacy_api,
        interchange_api,  # before surveys_api: /surveys/import is not a survey id
        surveys_api,
        responses_api,  # a survey's responses, under /surveys/{survey_id}/responses
        analytics_api,
        analyses_api,
        dashboards_api,
        text_api,
        topics_api,
        admin_api,
        distribution_api,
        clv_api,
        churn_api,
        webhooks_api,
        cases_api,
    ):
        router.include_router(domain.router)
    return router


def web_router() -> APIRouter:
    """Every HTML page: the team's pages and the respondents' (hosted surveys). Pages call the API's services."""
    router = APIRouter(include_in_schema=False)
    for domain in (
        admin_web,
        customers_web,
        journeys_web,
        feedback_web,
        imports_web,
        sources_web,
        web_admin,
        analytics_web,
        text_web,
        web_search,
        distribution_web,
        responses_web,  # the respondent pages, before the builder's /surveys/... pages
        responses_web_team,  # the builder's preview and the response viewer
        surveys_web,
        privacy_web,
        webhooks_web,
        cases_web,
        cases_web_setup,  # alert rules, teams, SLA policies
    ):
        router.include_router(domain.router)
    return router
