"""Airline tweets as social feedback: one text record per tweet, the author as a `twitter:<name>` customer."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from cem.customers.schemas import CustomerRef
from cem.demo.program import DemoBatch
from cem.demo.sources import CsvTable, Row, at_row, parse_number, parse_timestamp, read_csv
from cem.feedback.schemas import FeedbackIn

FOLDER = "airline-tweets-sample"
FILE = "Tweets_sample_every7th_2000.csv"
COLUMNS = (
    "tweet_id",
    "airline_sentiment",
    "airline_sentiment_confidence",
    "negativereason",
    "airline",
    "name",
    "retweet_count",
    "text",
    "tweet_created",
    "tweet_location",
    "user_timezone",
)


def path(folder: Path) -> Path:
    """Where the tweets file sits inside the data folder."""
    return folder / FOLDER / FILE


def read_table(folder: Path) -> CsvTable:
    """Read the tweets file, insisting on the columns the demo uses."""
    return read_csv(path(folder), COLUMNS)


def social_batch(table: CsvTable, *, source_name: str, synthetic: bool = False) -> DemoBatch:
    """Tweets -> customers and feedback; the human sentiment label goes to metadata, not the enrichment columns."""
    tweets = _one_per_tweet(table)
    refs: dict[str, CustomerRef] = {}
    feedback = []
    for line, row, copies in tweets:
        with at_row(table.name, line):
            name = row["name"].strip()
            who = refs.setdefault(name, CustomerRef(external_id=f"twitter:{name}", name=name))
            feedback.append(
                FeedbackIn(
                    source_type="social",
                    source_name=source_name,
                    submission_id=row["tweet_id"],
                    customer=who,
                    collected_at=parse_timestamp(row["tweet_created"]),
                    field_id="text",
                    field_label="Tweet",
                    field_type="text",
                    # The export keeps Twitter's HTML escaping (&amp;); store what the customer typed.
                    value=html.unescape(row["text"]),
                    language="en",
                    metadata=_metadata(row, copies),
                )
            )
    return DemoBatch(
        name="airline tweets" if not synthetic else "synthetic social",
        customers=list(refs.values()),
        feedback=feedback,
        synthetic=synthetic,
    )


def _one_per_tweet(table: CsvTable) -> list[tuple[int, Row, int]]:
    """Some tweets were labelled twice with different answers; keep the most confident label."""
    best: dict[str, tuple[float, int, Row, int]] = {}
    for line, row in table:
        with at_row(table.name, line):
            if not row["tweet_id"].strip() or not row["name"].strip():
                raise ValueError("tweet_id and name must not be empty")
            confidence = float(row["airline_sentiment_confidence"] or 0)
            seen = best.get(row["tweet_id"])
            copies = seen[3] + 1 if seen else 1
            if seen is None or confidence > seen[0]:
                best[row["tweet_id"]] = (confidence, line, row, copies)
            else:
                best[row["tweet_id"]] = (*seen[:3], copies)
    return [(line, row, copies) for _, line, row, copies in best.values()]


def _metadata(row: Row, copies: int) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "airline": row["airline"],
        "airline_sentiment": row["airline_sentiment"],
        "airline_sentiment_confidence": parse_number(row["airline_sentiment_confidence"]),
        "retweet_count": parse_number(row["retweet_count"]) or 0,
    }
    for key in ("negativereason", "tweet_location", "user_timezone"):
        if row[key].strip():
            meta[key] = row[key].strip()
    if copies > 1:
        meta["label_rows"] = copies
    return meta
