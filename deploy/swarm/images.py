"""Image names for the stack: local images on a single-node swarm, `REGISTRY/<name>` pushed there otherwise.

Every node pulls a service's image itself, so on a swarm of several nodes the images must be in a registry all
nodes reach: `REGISTRY=host:port make swarm-up` tags the local images `host:port/<name>` and pushes them before
deploying. Without REGISTRY the local names are used (`docker stack deploy --resolve-image never`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deploy.swarm.errors import SwarmError
from deploy.swarm.stack import Images

_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9._/-]+)?$")


@dataclass(frozen=True)
class ImagePlan:
    """The images the stack names, and the commands that put them in the registry (none without one)."""

    images: Images
    commands: tuple[tuple[str, ...], ...]
    resolve_image: str


def _without_registry(image: str) -> str:
    """`host:5000/a/b:t` -> `a/b:t`; `a/b:t` and `a:t` unchanged (the first part is a host when it has . or :)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return rest
    return image


def registry_name(registry: str, image: str) -> str:
    """The name of `image` in `registry` (host:port[/path])."""
    if not _REGISTRY.match(registry):
        raise SwarmError(f"REGISTRY={registry!r} is not host:port (for example REGISTRY=registry.lan:5000)")
    return f"{registry.rstrip('/')}/{_without_registry(image)}"


def plan_images(local: Images, registry: str | None, *, broker: bool, pipeline: bool) -> ImagePlan:
    """What `swarm-up` deploys: the local names, or the registry's after `docker tag` + `docker push`."""
    if not registry:
        return ImagePlan(local, (), "never")
    used = [("station", local.station)]
    if broker:
        used.append(("broker", local.broker))
    if pipeline:
        used.append(("pipeline", local.pipeline))
    remote = {role: registry_name(registry, image) for role, image in used}
    commands: list[tuple[str, ...]] = []
    for role, image in used:
        commands += [("docker", "tag", image, remote[role]), ("docker", "push", remote[role])]
    images = Images(station=remote["station"], broker=remote.get("broker", local.broker),
                    pipeline=remote.get("pipeline", local.pipeline))
    return ImagePlan(images, tuple(commands), "always")


PYTHON_BASE = "python:3.12-slim"
DEBIAN_BASE = "debian:bookworm-slim"


def build_commands(local: Images, base_image: str | None, *, broker: bool, pipeline: bool) -> list[list[str]]:
    """`docker build` of the station image, the broker's (local target) and the pipeline's (PIPELINE=1), from
    BASE_IMAGE when set (`make swarm-images`; run from the repository)."""
    def build(base: str, tag: str, *where: str) -> list[str]:
        return ["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base_image or base}", *where[:-1], "-t", tag,
                where[-1]]
    commands = [build(PYTHON_BASE, local.station, "-f", "docker/station/Dockerfile", ".")]
    if broker:
        commands.append(build(DEBIAN_BASE, local.broker, "docker/broker"))
    if pipeline:
        commands.append(build(PYTHON_BASE, local.pipeline, "-f", "docker/pipeline/Dockerfile", "."))
    return commands
