"""Which customers count as churned: one rule for the store's SQL and for the snapshot export."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, String, case, cast, func

from cem.customers.models import Customer

# The first of these attributes a customer carries decides (Telco imports set both: `churned` true/false and
# the original `Churn` Yes/No).
ATTRIBUTES = ("churned", "Churn")
TRUE = ("1", "true", "yes")
FALSE = ("0", "false", "no")


def churn_flag(attributes: Mapping[str, Any] | None) -> float | None:
    """1.0 churned, 0.0 stayed, None when the customer carries no recognisable churn flag."""
    for name in ATTRIBUTES:
        value = (attributes or {}).get(name)
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value).strip().lower()
        if text in TRUE:
            return 1.0
        if text in FALSE:
            return 0.0
    return None


def churn_sql(dialect: str) -> ColumnElement[Any]:
    """The same rule in SQL over customer.attributes (SQLite and PostgreSQL)."""
    whens: list[Any] = []
    for name in ATTRIBUTES:
        text = func.lower(func.trim(_attribute_text(name, dialect)))
        whens += [(text.in_(TRUE), 1.0), (text.in_(FALSE), 0.0)]
    return case(*whens, else_=None)


def _attribute_text(name: str, dialect: str) -> ColumnElement[Any]:
    raw = Customer.attributes[name].as_string()
    if dialect == "sqlite":
        # json_extract gives JSON true/false as 1/0, which the rule reads the same way.
        return cast(raw, String)
    return raw
