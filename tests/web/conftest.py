from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import Workspace
from tests.web.helpers import WebUser, login


@pytest.fixture
def web(app: object, workspace: Workspace) -> Callable[[str], WebUser]:
    """`web("viewer")` -> a client logged in through the form as that role's user."""

    def make(role: str) -> WebUser:
        return login(app, workspace.user_email(role))

    return make
