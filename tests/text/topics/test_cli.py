"""`cem text topics` (any CSV, no database) and `cem text discover` (stored texts): columns, reproducibility, errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cem.cli import app, text_topics
from cem.config import Settings, get_settings
from cem.db.session import Database
from cem.text.topics.discovery import clean_text
from tests.text.topics.conftest import Corpus


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _key(text: str) -> str:
    return clean_text(text).strip() or text


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["text", "topics", *args])
    return result.exit_code, result.output


@pytest.fixture
def tweets(tmp_path: Path, airline: Corpus, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sample tweets as a CSV (one blank row), with the model replaced by their cached vectors."""
    lookup = {_key(t): v for t, v in zip(airline.texts, airline.vectors, strict=True)}
    monkeypatch.setattr(text_topics, "_embed", lambda texts: np.stack([lookup[_key(t)] for t in texts]))
    rows = [
        {"id": str(n), "tweet": t, "reason": r}
        for n, (t, r) in enumerate(zip(airline.texts, airline.reasons, strict=True))
    ]
    rows.insert(3, {"id": "blank", "tweet": "   ", "reason": ""})
    return _write(tmp_path / "tweets.csv", rows)


def test_adds_topic_and_subtopic_columns_reproducibly(tmp_path: Path, tweets: Path, airline: Corpus) -> None:
    out, again = tmp_path / "out.csv", tmp_path / "again.csv"
    code, output = _run(
        "--input", str(tweets), "--column", "tweet", "--output", str(out), "--seed", "4", "--min-topic-size", "8"
    )
    assert code == 0, output
    assert "topics" in output and "subtopics" in output
    rows = _read(out)
    assert list(rows[0]) == ["id", "tweet", "reason", "topic", "subtopic"]
    assert len(rows) == len(airline.texts) + 1
    blank = next(r for r in rows if r["id"] == "blank")
    assert blank["topic"] == "" and blank["subtopic"] == ""
    filled = [r for r in rows if r["id"] != "blank"]
    assert all(r["topic"] for r in filled) and any(r["subtopic"] for r in filled)
    assert len({r["topic"] for r in filled}) >= 4
    cancelled = [r for r in filled if "cancel" in r["topic"]]
    assert cancelled and sum(r["reason"] == "Cancelled Flight" for r in cancelled) > len(cancelled) / 2
    assert _run("-i", str(tweets), "-c", "tweet", "-o", str(again), "--seed", "4", "--min-topic-size", "8")[0] == 0
    assert _read(again) == rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--column", "nope"], "Column 'nope' not found"),
        (["--min-topic-size", "1"], "Invalid value"),
        (["--min-topic-size", "5000"], "at least 5000 are needed"),
    ],
)
def test_bad_options(tmp_path: Path, tweets: Path, args: list[str], message: str) -> None:
    out = tmp_path / "out.csv"
    base = {"--column": "tweet"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    code, output = _run("--input", str(tweets), "--output", str(out), *[x for kv in base.items() for x in kv])
    assert code == 2 and message in output
    assert not out.exists()


def test_bad_files(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    code, output = _run("-i", str(tmp_path / "missing.csv"), "-c", "x", "-o", str(out))
    assert code == 2 and "not found" in output
    latin = tmp_path / "latin.csv"
    latin.write_bytes("texto\nmuito boa a entrega, não\n".encode("latin-1"))
    code, output = _run("-i", str(latin), "-c", "texto", "-o", str(out))
    assert code == 2 and "UTF-8" in output
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty" in _run("-i", str(empty), "-c", "x", "-o", str(out))[1]
    same = _write(tmp_path / "same.csv", [{"t": "a"}])
    assert "different file" in _run("-i", str(same), "-c", "t", "-o", str(same))[1]
    assert "Output folder not found" in _run("-i", str(same), "-c", "t", "-o", str(tmp_path / "no" / "o.csv"))[1]
    assert not out.exists()


def test_real_model_end_to_end(tmp_path: Path) -> None:
    """A small bilingual file through the shipped model (no injected vectors)."""
    texts = [f"A entrega atrasou {n} dias, pedido não chegou" for n in range(6)]
    texts += [f"Produto veio quebrado, defeito na tela {n}" for n in range(6)]
    texts += [f"The flight was delayed {n} hours at the gate" for n in range(6)]
    src = _write(tmp_path / "mixed.csv", [{"text": t} for t in texts])
    out = tmp_path / "out.csv"
    code, output = _run("-i", str(src), "-c", "text", "-o", str(out), "--min-topic-size", "4", "--topics", "3")
    assert code == 0, output
    rows = _read(out)
    by_topic: dict[str, set[int]] = {}
    for n, row in enumerate(rows):
        by_topic.setdefault(row["topic"], set()).add(n // 6)
    assert len(by_topic) == 3 and all(len(groups) == 1 for groups in by_topic.values()), by_topic


def test_discover_command_on_stored_texts(
    tmp_path: Path, airline: Corpus, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    from cem.text.topics import vectors
    from tests.text.topics.conftest import store_texts

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CEM_DATABASE_URL", url)
    monkeypatch.setenv("CEM_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    monkeypatch.setattr(vectors, "default_embed", airline.embed())
    db = Database(Settings(database_url=url, data_dir=tmp_path))
    from cem.db import migrate

    migrate.upgrade(db.engine)
    from cem.admin import service as admin_service

    with db.unit_of_work() as session:
        ws = admin_service.ensure_workspace(session, slug="acme", name="Acme").id
    store_texts(db, ws, airline.texts)
    result = CliRunner().invoke(
        app, ["text", "discover", "--workspace", "acme", "--seed", "1", "--min-topic-size", "8"]
    )
    assert result.exit_code == 0, result.output
    assert "topics" in result.output and f"from {len(airline.texts)} texts" in result.output
    queued = CliRunner().invoke(app, ["text", "discover", "--workspace", "acme", "--background"])
    assert queued.exit_code == 0 and "Queued topic discovery as job" in queued.output
    bad = CliRunner().invoke(app, ["text", "discover", "--workspace", "nope"])
    assert bad.exit_code != 0 and "nope" in bad.output
    db.dispose()
