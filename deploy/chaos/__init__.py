"""Fleet faults on the running compose fleet (issue 20, `make chaos`) and collecting its stations' state files
(`make audit`).

- `docker`   the few Docker CLI calls used (containers by compose project label, pause, kill, network cut, copy);
- `plan`     the seeded schedule: a scenario's `fleet:` section resolved against the project's services;
- `runner`   executes a plan on a clock, records every action in the ground truth as it happens and restores
             what it changed (unpause, reconnect, start) when done, on SIGINT/SIGTERM or on an error;
- `collect`  copies each station/group container's STATE_DIR into a host folder for `pipeline audit`;
- `cli`      `python -m deploy.chaos run|collect-state`.
"""
