"""AWS IoT Core provisioning: register a fleet (direct or bulk), least-privilege policy, exact teardown, cost.

Entry points for the `fleet` CLI are in `provisioning.aws.commands`; `python -m provisioning.aws` runs them alone.
Everything created is recorded in the fleet manifest (`fleetcore.manifest`) as it is created, so
`unregister` deletes exactly that fleet and nothing else in the account.
"""
