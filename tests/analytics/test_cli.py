"""`cem import` of a CSV with an NPS column, then `cem metrics`: the adjusted-Wald figures, exactly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cem.cli import app

Z95 = 1.959963984540054
# 18 promoters (9-10), 12 passives (7-8), 10 detractors (0-6): n = 40.
SCORES = [10] * 10 + [9] * 8 + [8] * 7 + [7] * 5 + [6] * 4 + [3] * 3 + [0] * 3


@pytest.fixture
def imported(cli: CliRunner, tmp_path: Path) -> CliRunner:
    data = tmp_path / "survey.csv"
    lines = ["submission_id,nps"] + [f"r{i},{score}" for i, score in enumerate(SCORES)]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli.invoke(app, ["import", str(data), "--workspace", "acme"])
    assert result.exit_code == 0, result.output
    assert "40 stored" in result.output
    return cli


def test_import_then_metrics_json_gives_adjusted_wald(imported: CliRunner) -> None:
    result = imported.invoke(app, ["metrics", "nps", "--workspace", "acme", "--format", "json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["rows"]
    # n' = 43, p' = 18.75/43, d' = 10.75/43, NPS' = 8/43, Var' = (29.5/43 - (8/43)^2) / 43
    p_adj, d_adj = 18.75 / 43, 10.75 / 43
    var_adj = (p_adj + d_adj - (p_adj - d_adj) ** 2) / 43
    assert var_adj == pytest.approx((29.5 / 43 - 64 / 1849) / 43)
    half = Z95 * math.sqrt(var_adj)
    assert row["value"] == pytest.approx(100 * (18 - 10) / 40)  # 20.0
    assert row["lower"] == pytest.approx(100 * (8 / 43 - half), abs=1e-9)
    assert row["upper"] == pytest.approx(100 * (8 / 43 + half), abs=1e-9)
    assert row["n"] == 40


def test_metrics_table_and_csv(imported: CliRunner) -> None:
    table = imported.invoke(app, ["metrics", "nps", "--workspace", "acme", "--by", "source_type"])
    assert table.exit_code == 0, table.output
    assert "Net Promoter Score" in table.output and "csv" in table.output and "20.0" in table.output
    small = imported.invoke(app, ["metrics", "nps", "--workspace", "acme", "--min-n", "41"])
    assert "not enough data" in small.output
    out = imported.invoke(app, ["metrics", "feedback_volume", "--workspace", "acme", "--format", "csv"])
    assert out.output.splitlines() == ["value,lower,upper,n", "40.0,,,40"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "Unknown metric 'nope'; known metrics:"),
        (["nps", "--format", "xml"], "Unknown format 'xml'"),
        (["nps", "--interval", "fortnight"], "--interval:"),
        (["nps", "--by", "colour"], "Cannot group by that"),
        (["nps", "--filter", "colour"], "Bad filter"),
        (["nps", "--from", "yesterday"], "--from:"),
        (["nps", "--compare-to", "previous"], "needs an interval"),
        (["nps", "--workspace", "nowhere"], "nowhere"),
    ],
)
def test_bad_arguments_are_readable(cli: CliRunner, args: list[str], message: str) -> None:
    workspace = [] if "--workspace" in args else ["--workspace", "acme"]
    result = cli.invoke(app, ["metrics", *args, *workspace])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_duckdb_engine_gives_the_same_figures(imported: CliRunner) -> None:
    args = ["metrics", "nps", "--workspace", "acme", "--format", "json"]
    sql = json.loads(imported.invoke(app, args).output)
    duck = imported.invoke(app, [*args, "--engine", "duckdb"])
    assert duck.exit_code == 0, duck.output
    assert json.loads(duck.output)["engine"] == "duckdb" and sql["engine"] == "sql"
    assert json.loads(duck.output)["rows"] == sql["rows"]
    spark = imported.invoke(app, [*args, "--engine", "spark"])
    assert spark.exit_code == 0, spark.output
    assert json.loads(spark.output)["engine"] == "spark"
    assert json.loads(spark.output)["rows"] == sql["rows"]
    bad = imported.invoke(app, [*args, "--engine", "hive"])
    assert bad.exit_code == 2 and "Unknown engine 'hive'" in bad.output


def _adjusted(promoters: int, detractors: int, n: int) -> tuple[float, float]:
    p, d = (promoters + 0.75) / (n + 3), (detractors + 0.75) / (n + 3)
    return p - d, (p + d - (p - d) ** 2) / (n + 3)


def test_compare_to_previous_month_with_filter_gives_the_z_test(cli: CliRunner, tmp_path: Path) -> None:
    # January: 10 promoters, 10 detractors; February: 16 promoters, 4 detractors; plus 7 from another source.
    answers = [("app", "2026-01-15", s) for s in [10] * 10 + [0] * 10]
    answers += [("app", "2026-02-15", s) for s in [10] * 16 + [0] * 4]
    answers += [("web", "2026-02-15", 0)] * 7
    data = tmp_path / "answers.ndjson"
    lines = [
        {"source_type": "csv", "source_name": source, "submission_id": f"r{i}", "field_id": "nps",
         "field_type": "nps", "value": score, "collected_at": f"{day}T10:00:00Z"}
        for i, (source, day, score) in enumerate(answers)
    ]  # fmt: skip
    data.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    result = cli.invoke(app, ["import", str(data), "--workspace", "acme"])
    assert result.exit_code == 0, result.output
    args = ["metrics", "nps", "--workspace", "acme", "--interval", "month", "--compare-to", "previous"]
    out = cli.invoke(app, [*args, "--filter", "source=app", "--min-n", "5", "--format", "json"])
    assert out.exit_code == 0, out.output
    january, february = json.loads(out.output)["rows"]
    assert (january["bucket"], january["n"], january["value"]) == ("2026-01-01", 20, 0.0)
    assert (february["n"], february["value"], february["change"]) == (20, 60.0, 60.0)
    (x1, v1), (x0, v0) = _adjusted(16, 4, 20), _adjusted(10, 10, 20)
    z = (x1 - x0) / math.sqrt(v1 + v0)
    assert february["p_value"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), abs=1e-12)
    assert {"value", "lower", "upper", "n", "p_value"} <= february.keys()
    every = cli.invoke(app, [*args, "--min-n", "5", "--format", "json"])
    assert json.loads(every.output)["rows"][1]["n"] == 27  # without the filter the web answers count too
