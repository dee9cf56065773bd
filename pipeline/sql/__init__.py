"""The lab's SQL, one dialect (Athena for queries, AWS IoT SQL for rules); loaded by `pipeline.queries`."""
