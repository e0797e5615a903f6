"""The whole local stack as child processes on free loopback ports, started and stopped as one unit.

`running_stack(log_dir)` starts, in this order, exactly what `make run` starts:
  moto server -> tables and demo seed (devtools.run.prepare_data, in this process)
  -> every optional component of devtools.run.OPTIONAL_COMPONENTS whose module exists (Stripe stub,
     websocket dev gateway, the requests-stream poller that delivers realtime pushes as Lambda does in AWS),
     each exporting its URL (or, for the poller, REALTIME_DELIVERY=stream) to the API's environment
  -> the local API (python -m devtools.local_api, JSON 404 for unknown routes)
and stops them all on exit. Child output goes to log files in `log_dir` (`stack.log_tail(name)`).
The e2e tests (tests/e2e/conftest.py) and the local load bench (bench/local_load.py) both use it.
`make run` starts the same pieces under a supervisor instead (devtools/run.py), on fixed ports; tools that need
`make run` itself in the background use devtools/background.py.

Talking to moto directly (e.g. to check a counter item): `stack.bind_models()` points the pynamodb models at
the stack's moto server with the stack's table names, or use `stack.env` / `stack.settings` with boto3
(`endpoint_url=stack.moto_url`).
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from devtools.environment import local_stack_env
from devtools.moto_server import start_moto
from devtools.processes import Child, free_port, stop_all
from devtools.run import OPTIONAL_COMPONENTS, Component, prepare_data, start_api, start_component, webhook_url

CATALOG_CACHE_WAIT_SECONDS = 45  # the API caches the catalog for up to 30 s


class ComponentMissing(RuntimeError):
    """An optional component a caller needs is not running."""


@dataclass
class LocalStack:
    base_url: str
    moto_url: str
    env: dict[str, str]
    settings: Any
    tokens: dict[str, str]
    log_dir: Path
    children: list[Child] = field(default_factory=list)
    components: dict[str, Child] = field(default_factory=dict)  # started optional components by name
    component_errors: dict[str, str] = field(default_factory=dict)  # present but failed to start

    def url(self, path: str) -> str:
        return self.base_url + path

    def auth(self, who: str) -> dict[str, str]:
        """Authorization header for a demo principal: "userA", "userB" or "admin"."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def child(self, name: str) -> Child:
        """A running process of the stack by name ("moto", "api", or an optional component's name)."""
        for child in self.children:
            if child.name == name:
                return child
        raise KeyError(name)

    def require(self, name: str) -> Child:
        """The optional component `name`; raises ComponentMissing saying why it is not running."""
        if name in self.components:
            return self.components[name]
        reason = self.component_errors.get(name, "its module does not exist")
        raise ComponentMissing(f"optional component {name!r} is not running: {reason}")

    def bind_models(self) -> None:
        """Point the pynamodb models at this stack's moto server and tables (in the calling process)."""
        from chalicelib.adapters.dynamodb.tables import configure_models
        configure_models(self.settings)

    def start_component(self, component: Component, **env_overrides: str) -> Child:
        """Another instance of an optional component (e.g. one that fails on purpose); stopped with the stack."""
        child = start_component(component, {**self.env, **env_overrides},
                                log_path=self.log_dir / f"{component.name}-{len(self.children)}.log")
        self.children.append(child)
        return child

    def add_service(self, service_id: str, team_id: str, members: int, slot_capacity: int,
                    price: int = 5000, daily_limit: int = 200) -> str:
        """A service of its own: a New York team open 08:00-18:00 every day with `members` people and
        `slot_capacity` crews, hourly one-hour slots, serving the demo New York crew's area (book it from
        `10001`), written straight to the stack's tables; waits until the API (catalog cached for up to 30 s)
        serves it."""
        import requests

        from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
        from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow
        from chalicelib.domain.service_areas import area
        from datetime import time as wall

        self.bind_models()
        repo = DynamoCatalogRepository()
        repo.put_team(Team(id=team_id, name=team_id, timezone="America/New_York",
                           weekly_hours={d: (TimeWindow(wall(8), wall(18)),) for d in range(7)},
                           daily_limit=daily_limit, slot_capacity=slot_capacity,
                           service_areas=(area("US", prefixes=("100", "101", "102")),)))
        for i in range(members):
            repo.put_member(TeamMember(id=f"{team_id}-m{i}", team_id=team_id, display_name=f"M{i}",
                                       service_ids=(service_id,)))
        repo.put_service(Service(id=service_id, name=service_id, category="cleaning", description="",
                                 duration_minutes=60, buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=0,
                                 base_price=Money(price), team_ids=(team_id,)))
        deadline = time.monotonic() + CATALOG_CACHE_WAIT_SECONDS
        while requests.get(self.url(f"/services/{service_id}"), timeout=30).status_code != 200:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"the local API never served the new service {service_id!r}")
            time.sleep(1)
        return service_id

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        stop_all(self.children)


def start_stack(log_dir: Path, stage: str = "local", base_env: Mapping[str, str] | None = None) -> LocalStack:
    """Start the whole stack on free loopback ports; raises RuntimeError (with the API's log) if it cannot.
    Whatever was started is stopped again on failure."""
    from chalicelib.settings import settings_from_env
    from devtools.seed import demo_tokens

    children: list[Child] = []
    try:
        moto = start_moto(log_path=log_dir / "moto.log")
        children.append(moto)
        env = local_stack_env(moto.url or "", stage=stage, base=os.environ if base_env is None else base_env)
        prepare_data(env)  # tables + seed, the same call `make run` makes
        started: dict[str, Child] = {}
        errors: dict[str, str] = {}
        api_port = free_port()
        env["STUB_WEBHOOK_URL"] = webhook_url(api_port)  # the stub pays into this stack's API
        env["STREAM_POLLER_CHECKPOINT"] = str(log_dir / "stream-poller.json")
        for component in OPTIONAL_COMPONENTS:
            if not component.available():
                continue
            try:
                child = start_component(component, env, log_path=log_dir / f"{component.name}.log")
            except RuntimeError as exc:
                errors[component.name] = str(exc)
                continue
            children.append(child)
            started[component.name] = child
            env.update(child.env)
        try:
            api = start_api(env, api_port, log_path=log_dir / "api.log")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n--- api.log ---\n{(log_dir / 'api.log').read_text()[-3000:]}") from exc
        children.append(api)
        settings = settings_from_env(env)
        return LocalStack(base_url=api.url or "", moto_url=moto.url or "", env=env, settings=settings,
                          tokens=demo_tokens(settings), log_dir=log_dir, children=children, components=started,
                          component_errors=errors)
    except BaseException:
        stop_all(children)
        raise


@contextmanager
def running_stack(log_dir: Path, stage: str = "local",
                  base_env: Mapping[str, str] | None = None) -> Iterator[LocalStack]:
    """The stack for the duration of a `with` block; every process it started is stopped on exit."""
    stack = start_stack(log_dir, stage, base_env)
    try:
        yield stack
    finally:
        stack.stop()
