"""Text analytics, offline: language detection, sentiment, PII redaction (models ship inside installed packages)."""
