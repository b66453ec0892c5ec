"""Churn between customer segments on the real IBM Telco data (7,043 customers, 26.54 % churned)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from statistics import NormalDist

import pytest
from fastapi.testclient import TestClient

from cem.demo import telco
from cem.demo.loader import store_batch
from tests.conftest import Workspace


def test_churn_by_contract_on_the_real_telco_customers(
    workspace: Workspace, admin_api: TestClient, shared_data: Path
) -> None:
    store_batch(workspace.db, actor=workspace.principal(), batch=telco.telco_batch(telco.read_table(shared_data)))
    with telco.path(shared_data).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 7043
    assert sum(r["Churn"] == "Yes" for r in rows) / len(rows) == pytest.approx(0.2654, abs=5e-5)
    counts: dict[str, tuple[int, int]] = {}
    for contract in {r["Contract"] for r in rows}:
        group = [r for r in rows if r["Contract"] == contract]
        counts[contract] = (sum(r["Churn"] == "Yes" for r in group), len(group))

    params = {"metric": "churn_rate", "variant_source": "customer", "variant_key": "Contract", "control": "Two year"}
    body = admin_api.get("/api/v1/analyses/compare", params=params).json()
    variants = {v["variant"]: v for v in body["variants"]}
    assert set(variants) == set(counts) == {"Month-to-month", "One year", "Two year"}
    for contract, (churned, n) in counts.items():
        assert variants[contract]["n"] == n
        assert variants[contract]["value"] == pytest.approx(100 * churned / n)
    monthly = next(c for c in body["comparisons"] if c["variant"] == "Month-to-month")
    p1, n1 = counts["Month-to-month"][0] / counts["Month-to-month"][1], counts["Month-to-month"][1]
    p2, n2 = counts["Two year"][0] / counts["Two year"][1], counts["Two year"][1]
    z = (p1 - p2) / math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    assert monthly["test"] == "z_proportion"
    assert monthly["difference"] == pytest.approx(100 * (p1 - p2))
    assert monthly["p_value"] == pytest.approx(2 * (1 - NormalDist().cdf(abs(z))))
    # Month-to-month customers churn far more: about 43 % against 3 % on two-year contracts.
    assert monthly["lower"] > 35 and monthly["significant"] is True
