"""Each use-case module names the dependencies it reads (a `...Deps` Protocol); the composition root must provide
every one of them, so no use case has to probe for an optional dependency."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Protocol

import chalicelib.services
from chalicelib.bootstrap import Container


def _deps_protocols() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(chalicelib.services.__path__, prefix="chalicelib.services."):
        module = importlib.import_module(info.name)  # subpackages too (services/payments/...)
        for name, value in vars(module).items():
            if name.endswith("Deps") and inspect.isclass(value) and Protocol in value.__mro__ \
                    and value.__module__ == module.__name__:
                found.append(value)
    return found


def _names(protocol: type) -> set[str]:
    return {name for cls in protocol.__mro__ if cls not in (Protocol, object) and getattr(cls, "_is_protocol", False)
            for name in getattr(cls, "__annotations__", {})}


def test_the_container_provides_what_every_use_case_names(settings):
    container = Container(settings)
    protocols = _deps_protocols()
    assert {p.__name__ for p in protocols} >= {"BookingDeps", "ChangeDeps", "AvailabilityDeps", "SubmissionDeps",
                                               "ReleaseDeps", "PublishDeps", "EmergencyDeps", "SeriesDeps",
                                               "AdminDeps", "CalendarDeps", "ReminderDeps", "CheckoutDeps",
                                               "TransitionDeps", "WebhookDeps", "ExpiryDeps", "ReconcileDeps"}
    missing = {}
    for protocol in protocols:
        absent = []
        for name in sorted(_names(protocol)):
            try:
                inspect.getattr_static(container, name)  # finds cached properties without building them
            except AttributeError:
                absent.append(name)
        if absent:
            missing[f"{protocol.__module__}.{protocol.__name__}"] = absent
    assert missing == {}


def test_the_check_sees_a_missing_dependency():
    class NeedsSomething(Protocol):
        something_the_container_lacks: int

    assert _names(NeedsSomething) == {"something_the_container_lacks"}
    assert not hasattr(Container, "something_the_container_lacks")
