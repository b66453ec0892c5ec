"""Per-workspace text settings, stored in workspace.settings["text"]: PII redaction and emotion example sentences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.models import Workspace
from cem.auth.principal import Principal
from cem.errors import InvalidInput, NotFound
from cem.text.emotions import DEFAULT_EXAMPLES, validate_examples
from cem.text.pii import KINDS

KEY = "text"


@dataclass(frozen=True)
class PiiConfig:
    """Whether text shown to roles without pii:read is masked, and which kinds of personal data."""

    enabled: bool = True
    kinds: tuple[str, ...] = KINDS

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "kinds": list(self.kinds)}


def _workspace(session: Session, workspace_id: int) -> Workspace:
    ws = session.get(Workspace, workspace_id)
    if ws is None:
        raise NotFound(f"Workspace {workspace_id} does not exist.")
    return ws


def _text_settings(ws: Workspace) -> dict[str, Any]:
    value = (ws.settings or {}).get(KEY)
    return value if isinstance(value, dict) else {}


def _store(ws: Workspace, **changes: Any) -> None:
    # A new dict (not an in-place edit) so SQLAlchemy sees the JSON column change.
    ws.settings = {**(ws.settings or {}), KEY: {**_text_settings(ws), **changes}}


def pii_config(session: Session, workspace_id: int) -> PiiConfig:
    raw = _text_settings(_workspace(session, workspace_id)).get("pii")
    if not isinstance(raw, dict):
        return PiiConfig()
    kinds = tuple(k for k in raw.get("kinds", KINDS) if k in KINDS)
    return PiiConfig(enabled=bool(raw.get("enabled", True)), kinds=kinds)


def set_pii_config(session: Session, actor: Principal, *, enabled: bool, kinds: list[str]) -> PiiConfig:
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise InvalidInput(f"Unknown PII kind(s) {', '.join(unknown)}; use: {', '.join(KINDS)}.")
    config = PiiConfig(enabled=enabled, kinds=tuple(k for k in KINDS if k in kinds))
    _store(_workspace(session, actor.workspace_id), pii=config.to_json())
    audit.record(
        session,
        actor,
        "text.pii_settings",
        entity_type="workspace",
        entity_id=actor.workspace_id,
        details=config.to_json(),
    )
    return config


def emotion_examples(session: Session, workspace_id: int) -> dict[str, list[str]]:
    raw = _text_settings(_workspace(session, workspace_id)).get("emotion_examples")
    if not isinstance(raw, dict):
        return {k: list(v) for k, v in DEFAULT_EXAMPLES.items()}
    return validate_examples(raw)


def set_emotion_examples(session: Session, actor: Principal, examples: dict[str, Any]) -> dict[str, list[str]]:
    clean = validate_examples(examples)
    _store(_workspace(session, actor.workspace_id), emotion_examples=clean)
    audit.record(
        session,
        actor,
        "text.emotion_examples",
        entity_type="workspace",
        entity_id=actor.workspace_id,
        details={name: len(sentences) for name, sentences in clean.items()},
    )
    return clean


def reset_emotion_examples(session: Session, workspace_id: int) -> dict[str, list[str]]:
    ws = _workspace(session, workspace_id)
    settings = _text_settings(ws)
    settings.pop("emotion_examples", None)
    ws.settings = {**(ws.settings or {}), KEY: settings}
    return {k: list(v) for k, v in DEFAULT_EXAMPLES.items()}
