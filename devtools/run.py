"""`make run`: the whole local stack in one command; Ctrl-C stops everything it started.

moto server (DynamoDB, SES, API Gateway management) -> tables from the models -> demo seed -> the local API,
plus the optional components below whose modules exist (each gets a free port and exports its URL to the
API's environment). Prints the URLs and demo tokens and writes `.local/demo-tokens.json`.

A crashed API, Stripe stub or websocket gateway is restarted on its port with moto's data kept
(devtools/supervisor.py); `kill -HUP <make run's pid>` restarts the API alone (e.g. after a code change).
If moto itself dies, the stack stops and says so: its data cannot be rebuilt.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from devtools.environment import local_stack_env
from devtools.moto_server import start_moto
from devtools.processes import (LOOPBACK, PROJECT_DIR, Child, free_port, python_module, spawn, stop, stop_all,
                                wait_until_ready)
from devtools.supervisor import StackStopped, Supervisor

TOKENS_FILE = PROJECT_DIR / ".local" / "demo-tokens.json"
LOG_DIR = PROJECT_DIR / ".local" / "logs"


@dataclass(frozen=True)
class Component:
    """An optional local stand-in started with `python -m <module>`, if that module exists.

    The module's `main()` reads PORT (and the stack's environment) and serves on 127.0.0.1:PORT.
    `exports` maps env var names to templates filled with {url} / {host} / {port}; they are added to the
    environment of every process started after it (the API reads them through Settings).
    """
    name: str
    module: str
    exports: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/"  # polled until it answers any HTTP status; "" = wait for the TCP port only
    local_port: int = 0  # `make run` serves it here when the port is free (env `port_env` overrides)
    port_env: str = ""

    def preferred_port(self) -> int | None:
        """The fixed port `make run` prints for this component, or None when it is taken."""
        from devtools.processes import port_is_open

        port = int(os.environ.get(self.port_env, "0") or 0) if self.port_env else 0
        port = port or self.local_port
        return port if port and not port_is_open(LOOPBACK, port) else None

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


OPTIONAL_COMPONENTS: tuple[Component, ...] = (
    Component("stripe-stub", "devtools.stripe_stub", exports={"STRIPE_API_BASE": "{url}"},
              local_port=12111, port_env="STRIPE_STUB_PORT"),
    Component("ws-gateway", "devtools.ws_gateway", exports={"WEBSOCKET_MANAGEMENT_ENDPOINT": "{url}",
                                                             "WEBSOCKET_URL": "ws://{host}:{port}"},
              ready_path="", local_port=8001, port_env="WS_PORT"),
    # Shows every e-mail the app sent (read from moto's SES): HTML at /, JSON at /messages.
    Component("mailbox", "devtools.mailbox", exports={"MAILBOX_URL": "{url}"}, local_port=8025,
              port_env="MAILBOX_PORT"),
    # After the gateway (it pushes through it). The API delivers realtime from the requests stream, as in AWS,
    # only when this poller runs; without it the API pushes inline.
    Component("stream-poller", "devtools.stream_poller", exports={"REALTIME_DELIVERY": "stream"}),
)
# app.py's Rate-scheduled jobs (outbox sender, hold expiry, reminders) as EventBridge runs them in AWS. Last: it
# uses every stand-in above. `make run` only: the e2e stack's tests run each job themselves, at the time they pick.
SCHEDULER = Component("scheduler", "devtools.scheduler")


def start_component(component: Component, env: dict[str, str], log_path=None, port: int | None = None) -> Child:
    """Start one optional component on `port` (default: a free one); returns it with the variables it exports."""
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    child = spawn(component.name, python_module(component.module), {**env, "PORT": str(port)},
                  log_path=log_path, url=url)
    try:
        if component.ready_path:
            wait_until_ready(child, url + component.ready_path)
        else:
            _wait_port(child, port)
    except RuntimeError:
        stop(child)
        raise
    child.env = {key: template.format(url=url, host=LOOPBACK, port=port)
                 for key, template in component.exports.items()}
    return child


def _wait_port(child: Child, port: int, timeout: float = 30.0) -> None:
    from devtools.processes import port_is_open

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with code {child.process.returncode}")
        if port_is_open(LOOPBACK, port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} did not open port {port} within {timeout:.0f}s")


def start_api(env: dict[str, str], port: int, log_path=None) -> Child:
    url = f"http://{LOOPBACK}:{port}"
    child = spawn("api", python_module("devtools.local_api"), {**env, "PORT": str(port)}, log_path=log_path,
                  url=url)
    wait_until_ready(child, f"{url}/health", timeout=60)
    return child


def prepare_data(env: dict[str, str]) -> tuple[Any, dict[str, int]]:
    """Create tables and seed, in this process, with the settings the API will read from `env`; records the
    requests table's stream in `env` (REQUESTS_STREAM_ARN, for the stream poller and app.py's stream handler)."""
    from chalicelib.settings import settings_from_env
    from devtools.create_tables import ensure_tables
    from devtools.seed import seed_demo

    settings = settings_from_env(env)
    # pynamodb/boto read credentials from os.environ; this process talks to moto too.
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    ensure_tables(settings)
    env["REQUESTS_STREAM_ARN"] = requests_stream_arn(settings)
    return settings, seed_demo(settings)


def requests_stream_arn(settings: Any) -> str:
    import boto3

    client = boto3.client("dynamodb", region_name=settings.region, endpoint_url=settings.dynamodb_endpoint)
    return client.describe_table(TableName=settings.requests_table)["Table"]["LatestStreamArn"]


def webhook_url(api_port: int) -> str:
    """Where the Stripe stub delivers signed events: this stack's API."""
    return f"http://{LOOPBACK}:{api_port}/payments/stripe/webhook"


def write_tokens(tokens: dict[str, str]) -> None:
    TOKENS_FILE.parent.mkdir(parents=True, exist_ok=True)
    TOKENS_FILE.write_text(json.dumps(tokens, indent=2) + "\n")


def main(on_ready: Callable[[], None] | None = None) -> int:
    from devtools.seed import demo_tokens

    supervisor = Supervisor()
    stopping = False
    restart_requested: list[str] = []

    def request_stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGHUP, lambda signum, frame: restart_requested.append("api"))
    try:
        # moto logs its errors; keep them out of the terminal. It holds every table: not restartable.
        moto = supervisor.add(start_moto(port=int(os.environ.get("MOTO_PORT", "0")) or None,
                                         log_path=LOG_DIR / "moto.log"))
        env = local_stack_env(moto.url or "", stage=os.environ.get("CHALICE_STAGE", "local"))
        settings, counts = prepare_data(env)
        api_port = int(os.environ.get("PORT", "8000"))
        env["STUB_WEBHOOK_URL"] = webhook_url(api_port)
        env["STREAM_POLLER_CHECKPOINT"] = str(LOG_DIR / "stream-poller.json")
        _start_components(supervisor, env)
        supervisor.add(start_api(env, api_port), restart=functools.partial(start_api, dict(env), api_port))
        tokens = demo_tokens(settings)
        write_tokens(tokens)
        _print_banner(supervisor.children, counts, tokens)
        if on_ready:
            on_ready()
        while True:
            while restart_requested:
                supervisor.restart(restart_requested.pop(), "was asked to restart (SIGHUP)")
            supervisor.check()
            time.sleep(0.5)
    except StackStopped as exc:
        print(f"stopping: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping the local stack...", file=sys.stderr)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
        stop_all(supervisor.children)
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_components(supervisor: Supervisor, env: dict[str, str]) -> None:
    """Start the optional stand-ins that exist; each restarts on its own port with the environment it had."""
    for component in (*OPTIONAL_COMPONENTS, SCHEDULER):
        if not component.available():
            continue
        port = component.preferred_port() or free_port()
        try:
            child = start_component(component, env, port=port)
        except RuntimeError as exc:  # a stand-in that fails must not take the whole stack down
            print(f"warning: {component.name} not started ({exc}); continuing without it", file=sys.stderr)
            continue
        supervisor.add(child, restart=functools.partial(start_component, component, dict(env), port=port))
        env.update(child.env)


def _print_banner(children: list[Child], counts: dict[str, int], tokens: dict[str, str]) -> None:
    by_name = {child.name: child for child in children}
    api = by_name["api"].url
    lines = ["", "Service Portal local stack is up.",
             f"  API          {api}   (e.g. curl {api}/services)",
             f"  OpenAPI      {api}/openapi.json",
             f"  API docs     {api}/docs",
             f"  moto         {by_name['moto'].url}   (DynamoDB, SES, API Gateway management; "
             f"log {LOG_DIR.relative_to(PROJECT_DIR)}/moto.log)"]
    for child in children:
        if child.name not in ("api", "moto"):
            what = f"exports {', '.join(child.env)}" if child.env else "status of its runs"
            lines.append(f"  {child.name:<12} {child.url}   {what}")
    lines.append("  seeded       " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
    lines.append(f"  tokens       {TOKENS_FILE.relative_to(PROJECT_DIR)} (Authorization: Bearer <token>)")
    for key, token in tokens.items():
        lines.append(f"    {key:<6} {token}")
    lines.append(f"A crashed process is restarted with moto's data kept; `kill -HUP {os.getpid()}` restarts the API "
                 "alone. Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
