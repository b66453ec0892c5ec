"""The SurveyJS vocabulary shared by the exporter (exporters/surveyjs.py) and the importer (importers/surveyjs.py),
written once so that what cem exports is what it reads back."""

from __future__ import annotations

# cem validation -> SurveyJS text `inputType`
INPUT_TYPES = {"email": "email", "number": "number", "phone": "tel", "url": "url"}
VALIDATIONS = {input_type: validation for validation, input_type in INPUT_TYPES.items()}

# cem condition operator -> SurveyJS expression operator
OPERATORS = {
    "equals": "=",
    "not_equals": "!=",
    "greater_than": ">",
    "less_than": "<",
    "greater_or_equal": ">=",
    "less_or_equal": "<=",
    "contains": "contains",
    "not_contains": "notcontains",
    "includes_any": "anyof",
    "includes_all": "allof",
    "is_answered": "notempty",
    "is_skipped": "empty",
}
# SurveyJS expression operator (and the spellings SurveyJS also accepts) -> cem condition operator
CEM_OPERATORS = {op: cem for cem, op in OPERATORS.items()} | {"==": "equals", "<>": "not_equals"}
