"""`make dashboard-live`: a page on 127.0.0.1 that refreshes from Prometheus' HTTP API and the lake (DuckDB)."""
