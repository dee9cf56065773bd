"""The broker on this host's loopback: a small TCP relay container beside the stack.

Swarm publishes ports on every interface of every node (it cannot bind 127.0.0.1: moby/moby#32299), so the stack
publishes none. `swarm-up` instead runs one plain container on this host, attached to the stack's (attachable)
overlay network, that forwards 127.0.0.1:BROKER_PORT to `broker:8883` byte for byte: TLS stays end to end, and
`make watch`, `make lake` and the tests reach the broker as with compose. It runs the station image's Python.
"""

from __future__ import annotations

from deploy.swarm.engine import docker
from deploy.swarm.errors import SwarmError
from deploy.swarm.stack import NETWORK, STACK_LABEL

PORT_LABEL = "com.weather-fleet.relay-port"

RELAY_SCRIPT = """
import asyncio
async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
async def handle(client_reader, client_writer):
    try:
        broker_reader, broker_writer = await asyncio.open_connection("broker", 8883)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, broker_writer), pipe(broker_reader, client_writer))
async def main():
    server = await asyncio.start_server(handle, "0.0.0.0", 8883)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


def relay_name(stack: str) -> str:
    return f"{stack}-broker-relay"


def relay_command(stack: str, port: int, image: str) -> list[str]:
    """The `docker run` of the relay: published on 127.0.0.1 only, read-only, no capabilities."""
    return ["docker", "run", "-d", "--name", relay_name(stack), "--label", f"{STACK_LABEL}={stack}",
            "--label", f"{PORT_LABEL}={port}", "--network", f"{stack}_{NETWORK}", "-p", f"127.0.0.1:{port}:8883",
            "--restart", "unless-stopped", "--read-only", "--cap-drop", "ALL", "--user", "10001:10001",
            "--entrypoint", "python3", image, "-c", RELAY_SCRIPT]


def _current(stack: str) -> tuple[str, str] | None:
    """(state, port) of an existing relay, or None."""
    out = docker("ps", "-a", "--filter", f"name=^{relay_name(stack)}$", "--format",
                 f'{{{{.State}}}} {{{{.Label "{PORT_LABEL}"}}}}').split()
    return (out[0], out[1]) if len(out) == 2 else None


def start_relay(stack: str, port: int, image: str) -> None:
    """Start the relay, or keep a running one with the same port (monitors stay connected across deploys)."""
    current = _current(stack)
    if current == ("running", str(port)):
        return
    if current is not None:
        docker("rm", "-f", relay_name(stack))
    try:
        docker(*relay_command(stack, port, image)[1:])
    except SwarmError as exc:
        docker("rm", "-f", relay_name(stack), check=False)
        raise SwarmError(f"the stack is deployed, but 127.0.0.1:{port} cannot be published for the broker ({exc}); "
                         f"set BROKER_PORT to a free port and run `make swarm-up` again") from None
    print(f"broker relayed to 127.0.0.1:{port} (container {relay_name(stack)})")


def remove_relay(stack: str) -> None:
    if _current(stack) is not None:
        docker("rm", "-f", relay_name(stack))
