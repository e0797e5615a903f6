"""Data migrations: named steps that bring items written in an older layout up to the current one.

Every step is idempotent (it rewrites an item only when the item differs from what the current code would
write, and only if the fields it derives from are still the ones it read) and resumable: after each page the
runner stores the step's start key in the ops table (pk=`MIGRATION#<name>`, sk=`STATE`), so a run that dies
continues where it stopped, and a finished step is skipped (`restart=True` runs it again from the start).

Run them after deploying the code that writes the new layout (old code still running would write old items):
`python -m devtools.migrate` (see devtools/migrate.py). A new step is a module here exposing `STEP`, appended to
`STEPS` below; its name never changes once released (the checkpoint is keyed by it).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from devtools.migrations import admin_list_keys, promo_priority_keys
from devtools.migrations.step import Step

STEPS: tuple[Step, ...] = (
    admin_list_keys.STEP,
    promo_priority_keys.STEP,
)

__all__ = ["STEPS", "Step", "Report", "run", "step_named", "checkpoint"]


@dataclass
class Report:
    name: str
    pages: int
    outcomes: dict[str, int]  # apply() outcome -> items
    done: bool
    skipped: bool  # finished before this run


def step_named(name: str) -> Step:
    for step in STEPS:
        if step.name == name:
            return step
    raise KeyError(f"no migration step {name!r}; known: {', '.join(s.name for s in STEPS)}")


def checkpoint(name: str) -> dict:
    """The stored state of a step: {"startKey": dict | None, "done": bool, "outcomes": {...}}."""
    from chalicelib.adapters.dynamodb.models import OpsItem

    try:
        return dict(OpsItem.get(f"MIGRATION#{name}", "STATE", consistent_read=True).doc or {})
    except OpsItem.DoesNotExist:
        return {"startKey": None, "done": False, "outcomes": {}}


def _store(name: str, state: dict) -> None:
    from chalicelib.adapters.dynamodb.models import OpsItem

    OpsItem(f"MIGRATION#{name}", "STATE", doc=state).save()


def run(names: list[str] | None = None, *, page_size: int = 100, max_pages: int | None = None,
        restart: bool = False, progress: Callable[[str, dict], Any] = lambda name, state: None) -> list[Report]:
    """Run the named steps (all, in registry order, by default) against the tables the models are bound to
    (`configure_models`). `max_pages` stops each step after that many pages (its checkpoint says where)."""
    reports = []
    for step in [step_named(n) for n in names] if names else STEPS:
        state = {"startKey": None, "done": False, "outcomes": {}} if restart else checkpoint(step.name)
        if state.get("done"):
            reports.append(Report(step.name, 0, dict(state.get("outcomes") or {}), True, True))
            continue
        outcomes, pages = Counter(state.get("outcomes") or {}), 0
        while not state["done"] and (max_pages is None or pages < max_pages):
            items, next_key = step.read_page(state["startKey"], page_size)
            outcomes.update(step.apply(item) for item in items)
            state = {"startKey": next_key, "done": next_key is None, "outcomes": dict(outcomes)}
            _store(step.name, state)
            pages += 1
            progress(step.name, state)
        reports.append(Report(step.name, pages, dict(outcomes), state["done"], False))
    return reports
