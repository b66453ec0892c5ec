"""Background tasks of CSV imports (placeholder until built)."""
