"""Commands of this area (placeholder until built)."""
