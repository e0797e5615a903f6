"""Data migrations: named steps, run in order against the configured tables, each idempotent and resumable.

    python -m devtools.migrate            # run every step not done yet (environment as devtools.create_tables)
    python -m devtools.migrate --list     # the steps and their state
    python -m devtools.migrate --step requests_job_index_keys --max-pages 10

A step's state lives in the ops table at pk=MIGRATION#<step>, sk=STATE ({"done", "cursor", counts}). A done step
is skipped; an interrupted one (crash, --max-pages) continues from its saved cursor. Every step is also safe to
rerun from the start: what it writes is derived from the item itself and conditional on the item's revision.

Steps:
  indexes_from_models       create the global secondary indexes a model declares and its table lacks, one at a
                            time (DynamoDB builds one index per UpdateTable). For tables this code created itself
                            (local stack, tests); in AWS stages the deploy adds them (infra/*.json).
  requests_job_index_keys   set the scheduled jobs' sparse index keys (adapters/dynamodb/job_keys.py) on requests
                            written before those keys existed; a page of the table per checkpoint.
  capacity_v2               rebuild the capacity table's v2 items (one partition per team and month) from the
                            active requests, keeping v1 day overrides (devtools/migrations/capacity_v2.py); one team
                            per checkpoint (--max-pages = teams per run).
  admin-list-keys           the admin-list indexes' composite keys on requests (devtools/migrations).
  promo-priority-keys       the promo-rule list index's keys on rules (devtools/migrations).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Callable

from chalicelib.settings import Settings, settings_from_env

PAGE_SIZE = 200
INDEX_WAIT_SECONDS = 900


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Settings, dict, int | None], dict]  # (settings, saved state, max pages) -> new state
    summary: str


# --- state ---------------------------------------------------------------------------------------------------------
def load_state(name: str) -> dict:
    from chalicelib.adapters.dynamodb.models import OpsItem
    try:
        return dict(OpsItem.get(f"MIGRATION#{name}", "STATE", consistent_read=True).doc or {})
    except OpsItem.DoesNotExist:
        return {}


def save_state(name: str, state: dict) -> None:
    from chalicelib.adapters.dynamodb.models import OpsItem
    OpsItem(f"MIGRATION#{name}", "STATE", doc=state).save()


# --- steps ---------------------------------------------------------------------------------------------------------
def indexes_from_models(settings: Settings, state: dict, max_pages: int | None = None) -> dict:
    """Each index it creates is waited for until active before the next is asked for (DynamoDB refuses a second
    index build on a table while one is in progress)."""
    import boto3

    from chalicelib.adapters.dynamodb.models import MODELS_BY_SETTING
    client = boto3.client("dynamodb", region_name=settings.region, endpoint_url=settings.dynamodb_endpoint)
    created = list(state.get("created", []))
    for model in MODELS_BY_SETTING.values():
        table = model.Meta.table_name
        schema = model._get_schema()
        wanted = {i["index_name"]: i for i in schema.get("global_secondary_indexes") or []}
        existing = {i["IndexName"] for i in client.describe_table(TableName=table)["Table"].get(
            "GlobalSecondaryIndexes", [])}
        types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
        for name in sorted(set(wanted) - existing):
            index = wanted[name]
            keys = [k["AttributeName"] for k in index["key_schema"]]
            client.update_table(
                TableName=table,
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": types[k]} for k in keys],
                GlobalSecondaryIndexUpdates=[{"Create": {
                    "IndexName": name, "KeySchema": index["key_schema"], "Projection": index["projection"]}}])
            _wait_active(client, table, name)
            created.append(f"{table}/{name}")
            save_state("indexes_from_models", {"created": created, "done": False})
    return {"created": created, "done": True}


def _wait_active(client, table: str, index: str) -> None:
    deadline = time.monotonic() + INDEX_WAIT_SECONDS
    while time.monotonic() < deadline:
        for described in client.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", []):
            if described["IndexName"] == index and described.get("IndexStatus", "ACTIVE") == "ACTIVE":
                return
        time.sleep(5)
    raise TimeoutError(f"{table}/{index} not active after {INDEX_WAIT_SECONDS} s; rerun to continue")


def requests_job_index_keys(settings: Settings, state: dict, max_pages: int | None = None) -> dict:
    """Scan the requests a page at a time; where the stored keys differ from job_index_attributes, set them,
    conditional on the revision read (a request written since carries them already: to_item sets them)."""
    from pynamodb.exceptions import UpdateError

    from chalicelib.adapters.dynamodb.booking_repository import from_item
    from chalicelib.adapters.dynamodb.job_keys import job_index_attributes
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    counts = {k: int(state.get(k, 0)) for k in ("scanned", "updated", "changedMeanwhile")}
    cursor, pages = state.get("cursor"), 0
    while max_pages is None or pages < max_pages:
        page = ServiceRequestItem.scan(limit=PAGE_SIZE, last_evaluated_key=cursor, consistent_read=True)
        for item in page:
            counts["scanned"] += 1
            wanted = job_index_attributes(from_item(item))
            if all(getattr(item, name) == value for name, value in wanted.items()):
                continue
            attribute = {name: getattr(ServiceRequestItem, name) for name in wanted}
            actions = [attribute[n].set(v) if v is not None else attribute[n].remove() for n, v in wanted.items()]
            try:
                item.update(actions=actions, condition=ServiceRequestItem.rev == item.rev)
                counts["updated"] += 1
            except UpdateError:
                counts["changedMeanwhile"] += 1
        cursor, pages = page.last_evaluated_key, pages + 1
        state = {**counts, "cursor": cursor, "done": cursor is None}
        save_state("requests_job_index_keys", state)
        if cursor is None:
            break
    return state


def capacity_v2(settings: Settings, state: dict, max_pages: int | None = None) -> dict:
    from devtools.migrations import capacity_v2 as step
    return step.run(state=state, stop_after=max_pages)


def _item_step(name: str) -> Callable[[Settings, dict, int | None], dict]:
    """A step of devtools/migrations (a page reader and an item rewrite), run by that package's runner, which keeps
    its checkpoint under the same MIGRATION#<name> item."""
    def run(settings: Settings, state: dict, max_pages: int | None = None) -> dict:
        from devtools import migrations
        [report] = migrations.run([name], max_pages=max_pages, restart=not state)
        return {**migrations.checkpoint(name), "done": report.done}
    return run


STEPS: list[Step] = [
    Step("indexes_from_models", indexes_from_models, "create the indexes the models declare and tables lack"),
    Step("requests_job_index_keys", requests_job_index_keys, "set the jobs' sparse index keys on older requests"),
    Step("capacity_v2", capacity_v2, "rebuild the v2 capacity items from the active requests"),
    Step("admin-list-keys", _item_step("admin-list-keys"), "composite keys of the admin-list indexes on requests"),
    Step("promo-priority-keys", _item_step("promo-priority-keys"), "priority keys of the promo-rule list index"),
]


def migrate(settings: Settings, only: str | None = None, max_pages: int | None = None) -> dict[str, dict]:
    """Run the steps not done yet (or just `only`, even if done: a rerun changes nothing). Returns each step's
    state. A step stopped by `max_pages` is not done; later steps wait for it."""
    from chalicelib.adapters.dynamodb.tables import configure_models
    configure_models(settings)
    out = {}
    for step in STEPS:
        if only is not None and step.name != only:
            continue
        state = load_state(step.name)
        if state.get("done") and only is None:
            out[step.name] = state
            continue
        if only is not None and state.get("done"):
            state = {}  # an explicit rerun starts from the top
        state = step.run(settings, state, max_pages)
        save_state(step.name, state)
        out[step.name] = state
        if not state.get("done"):
            break
    return out


def main(argv: list[str] | None = None) -> int:
    """Prints one JSON line per step; exit 0 when every step is done, 3 when one stopped early (--max-pages)."""
    import json

    parser = argparse.ArgumentParser(description="Run data migrations (idempotent, resumable).")
    parser.add_argument("--list", action="store_true", help="show the steps and their state")
    parser.add_argument("--step", help="run only this step (from the top if it was done)")
    parser.add_argument("--max-pages", type=int, help="stop a scanning step after this many pages")
    args = parser.parse_args(argv)
    settings = settings_from_env()
    if args.list:
        from chalicelib.adapters.dynamodb.tables import configure_models
        configure_models(settings)
        for step in STEPS:
            print(json.dumps({"step": step.name, "summary": step.summary, **load_state(step.name)}, default=str))
        return 0
    states = migrate(settings, args.step, args.max_pages)
    for name, state in states.items():
        print(json.dumps({"name": name, **state}, default=str))
    return 0 if states and all(state.get("done") for state in states.values()) else 3


if __name__ == "__main__":
    raise SystemExit(main())
