"""`cem text sentiment`: any CSV in, the same CSV plus sentiment columns out, no database; clear errors otherwise."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cem.cli import app

ROWS = [
    {"id": "1", "comment": "Péssimo, o produto chegou quebrado e ninguém responde.", "stars": "1"},
    {"id": "2", "comment": "Excellent service, the crew was lovely and we landed early!", "stars": "5"},
    {"id": "3", "comment": "", "stars": "3"},
    {"id": "4", "comment": "Produto excelente, chegou antes do prazo. Recomendo!", "stars": "5"},
]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["text", "sentiment", *args])
    return result.exit_code, result.output


def test_adds_sentiment_columns(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", ROWS)
    out = tmp_path / "out.csv"
    code, output = run("--input", str(source), "--column", "comment", "--output", str(out))
    assert code == 0, output
    rows = read_csv(out)
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]
    assert [r["stars"] for r in rows] == ["1", "5", "3", "5"]  # input columns kept as they were
    assert [r["sentiment_label"] for r in rows] == ["negative", "positive", "", "positive"]
    assert float(rows[0]["sentiment_score"]) < -0.5 < 0.5 < float(rows[1]["sentiment_score"])
    assert rows[2]["sentiment_score"] == ""
    assert "Wrote 4 rows" in output


def test_vader_leaves_portuguese_blank(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", ROWS)
    out = tmp_path / "out.csv"
    code, output = run("-i", str(source), "-c", "comment", "-o", str(out), "--model", "vader")
    assert code == 0, output
    assert [r["sentiment_label"] for r in read_csv(out)] == ["", "positive", "", ""]


def test_existing_sentiment_columns_are_replaced(tmp_path: Path) -> None:
    rows = [{"text": "Terrible delay, awful service", "sentiment_label": "positive", "sentiment_score": "1"}]
    out = tmp_path / "out.csv"
    code, _ = run("-i", str(write_csv(tmp_path / "in.csv", rows)), "-c", "text", "-o", str(out), "--model", "vader")
    assert code == 0
    result = read_csv(out)
    assert list(result[0]) == ["text", "sentiment_label", "sentiment_score"]
    assert result[0]["sentiment_label"] == "negative"


@pytest.mark.parametrize(
    ("setup", "column", "message"),
    [
        ("missing", "comment", "Input file not found"),
        ("good", "review", "Column 'review' not found"),
        ("latin1", "comment", "is not UTF-8"),
        ("empty", "comment", "is empty"),
        ("folder", "comment", "Input file not found"),
    ],
)
def test_bad_inputs_write_nothing(tmp_path: Path, setup: str, column: str, message: str) -> None:
    source = tmp_path / "in.csv"
    if setup == "good":
        write_csv(source, ROWS)
    elif setup == "latin1":
        source.write_bytes("comment\nPéssimo atendimento\n".encode("latin-1"))
    elif setup == "empty":
        source.write_text("", encoding="utf-8")
    elif setup == "folder":
        source.mkdir()
    out = tmp_path / "out.csv"
    code, output = run("--input", str(source), "--column", column, "--output", str(out))
    assert code == 2
    assert message in output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != "in.csv"] == []


def test_bad_output_and_model(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", ROWS)
    code, output = run("-i", str(source), "-c", "comment", "-o", str(source))
    assert code == 2 and "different file" in output
    code, output = run("-i", str(source), "-c", "comment", "-o", str(tmp_path / "nope" / "out.csv"))
    assert code == 2 and "Output folder not found" in output
    code, output = run("-i", str(source), "-c", "comment", "-o", str(tmp_path / "o.csv"), "--model", "bert")
    assert code == 2 and "Unknown sentiment model 'bert'" in output
    assert read_csv(source) == ROWS  # the input is never touched
