"""The fleet's Prometheus: scrape configuration and rules generated from the fleet, and its compose profile."""
