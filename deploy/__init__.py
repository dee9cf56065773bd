"""Deployment: what turns the fleet manifest into running containers (compose.env, compose services, shards,
the Swarm stack, the broker ACL reload, the lake folder ownership). Imports only fleetcore."""
