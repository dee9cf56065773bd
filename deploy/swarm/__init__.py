"""The fleet on Docker Swarm: a stack file generated from the manifest (`stack`), the engine operations that
deploy and remove it (`engine`), and the `python -m provisioning stack ...` commands (`commands`).

See docs/swarm.md. Invariants: every station service runs exactly one task (`replicas: 1`) and holds exactly the
identities of its own thing (or shard) as Docker secrets; the CA private key never becomes a secret.
"""
