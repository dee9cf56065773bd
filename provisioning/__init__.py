"""Device identities for the fleet: local CA or AWS IoT Core, the fleet manifest, teardown."""
