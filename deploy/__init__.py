"""Running the fleet on Docker: what acts on its containers from outside (issue 20's fleet faults, state collection)."""
