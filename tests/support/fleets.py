"""A local fleet registered and deployed, as `make register` does it: `python -m provisioning register` (identities,
manifest), then `python -m deploy write` (compose.env, shards, generated services) from that manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deploy.deployment import Deployment, write_deployment
from deploy.settings import BrokerLimits
from fleetcore.manifest import FleetManifest
from provisioning.register_local import LocalFleetRequest, Outcome, register_local


@dataclass
class Registered:
    """Both steps' outcomes; `written` / `removed` are the union of the files each changed."""

    identities: Outcome
    deployment: Deployment

    @property
    def manifest(self) -> FleetManifest:
        return self.identities.manifest

    @property
    def written(self) -> list[Path]:
        return [*self.identities.written, *self.deployment.written]

    @property
    def removed(self) -> list[Path]:
        return [*self.identities.removed, *self.deployment.removed]

    @property
    def groups(self) -> int:
        return self.deployment.groups

    @property
    def cycling(self) -> str | None:
        return self.identities.cycling


def register_fleet(fleet_dir: Path, data_dir: Path, count: int = 5, per: int = 1, **request: object) -> Registered:
    """Register `count` stations (LocalFleetRequest fields in `request`) and write their deployment with `per`
    stations per container; a dry run writes neither."""
    req = LocalFleetRequest(fleet_dir=Path(fleet_dir), data_dir=Path(data_dir), count=count,
                            **request)  # type: ignore[arg-type]
    identities = register_local(req)
    deployment = write_deployment(req.fleet_dir, req.data_dir, identities.manifest, per, broker=BrokerLimits(),
                                  dry_run=req.dry_run)
    return Registered(identities, deployment)
