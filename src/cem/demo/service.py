"""`cem demo`: the demo workspace, its admin login, the retail journey and every dataset, idempotently."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.admin import service as admin_service
from cem.auth import audit
from cem.auth.models import User, Workspace
from cem.auth.principal import Principal, system_principal
from cem.auth.security import check_password_strength, verify_password
from cem.churn import tasks as churn_tasks
from cem.clv import tasks as clv_tasks
from cem.config import Settings
from cem.db.session import Database
from cem.demo import olist, social, synthetic, telco
from cem.demo.loader import StoredCounts, store_batch
from cem.demo.program import DemoBatch, ensure_journey
from cem.demo.sources import resolve_data_dir
from cem.errors import InvalidInput

ADMIN_EMAIL = "admin@demo.local"
Progress = Callable[[str], None]


@dataclass
class AdminLogin:
    email: str
    password: str | None  # None when an existing admin kept a password we cannot show
    created: bool
    reset: bool


@dataclass
class DemoReport:
    workspace: str
    data_dir: Path
    login: AdminLogin
    datasets: list[StoredCounts] = field(default_factory=list)
    seconds: float = 0.0


def build_demo(
    db: Database,
    *,
    settings: Settings,
    data: Path | None = None,
    workspace: str = "demo",
    reset: bool = False,
    password: str | None = None,
    progress: Progress = lambda _line: None,
) -> DemoReport:
    """Build (or refresh) the demo workspace; all data is read and validated before anything is written."""
    started = time.perf_counter()
    _check_options(workspace, password)
    data_dir = resolve_data_dir(settings, data)
    batches = prepare_batches(data_dir, progress)
    with db.unit_of_work() as session:
        ws = admin_service.ensure_workspace(session, slug=workspace, name=workspace.replace("-", " ").title())
        actor = system_principal(ws.id, label="cem demo")
        login = ensure_admin(session, actor=actor, workspace=ws, password=password, reset=reset)
        ensure_journey(session, actor=actor)
    report = DemoReport(workspace=workspace, data_dir=data_dir, login=login)
    for batch in batches:
        progress(f"{batch.name}: storing {_summary(batch)} ...")
        counts = store_batch(db, actor=actor, batch=batch)
        report.datasets.append(counts)
        progress(f"{batch.name}: done in {counts.seconds:.1f} s ({_created(counts)}).")
    _score_customers(db, ws.id, progress)
    report.seconds = time.perf_counter() - started
    with db.unit_of_work() as session:
        details = {"data_dir": str(data_dir), "datasets": [d.name for d in report.datasets]}
        audit.record(session, actor, "demo.build", entity_type="workspace", entity_id=ws.id, details=details)
    return report


def _score_customers(db: Database, workspace_id: int, progress: Progress) -> None:
    """Queue lifetime value and churn risk now (ahead of the bulk text enrichment), so the customer 360 shows them
    minutes after the server starts instead of after the nightly run; the build itself does not wait for them."""
    with db.unit_of_work() as session:
        clv_tasks.queue_now(session, workspace_id)
        churn_tasks.queue_now(session, workspace_id)
    progress("lifetime value and churn risk: queued (the server's worker scores them after it starts).")


def _check_options(workspace: str, password: str | None) -> None:
    if not admin_service.SLUG_RE.match(workspace):
        raise InvalidInput(f"{workspace!r} is not a workspace slug (1-63 lowercase letters, digits or dashes).")
    if password is not None:
        try:
            check_password_strength(password, user_inputs=[ADMIN_EMAIL])
        except InvalidInput as exc:
            raise InvalidInput(f"CEM_DEMO_PASSWORD is refused: {exc.detail}") from None


def prepare_batches(data_dir: Path, progress: Progress) -> list[DemoBatch]:
    """Each dataset from the data folder, or its synthetic stand-in when the folder or file is missing."""
    if data_dir.is_dir():
        progress(f"Using the public data in {data_dir}")
    else:
        progress(f"Data folder {data_dir} not found: building a smaller synthetic program instead.")
    return [_retail(data_dir, progress), _social(data_dir, progress), _telco(data_dir, progress)]


def _retail(data_dir: Path, progress: Progress) -> DemoBatch:
    folder = data_dir / olist.FOLDER
    missing = olist.missing_files(folder)
    if not missing:
        progress("olist: reading orders, customers, items, payments and reviews ...")
        return olist.retail_batch(olist.read_tables(folder), source_name="olist")
    if data_dir.is_dir():
        progress(f"olist: {folder} lacks {', '.join(missing)}; using synthetic retail data instead.")
    return olist.retail_batch(synthetic.olist_tables(), source_name="synthetic-shop", synthetic=True)


def _social(data_dir: Path, progress: Progress) -> DemoBatch:
    if social.path(data_dir).is_file():
        progress("airline tweets: reading ...")
        return social.social_batch(social.read_table(data_dir), source_name="twitter")
    if data_dir.is_dir():
        progress(f"airline tweets: {social.path(data_dir)} not found; using synthetic tweets instead.")
    return social.social_batch(synthetic.tweet_table(), source_name="synthetic-social", synthetic=True)


def _telco(data_dir: Path, progress: Progress) -> DemoBatch:
    if telco.path(data_dir).is_file():
        progress("telco customers: reading ...")
        return telco.telco_batch(telco.read_table(data_dir))
    if data_dir.is_dir():
        progress(f"telco customers: {telco.path(data_dir)} not found; using synthetic telco customers instead.")
    return telco.telco_batch(synthetic.telco_table(), synthetic=True)


def ensure_admin(
    session: Session, *, actor: Principal, workspace: Workspace, password: str | None, reset: bool
) -> AdminLogin:
    """The demo admin; its password is set only when the user is new or `reset` is asked for."""
    existing = session.scalars(select(User).where(User.email == ADMIN_EMAIL)).first()
    if existing is not None and not reset:
        admin_service.create_user(session, email=ADMIN_EMAIL, password="", workspace=workspace, role="admin")
        # Show a configured password only if it really is the current one.
        shown = password if password and verify_password(existing.password_hash, password) else None
        return AdminLogin(email=ADMIN_EMAIL, password=shown, created=False, reset=False)
    secret = password or secrets.token_urlsafe(12)
    user = admin_service.create_user(
        session, email=ADMIN_EMAIL, password=secret, name="Demo admin", workspace=workspace, role="admin"
    )
    if existing is not None:
        admin_service.set_password(user, secret)
        audit.record(session, actor, "user.password_reset", entity_type="user", entity_id=user.id)
    else:
        audit.record(session, actor, "user.add", entity_type="user", entity_id=user.id, details={"role": "admin"})
    return AdminLogin(email=ADMIN_EMAIL, password=secret, created=existing is None, reset=existing is not None)


def _summary(batch: DemoBatch) -> str:
    parts = [f"{len(batch.customers):,} customers"]
    if batch.events:
        parts.append(f"{len(batch.events):,} events")
    if batch.feedback:
        parts.append(f"{len(batch.feedback):,} feedback records")
    return ", ".join(parts)


def _created(counts: StoredCounts) -> str:
    text = f"{counts.customers_created:,} new customers"
    if counts.feedback:
        text += f", {counts.feedback_created:,} new feedback records"
    return text
