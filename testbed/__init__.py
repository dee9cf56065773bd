"""The real parts the tests and the benchmarks (scripts/bench_*.py) both run, outside `tests/` so scripts never
import tests (issue 19 §5): a Mosquitto broker with a throw-away CA (`broker`, `certs`), an MQTT5 subscriber
(`mqtt`), station processes (`station`), moto_server with AWS-like patches (`moto_iot`), compose projects
(`compose_fleet`) and a Swarm of network namespaces (`netns_swarm`).

Development only: not installed (pyproject.toml's package list), never copied into an image, and no product
package imports it (tests/test_architecture.py). tests/support re-exports each module for the tests.
"""
