"""The compose files as each installed compose implementation reads them (no container started): the broker
and the stations are the same service whether compose.pipeline.yaml is merged in or not, so no order of `make up`
and `make lake-up` (nor a hand-run compose command) recreates them (issue 10, item 5)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.compose_fleet import REPO, compose_implementations

IMPLEMENTATIONS = compose_implementations()


def _config(compose: list[str], *files: str, tmp_path: Path) -> dict:
    import yaml

    env_file = tmp_path / "compose.env"
    env_file.write_text("")
    out = subprocess.run([*compose, "--env-file", str(env_file), *(a for f in files for a in ("-f", str(REPO / f))),
                          "--profile", "pipeline", "config"], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/local/bin:/usr/bin:/bin", "FLEET_DIR": str(tmp_path / "fleet"),
                              "DATA_DIR": str(tmp_path / "data"), "COMPOSE_PROJECT_NAME": "wf-config"})
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)["services"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS) or [pytest.param("none", marks=pytest.mark.skip)])
def test_broker_and_stations_are_the_same_with_or_without_the_pipeline_file(implementation: str,
                                                                           tmp_path: Path) -> None:
    compose = IMPLEMENTATIONS[implementation]
    alone = _config(compose, "compose.yaml", tmp_path=tmp_path)
    merged = _config(compose, "compose.yaml", "compose.pipeline.yaml", tmp_path=tmp_path)
    assert "lake" in merged
    for service in ("broker", "station-1", "station-5"):
        assert merged[service] == alone[service], service


@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS) or [pytest.param("none", marks=pytest.mark.skip)])
def test_station_restarts_are_bounded(implementation: str, tmp_path: Path) -> None:
    services = _config(IMPLEMENTATIONS[implementation], "compose.yaml", tmp_path=tmp_path)
    for name in ("station-1", "station-5"):
        restart = services[name]["restart"]
        assert restart == "on-failure:3", (name, restart)
