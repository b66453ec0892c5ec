"""Survey service (authoring): definitions, versions and lifecycle. Responses are cem.responses.

Functions other domains call (all take an open Session; the caller's unit of work commits):

    create_survey(session, actor, *, name, definition=None, slug=None) -> Survey
    update_survey(session, actor, survey, *, name=None, slug=None, definition=None) -> Survey
        a live/paused survey gets a new SurveyVersion at once (the definition must be valid)
    publish_survey(session, actor, survey) -> SurveyVersion      validates, new version if changed, goes live
    set_status(session, actor, survey, status) -> Survey         live | paused | closed
    delete_survey(session, actor, survey)                        only a survey nobody answered
    response_counts(session, survey) -> {"started": n, "completed": n}
    get_survey(session, *, workspace_id, survey_id) / get_survey_by_slug(session, slug)
    version_definition(session, version_id) -> SurveyDefinition  (cached; versions never change)
    availability(survey, now) -> str | None                      why a survey takes no answers, or None
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, defer

from cem.auth import audit
from cem.auth.principal import Principal
from cem.db.base import utcnow
from cem.errors import BadRequest, Conflict, InvalidInput, NotFound
from cem.surveys.definition import (
    DefinitionError,
    SurveyDefinition,
    blocking_errors,
    parse_definition,
    validate_definition,
)
from cem.surveys.models import Survey, SurveyResponse, SurveyVersion

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,78}[a-z0-9]$")


# --------------------------------------------------------------------------------------------------
# Definitions and versions


def definition_errors(data: Any) -> tuple[SurveyDefinition | None, list[DefinitionError]]:
    """Parse and validate; schema errors are reported in the same located form as logic errors."""
    try:
        defn = parse_definition(data)
    except ValidationError as exc:
        return None, [
            DefinitionError(path=_loc_path(err["loc"]), message=err["msg"], code="schema") for err in exc.errors()
        ]
    return defn, validate_definition(defn)


def _loc_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("ConditionGroup", "Condition") and not str(part).startswith("function-"):
            path += f".{part}" if path else str(part)
    return path


def _parse_or_raise(data: Any) -> SurveyDefinition:
    try:
        return parse_definition(data)
    except ValidationError as exc:
        errors = [{"loc": ["definition", *err["loc"]], "msg": err["msg"]} for err in exc.errors()]
        raise InvalidInput("The survey definition is not well formed.", errors=errors) from None


def _raise_if_blocking(defn: SurveyDefinition) -> None:
    problems = blocking_errors(validate_definition(defn))
    if problems:
        raise BadRequest(
            f"The survey definition has {len(problems)} error(s); fix them before it goes live.",
            errors=[{"loc": [p.path], "msg": p.message, "code": p.code} for p in problems],
        )


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60].strip("-")
    return slug if len(slug) >= 3 else f"survey-{slug}".strip("-")


def _unique_slug(session: Session, wanted: str) -> str:
    slug, n = wanted, 1
    while session.scalar(select(Survey.id).where(Survey.slug == slug)) is not None:
        n += 1
        slug = f"{wanted[:70]}-{n}"
    return slug


def _check_slug(session: Session, slug: str, survey_id: int | None) -> str:
    slug = slug.strip().lower()
    if not SLUG_PATTERN.match(slug):
        raise InvalidInput(
            "A slug has 2-80 lowercase letters, digits and dashes, and starts and ends with a letter or digit.",
            errors=[{"loc": ["slug"], "msg": "invalid slug"}],
        )
    other = session.scalar(select(Survey.id).where(Survey.slug == slug))
    if other is not None and other != survey_id:
        raise Conflict(f"The link /s/{slug} is already used by another survey.")
    return slug


def _apply_settings(survey: Survey, defn: SurveyDefinition) -> None:
    survey.opens_at = defn.settings.opens_at
    survey.closes_at = defn.settings.closes_at
    survey.close_after_responses = defn.settings.close_after_responses


def starter_definition(name: str) -> SurveyDefinition:
    """A new survey starts with one NPS question, so the builder shows something to edit."""
    return SurveyDefinition.model_validate(
        {
            "title": {"en": name},
            "pages": [
                {
                    "id": "p1",
                    "questions": [
                        {
                            "id": "nps",
                            "type": "nps",
                            "required": True,
                            "headline": {"en": "How likely are you to recommend us to a friend or colleague?"},
                        }
                    ],
                }
            ],
            "endings": [
                {"id": "thanks", "headline": {"en": "Thank you!"}, "message": {"en": "Your answers are saved."}}
            ],
        }
    )


def create_survey(
    session: Session, actor: Principal, *, name: str, definition: Any = None, slug: str | None = None
) -> Survey:
    defn = starter_definition(name) if definition is None else _parse_or_raise(definition)
    slug = _check_slug(session, slug, None) if slug else _unique_slug(session, _slugify(name))
    survey = Survey(
        workspace_id=actor.workspace_id,
        slug=slug,
        name=name.strip(),
        status="draft",
        definition=defn.model_dump(mode="json"),
        created_by=actor.label,
    )
    _apply_settings(survey, defn)
    session.add(survey)
    session.flush()
    audit.record(session, actor, "survey.create", entity_type="survey", entity_id=survey.id, details={"slug": slug})
    return survey


def update_survey(
    session: Session,
    actor: Principal,
    survey: Survey,
    *,
    name: str | None = None,
    slug: str | None = None,
    definition: Any = None,
) -> Survey:
    """Edit the working copy; on a live or paused survey a valid change becomes a new version at once."""
    changes: dict[str, Any] = {}
    if name is not None and name.strip() != survey.name:
        survey.name = name.strip()
        changes["name"] = survey.name
    if slug is not None and slug != survey.slug:
        if survey.current_version_id is not None:
            raise Conflict("The link of a published survey cannot change: sent invitations point to it.")
        survey.slug = _check_slug(session, slug, survey.id)
        changes["slug"] = survey.slug
    if definition is not None:
        defn = _parse_or_raise(definition)
        if survey.status in ("live", "paused"):
            _raise_if_blocking(defn)
        survey.definition = defn.model_dump(mode="json")
        _apply_settings(survey, defn)
        changes["definition"] = True
        if survey.status in ("live", "paused"):
            version = _new_version_if_changed(session, actor, survey)
            if version is not None:
                changes["version"] = version.number
    survey.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "survey.update", entity_type="survey", entity_id=survey.id, details=changes)
    return survey


def _new_version_if_changed(session: Session, actor: Principal, survey: Survey) -> SurveyVersion | None:
    current = session.get(SurveyVersion, survey.current_version_id) if survey.current_version_id else None
    if current is not None and current.definition == survey.definition:
        return None
    number = (current.number if current else 0) + 1
    version = SurveyVersion(survey_id=survey.id, number=number, definition=survey.definition, created_by=actor.label)
    session.add(version)
    session.flush()
    survey.current_version_id = version.id
    return version


def publish_survey(session: Session, actor: Principal, survey: Survey) -> SurveyVersion:
    """Validate the working copy, freeze it as a version when it changed, and go live."""
    defn = _parse_or_raise(survey.definition)
    _raise_if_blocking(defn)
    version = _new_version_if_changed(session, actor, survey)
    survey.status = "live"
    survey.updated_at = utcnow()
    session.flush()
    current = version or session.get(SurveyVersion, survey.current_version_id)
    assert current is not None
    audit.record(
        session, actor, "survey.publish", entity_type="survey", entity_id=survey.id, details={"version": current.number}
    )
    return current


ALLOWED_TRANSITIONS = {
    "draft": {"closed"},
    "live": {"paused", "closed"},
    "paused": {"live", "closed"},
    "closed": {"live"},
}


def set_status(session: Session, actor: Principal, survey: Survey, status: str) -> Survey:
    if status == survey.status:
        return survey
    if status not in ALLOWED_TRANSITIONS.get(survey.status, set()):
        hint = " Publish it first." if survey.status == "draft" and status == "live" else ""
        raise Conflict(f"A {survey.status} survey cannot become {status}.{hint}")
    if status == "live":
        return _reopen(session, actor, survey)
    previous, survey.status = survey.status, status
    survey.updated_at = utcnow()
    session.flush()
    audit.record(
        session, actor, f"survey.{status}", entity_type="survey", entity_id=survey.id, details={"from": previous}
    )
    return survey


def _reopen(session: Session, actor: Principal, survey: Survey) -> Survey:
    publish_survey(session, actor, survey)
    return survey


def get_survey(session: Session, *, workspace_id: int, survey_id: int) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None or survey.workspace_id != workspace_id:
        raise NotFound(f"Survey {survey_id} does not exist.")
    return survey


# Built once: on the hosted page's hot path, making the statement (and its cache key) cost more than running it.
_SURVEY_BY_SLUG = (
    select(Survey, SurveyVersion.created_at)
    .outerjoin(SurveyVersion, SurveyVersion.id == Survey.current_version_id)
    .options(defer(Survey.definition))
    .where(Survey.slug == bindparam("slug"))
)


def get_survey_by_slug(session: Session, slug: str) -> Survey | None:
    """For the hosted page: the working copy (a large JSON) is loaded only if something reads it. The same query
    reads the current version's creation time, which confirms its cached definition (see _cached_version)."""
    row = session.execute(_SURVEY_BY_SLUG, {"slug": slug}).first()
    if row is None:
        return None
    survey, created_at = row
    if survey.current_version_id is not None and created_at is not None:
        cached = _DEFINITIONS.get((survey.current_version_id, created_at))
        if cached is not None:
            session.info.setdefault(SEEN_VERSIONS, {})[survey.current_version_id] = cached
    return survey


def list_surveys(session: Session, *, workspace_id: int) -> list[Survey]:
    return list(session.scalars(select(Survey).where(Survey.workspace_id == workspace_id).order_by(Survey.id.desc())))


def list_versions(session: Session, survey: Survey) -> list[SurveyVersion]:
    return list(
        session.scalars(
            select(SurveyVersion).where(SurveyVersion.survey_id == survey.id).order_by(SurveyVersion.number)
        )
    )


def get_version(session: Session, survey: Survey, number: int) -> SurveyVersion:
    version = session.scalar(
        select(SurveyVersion).where(SurveyVersion.survey_id == survey.id, SurveyVersion.number == number)
    )
    if version is None:
        raise NotFound(f"Survey {survey.id} has no version {number}.")
    return version


_DEFINITIONS: dict[tuple[int, datetime], tuple[SurveyDefinition, int]] = {}
SEEN_VERSIONS = "cem_survey_versions"  # session.info: version id -> cache entry confirmed in this transaction
_VERSION_CREATED = select(SurveyVersion.created_at).where(SurveyVersion.id == bindparam("id"))  # built once


def _cached_version(session: Session, version_id: int) -> tuple[SurveyDefinition, int]:
    """(definition, number) of a version; versions never change, so each is parsed once per process.

    Keyed by id and creation time: ids of deleted rows can be reused (SQLite, tests), timestamps not.
    """
    seen: dict[int, tuple[SurveyDefinition, int]] = session.info.setdefault(SEEN_VERSIONS, {})
    if version_id in seen:  # checked once per unit of work, not once per call
        return seen[version_id]
    row = session.execute(_VERSION_CREATED, {"id": version_id}).first()
    if row is None:
        raise NotFound(f"Survey version {version_id} does not exist.")
    key = (version_id, row[0])
    cached = _DEFINITIONS.get(key)
    if cached is not None:
        seen[version_id] = cached
        return cached
    version = session.get(SurveyVersion, version_id)
    assert version is not None
    entry = (parse_definition(version.definition), version.number)
    if len(_DEFINITIONS) > 512:
        _DEFINITIONS.clear()
    _DEFINITIONS[key] = entry
    seen[version_id] = entry
    return entry


def version_definition(session: Session, version_id: int) -> SurveyDefinition:
    """The parsed definition of a version (cached per process)."""
    return _cached_version(session, version_id)[0]


def working_definition(survey: Survey) -> SurveyDefinition:
    return parse_definition(survey.definition)


# --------------------------------------------------------------------------------------------------
# Lifecycle


def availability(survey: Survey, now: datetime | None = None) -> str | None:
    """Why the survey takes no answers now, or None when it does."""
    now = now or utcnow()
    if survey.status == "draft" or survey.current_version_id is None:
        return "This survey is not published yet."
    if survey.status == "paused":
        return "This survey is paused. Please come back later."
    if survey.status == "closed":
        return "This survey is closed. Thank you for your interest."
    if survey.opens_at and now < survey.opens_at:
        return f"This survey opens on {survey.opens_at:%Y-%m-%d %H:%M} UTC."
    if survey.closes_at and now >= survey.closes_at:
        return "This survey is closed. Thank you for your interest."
    if survey.close_after_responses and survey.completed_count >= survey.close_after_responses:
        return "This survey has all the responses it needs. Thank you for your interest."
    return None


def version_number(session: Session, version_id: int) -> int:
    """The number (1, 2, ...) of a stored survey version."""
    return _cached_version(session, version_id)[1]


def response_counts(session: Session, survey: Survey) -> dict[str, int]:
    """Responses per status; counted here, next to the survey, because authoring shows them (the list, the
    editor, the API's survey detail) and must not depend on cem.responses, which answers surveys."""
    rows = session.execute(
        select(SurveyResponse.status, func.count())
        .where(SurveyResponse.survey_id == survey.id)
        .group_by(SurveyResponse.status)
    ).all()
    counts = {status: int(n) for status, n in rows}
    return {"started": counts.get("started", 0), "completed": counts.get("completed", 0)}


def delete_survey(session: Session, actor: Principal, survey: Survey) -> None:
    """Only a survey nobody answered can go; one with responses is closed instead (its data stays)."""
    has_responses = session.scalar(select(SurveyResponse.id).where(SurveyResponse.survey_id == survey.id).limit(1))
    if has_responses is not None:
        raise Conflict("This survey has responses; close it instead of deleting it.")
    audit.record(
        session, actor, "survey.delete", entity_type="survey", entity_id=survey.id, details={"slug": survey.slug}
    )
    session.delete(survey)
    session.flush()
