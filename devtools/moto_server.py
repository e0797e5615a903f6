"""moto in server mode on loopback: DynamoDB, SES and API Gateway management for the local stack."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from devtools.environment import DUMMY_AWS
from devtools.processes import LOOPBACK, Child, free_port, python_module, spawn, stop, wait_until_ready


def moto_argv(host: str, port: int) -> list[str]:
    """moto server with atomic request handling (see devtools/moto_atomic.py for why)."""
    return python_module("devtools.moto_atomic", "-H", host, "-p", str(port))


def start_moto(port: int | None = None, host: str = LOOPBACK, env: Mapping[str, str] | None = None,
               log_path: Path | None = None, timeout: float = 30.0) -> Child:
    """Start moto_server and wait until it answers. Raises RuntimeError if it does not come up."""
    port = port or free_port(host)
    url = f"http://{host}:{port}"
    child_env = {**(os.environ if env is None else env), **DUMMY_AWS}
    child = spawn("moto", moto_argv(host, port), child_env, log_path=log_path, url=url)
    try:
        # moto's dashboard API answers without credentials as soon as the server accepts requests.
        wait_until_ready(child, f"{url}/moto-api/", timeout=timeout)
    except Exception:
        stop(child)
        raise
    return child
