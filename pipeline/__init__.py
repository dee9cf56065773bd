"""Downstream analytics: the local lake, SQL and dashboard, and the AWS deployment."""
