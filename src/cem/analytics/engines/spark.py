"""The Apache Spark engine: the same metric declarations as Spark SQL over the Parquet snapshot.

pyspark is an optional extra (`pip install cem[spark]`). The SQL text is cem.analytics.engines.flat's, the
same DuckDB runs; only the JSON attribute accessor differs. Spark runs in local mode unless `master` says
otherwise, offline (no package downloads), with the UI off and few shuffle partitions: metric aggregates are
small, and the default 200 partitions would only add scheduling time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cem.analytics.dimensions import RECORD_TOPIC_COLUMNS
from cem.analytics.engines import flat
from cem.analytics.engines.base import AggregateQuery, AggregateRow
from cem.analytics.snapshot import SnapshotFiles, empty_table_sql
from cem.analytics.sources import SOURCES
from cem.errors import InvalidInput

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_session(master: str = "local[2]", *, app_name: str = "cem-metrics") -> SparkSession:
    """A Spark session for metric queries (UTC, no UI, no downloads); raises InvalidInput without pyspark."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise InvalidInput("The Spark engine needs pyspark: pip install 'cem[spark]' (Java 17 or later).") from exc
    builder: Any = SparkSession.builder
    try:
        session = _configured(builder, master, app_name).getOrCreate()
        session.sparkContext.setLogLevel("ERROR")  # metric output, not Spark's warnings, on the terminal
        return session
    except Exception as exc:  # py4j/JVM start-up failures carry no common type
        raise InvalidInput(f"Spark could not start ({type(exc).__name__}: {exc}); it needs Java 17 or later.") from exc


def _configured(builder: Any, master: str, app_name: str) -> Any:
    return (
        builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.jars.ivy", "/nonexistent-no-downloads")
        .config("spark.sql.parquet.inferTimestampNTZ.enabled", "true")
    )


class SparkEngine:
    """Runs the flat SQL of a metric's aggregates in Spark over temp views of the snapshot's files."""

    name = "spark"

    def __init__(self, spark: SparkSession, files: SnapshotFiles) -> None:
        self.spark = spark
        spark.read.parquet(*files.feedback).createOrReplaceTempView("feedback")
        spark.read.parquet(files.customers).createOrReplaceTempView("customers")
        spark.read.parquet(files.touchpoints).createOrReplaceTempView("touchpoints")
        if files.record_topics:
            spark.read.parquet(files.record_topics).createOrReplaceTempView("record_topics")
        else:  # a snapshot written before topics were exported: no record has one
            empty = empty_table_sql(RECORD_TOPIC_COLUMNS).replace("VARCHAR", "STRING")
            spark.sql(empty).createOrReplaceTempView("record_topics")
        exported = dict(files.sources)
        for source in SOURCES.values():
            if source.table in exported:
                spark.read.parquet(exported[source.table]).createOrReplaceTempView(source.table)
            else:  # a snapshot written without this source reads it as empty
                empty = empty_table_sql(source.columns).replace("VARCHAR", "STRING")
                spark.sql(empty).createOrReplaceTempView(source.table)

    def aggregate(self, query: AggregateQuery) -> list[AggregateRow]:
        """One row per non-empty (day, segment) cell."""
        sql = flat.build(query, "spark")
        raw = [tuple(row) for row in self.spark.sql(sql.text, args=sql.params).collect()]
        return flat.to_rows(query, sql.n_dims, raw)
