"""cem: self-hosted Customer Experience Management."""

__version__ = "0.1.0"
