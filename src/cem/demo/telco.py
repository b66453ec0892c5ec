"""IBM Telco customers: every column as a customer attribute (numbers as numbers) plus a `churned` flag."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cem.customers.schemas import CustomerRef
from cem.demo.program import DemoBatch
from cem.demo.sources import CsvTable, at_row, parse_number, read_csv

FOLDER = "telco-churn"
FILE = "WA_Fn-UseC_-Telco-Customer-Churn.csv"
COLUMNS = ("customerID", "tenure", "Contract", "MonthlyCharges", "TotalCharges", "Churn")
CHURN = {"Yes": True, "No": False}


def path(folder: Path) -> Path:
    """Where the Telco file sits inside the data folder."""
    return folder / FOLDER / FILE


def read_table(folder: Path) -> CsvTable:
    """Read the Telco file, insisting on the columns the demo uses."""
    return read_csv(path(folder), COLUMNS)


def telco_batch(table: CsvTable, *, synthetic: bool = False) -> DemoBatch:
    """One customer `telco:<customerID>` per row."""
    customers = []
    for line, row in table:
        with at_row(table.name, line):
            customer_id = row["customerID"].strip()
            if not customer_id:
                raise ValueError("customerID is empty")
            if row["Churn"] not in CHURN:
                raise ValueError(f"Churn must be Yes or No, not {row['Churn']!r}")
            attributes = {key: _value(text) for key, text in row.items()}
            attributes["churned"] = CHURN[row["Churn"]]
            customers.append(CustomerRef(external_id=f"telco:{customer_id}", attributes=attributes))
    return DemoBatch(
        name="telco customers" if not synthetic else "synthetic telco", customers=customers, synthetic=synthetic
    )


def _value(text: str) -> Any:
    """Numbers as numbers; a blank (TotalCharges is " " for brand-new customers) as null; the rest as text."""
    if not text.strip():
        return None
    try:
        return parse_number(text)
    except ValueError:
        return text.strip()
