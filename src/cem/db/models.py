"""Imports every domain's ORM models so metadata (Alembic, erasure checks) sees all tables."""

from cem.analytics.analyses import models as analyses_models
from cem.analytics.dashboards import models as dashboard_models
from cem.auth import models as auth_models
from cem.cases import models as case_models
from cem.churn import models as churn_models
from cem.clv import models as clv_models
from cem.customers import models as customer_models
from cem.distribution import models as distribution_models
from cem.feedback import models as feedback_models
from cem.imports import models as import_models
from cem.interchange.importers import models as survey_import_models
from cem.jobs import models as job_models
from cem.journeys import models as journey_models
from cem.sources import models as source_models
from cem.surveys import models as survey_models
from cem.text import models as text_models
from cem.text.topics import models as topic_models
from cem.webhooks import models as webhook_models

ALL_MODEL_MODULES = (
    auth_models,
    customer_models,
    journey_models,
    feedback_models,
    import_models,
    source_models,
    job_models,
    analyses_models,
    survey_models,
    survey_import_models,
    distribution_models,
    dashboard_models,
    topic_models,
    text_models,
    clv_models,
    churn_models,
    webhook_models,
    case_models,
)
