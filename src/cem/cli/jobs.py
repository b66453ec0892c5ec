"""Background job commands: `cem worker` and `cem jobs list|show|retry|schedules`."""

from __future__ import annotations

import signal
import threading

import typer

from cem.cli.app import app, echo, fail, friendly_errors, open_db
from cem.config import get_settings
from cem.imports.runner import recover_interrupted
from cem.jobs import service as job_service
from cem.jobs.models import Job
from cem.jobs.worker import Worker, worker_pool

jobs_app = typer.Typer(help="Background jobs and their dead letters.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


@app.command()
@friendly_errors
def worker(
    once: bool = typer.Option(False, help="Fire due schedules, run due jobs, then exit."),
    concurrency: int = typer.Option(1, help="Worker threads in this process that take any job, most urgent first."),
    interactive: int = typer.Option(
        1, min=0, help="Extra threads reserved for interactive jobs (imports, sends): they never take bulk work."
    ),
    batch_size: int = typer.Option(20, help="Jobs claimed per round trip."),
) -> None:
    """Run background jobs (several workers may run at once; none runs a job twice)."""
    if concurrency < 1 or batch_size < 1:
        fail("--concurrency and --batch-size must be at least 1.", 2)
    settings = get_settings()
    db = open_db(settings)
    for run_id in recover_interrupted(db):  # a restarted worker: imports its dead predecessor left running
        echo(f"Import run {run_id} was interrupted (its process stopped); resume it from the imports page or API.")
    if once:
        one = Worker(db, batch_size=batch_size)
        one.sync_schedules()
        one.fire_due_schedules()
        echo(f"Ran {one.run_until_idle()} job(s).")
        return
    workers = worker_pool(
        db,
        general=concurrency,
        interactive=interactive,
        poll_seconds=settings.worker_poll_seconds,
        batch_size=batch_size,
    )
    threads = [w.start_thread() for w in workers]
    echo(f"Worker running ({concurrency} thread(s), {interactive} reserved for interactive jobs); Ctrl-C to stop.")
    _wait_for_signal(workers, threads)
    echo("Worker stopped.")


def _wait_for_signal(workers: list[Worker], threads: list[threading.Thread]) -> None:
    """Stop on SIGTERM/SIGINT: each worker finishes its current job and hands unstarted ones back."""

    def stop(*_: object) -> None:
        for w in workers:
            w.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)  # a timed join lets the signal handler run


@jobs_app.command("list")
@friendly_errors
def jobs_list(
    status: str = typer.Option(None, help="queued, running, done or dead (dead = the dead-letter list)."),
    limit: int = typer.Option(50, help="Most recent jobs to show."),
) -> None:
    """List jobs, newest first."""
    db = open_db()
    with db.unit_of_work(readonly=True) as session:
        rows = job_service.list_jobs(session, workspace_id=None, status=status, limit=limit)
    if not rows:
        echo("No jobs." if not status else f"No {status} jobs.")
        return
    echo(f"{'ID':>8}  {'STATUS':<8}  {'TRIES':>5}  {'PROGRESS':>11}  {'NAME':<32}  LAST ERROR")
    for job in rows:
        tries = f"{job.attempts}/{job.max_attempts}"
        echo(f"{job.id:>8}  {job.status:<8}  {tries:>5}  {_progress(job):>11}  {job.name:<32}  {_headline(job)}")


@jobs_app.command("show")
@friendly_errors
def jobs_show(job_id: int = typer.Argument(..., help="Job id.")) -> None:
    """Show one job: arguments, attempts, progress, result and its last error."""
    db = open_db()
    with db.unit_of_work(readonly=True) as session:
        job = job_service.get_job(session, workspace_id=None, job_id=job_id)
    fields = {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "workspace": job.workspace_id if job.workspace_id is not None else "(system)",
        "args": job.args,
        "attempts": f"{job.attempts} of {job.max_attempts}",
        "run at": job.run_at.isoformat(),
        "worker": job.locked_by or "",
        "lease until": job.locked_until.isoformat() if job.locked_until else "",
        "progress": f"{_progress(job)} {job.progress_message}".strip(),
        "result": job.result,
        "created": job.created_at.isoformat(),
        "finished": job.finished_at.isoformat() if job.finished_at else "",
    }
    for key, value in fields.items():
        echo(f"{key + ':':<13}{value}")
    if job.last_error:
        echo("last error:\n" + job.last_error)


@jobs_app.command("retry")
@friendly_errors
def jobs_retry(job_id: int = typer.Argument(..., help="Id of a dead job.")) -> None:
    """Requeue a dead job with a fresh attempt budget."""
    db = open_db()
    with db.unit_of_work() as session:
        job = job_service.retry_dead_any(session, job_id=job_id)
        echo(f"Job {job.id} ({job.name}) is queued again.")


@jobs_app.command("schedules")
@friendly_errors
def jobs_schedules() -> None:
    """List cron schedules (synced from code when a worker starts)."""
    db = open_db()
    with db.unit_of_work(readonly=True) as session:
        rows = job_service.list_schedules(session)
    if not rows:
        echo("No schedules yet (a worker syncs them when it starts).")
        return
    echo(f"{'NAME':<32}  {'CRON':<16}  {'NEXT RUN (UTC)':<25}  LAST RUN (UTC)")
    for s in rows:
        last = s.last_run_at.isoformat(timespec="seconds") if s.last_run_at else "never"
        echo(f"{s.name:<32}  {s.cron:<16}  {s.next_run_at.isoformat(timespec='seconds'):<25}  {last}")


def _progress(job: Job) -> str:
    return f"{job.progress_current}/{job.progress_total}" if job.progress_total else ""


def _headline(job: Job) -> str:
    return (job.last_error or "").split("\n", 1)[0][:80]
