"""`cem import` of a CSV with an NPS column, then `cem metrics`: the adjusted-Wald figures, exactly."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cem.cli import app
from cem.config import Settings, get_settings
from tests.conftest import Workspace

Z95 = 1.959963984540054
# 18 promoters (9-10), 12 passives (7-8), 10 detractors (0-6): n = 40.
SCORES = [10] * 10 + [9] * 8 + [8] * 7 + [7] * 5 + [6] * 4 + [3] * 3 + [0] * 3


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, workspace: Workspace) -> Iterator[CliRunner]:
    monkeypatch.setenv("CEM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CEM_DATABASE_URL", settings.resolved_database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


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
