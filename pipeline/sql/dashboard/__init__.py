"""Queries behind the local dashboard (Athena dialect, translated for DuckDB)."""
