"""Deployment: what turns the fleet manifest into running containers (compose.env, compose services, shards, the
Swarm stack, Prometheus, the broker ACL reload, the lake folder ownership) and what acts on those containers from
outside (`deploy.chaos`: issue 20's fleet faults, state collection). Imports only fleetcore."""
