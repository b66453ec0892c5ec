"""Every DuckDB connection cem opens: offline and quiet."""

from __future__ import annotations

import duckdb


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that never downloads an extension and never draws a progress bar.

    (DuckDB would otherwise fetch missing extensions from the network, and print its progress bar to the
    terminal of whatever cem command runs a long query.)
    """
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("SET enable_progress_bar = false")
    return con
