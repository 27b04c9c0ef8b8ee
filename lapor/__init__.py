"""LAPOR: one deployment serving every pemda and ministry as an isolated PostgreSQL schema."""

__version__ = "0.1.0"
