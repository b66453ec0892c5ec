"""Route parameters that several domains' APIs share: the principal holding a manage permission.

They belong beside `Reader`, `Writer` and the other role parameters of `cem.api.deps`; they live here only
because that module was being changed in parallel (issue 13), and can move there with a one-line import change.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from cem.api.deps import require
from cem.auth.permissions import Permission
from cem.auth.principal import Principal

SurveyManager = Annotated[Principal, Depends(require(Permission.surveys))]
DashboardManager = Annotated[Principal, Depends(require(Permission.dashboards))]
