"""End-to-end fixtures: the real local stack as subprocesses on free loopback ports, once per session.

`stack` (session) starts, in this order, exactly what `make run` starts:
  moto server -> tables and demo seed (devtools.run.prepare_data, in this process)
  -> every optional component of devtools.run.OPTIONAL_COMPONENTS whose module exists (Stripe stub,
     websocket dev gateway), each exporting its URL to the API's environment
  -> the local API (python -m devtools.local_api, stage "local", JSON 404 for unknown routes).
and stops them all at the end of the session. Child output goes to log files (`stack.log_tail(name)`).

    def test_x(stack, http):
        r = http.get(stack.url("/services"))
        r = http.get(stack.url("/portal/..."), headers=stack.auth("userA"))

Talking to moto directly (e.g. to check a counter item): `stack.bind_models()` points the pynamodb models at
the stack's moto server with the stack's table names (integration tests rebind them for themselves), or use
`stack.env` / `stack.settings` with boto3 (`endpoint_url=stack.moto_url`).

A test that needs its own instance of an optional component (e.g. one that fails on purpose) uses
`stack.start_component(component, **env_overrides)`; it is stopped at the end of the session.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from devtools.environment import local_stack_env
from devtools.moto_server import start_moto
from devtools.processes import Child, free_port, stop_all
from devtools.run import OPTIONAL_COMPONENTS, Component, prepare_data, start_api, start_component, webhook_url

STAGE = "local"


@dataclass
class LocalStack:
    base_url: str
    moto_url: str
    env: dict[str, str]
    settings: object
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

    def require(self, name: str) -> Child:
        """The optional component `name`, or fail the test saying why it is missing."""
        if name in self.components:
            return self.components[name]
        reason = self.component_errors.get(name, "its module does not exist")
        pytest.fail(f"optional component {name!r} is not running: {reason}")

    def bind_models(self) -> None:
        """Point the pynamodb models at this stack's moto server and tables (in the test process)."""
        from chalicelib.adapters.dynamodb.tables import configure_models
        configure_models(self.settings)

    def start_component(self, component: Component, **env_overrides: str) -> Child:
        child = start_component(component, {**self.env, **env_overrides},
                                log_path=self.log_dir / f"{component.name}-{len(self.children)}.log")
        self.children.append(child)
        return child

    def add_service(self, service_id: str, team_id: str, members: int, slot_capacity: int,
                    price: int = 5000) -> str:
        """A service for one test module: a New York team open 08:00-18:00 every day with `members` people and
        `slot_capacity` crews, written straight to the stack's tables; waits until the API (catalog cached
        for up to 30 s) serves it."""
        import time as clock
        from datetime import time as wall

        from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
        from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow

        self.bind_models()
        repo = DynamoCatalogRepository()
        repo.put_team(Team(id=team_id, name=team_id, timezone="America/New_York",
                           weekly_hours={d: (TimeWindow(wall(8), wall(18)),) for d in range(7)}, daily_limit=200,
                           slot_capacity=slot_capacity))
        for i in range(members):
            repo.put_member(TeamMember(id=f"{team_id}-m{i}", team_id=team_id, display_name=f"M{i}",
                                       service_ids=(service_id,)))
        repo.put_service(Service(id=service_id, name=service_id, category="cleaning", description="",
                                 duration_minutes=60, buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=0,
                                 base_price=Money(price), team_ids=(team_id,)))
        deadline = clock.monotonic() + 45
        while requests.get(self.url(f"/services/{service_id}"), timeout=30).status_code != 200:
            assert clock.monotonic() < deadline, "the local API never saw the new service"
            clock.sleep(1)
        return service_id

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> LocalStack:
    from chalicelib.settings import settings_from_env
    from devtools.seed import demo_tokens

    log_dir = tmp_path_factory.mktemp("e2e-logs")
    children: list[Child] = []
    try:
        moto = start_moto(log_path=log_dir / "moto.log")
        children.append(moto)
        env = local_stack_env(moto.url or "", stage=STAGE, base=os.environ)
        prepare_data(env)  # tables + seed, the same call `make run` makes
        started: dict[str, Child] = {}
        errors: dict[str, str] = {}
        api_port = free_port()
        env["STUB_WEBHOOK_URL"] = webhook_url(api_port)  # the stub pays into this stack's API
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
        local = LocalStack(base_url=api.url or "", moto_url=moto.url or "", env=env, settings=settings,
                           tokens=demo_tokens(settings), log_dir=log_dir, children=children,
                           components=started, component_errors=errors)
        yield local
    finally:
        stop_all(children)


@pytest.fixture
def http():
    """A requests session with a timeout, so a hung server fails the test instead of blocking it."""
    session = requests.Session()
    original = session.request

    def request(method, url, **kwargs):
        kwargs.setdefault("timeout", 30)
        return original(method, url, **kwargs)

    session.request = request  # type: ignore[method-assign]
    yield session
    session.close()
