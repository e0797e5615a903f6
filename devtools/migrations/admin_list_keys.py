"""Service requests get the composite keys of the admin-list indexes (teamStatus, teamPayment, statusPayment,
teamStatusPayment), derived from their top-level teamId, status and paymentStatus exactly as `to_item` does."""
from __future__ import annotations


from chalicelib.adapters.dynamodb.models import ServiceRequestItem
from chalicelib.adapters.dynamodb.request_lists import list_keys
from devtools.migrations.step import UNCHANGED, Step, set_unless_changed


def read_page(start_key: dict | None, page_size: int):
    result = ServiceRequestItem.scan(limit=page_size, last_evaluated_key=start_key)
    items = list(result)
    return items, result.last_evaluated_key


def apply(item: ServiceRequestItem) -> str:
    wanted = list_keys(item.teamId, item.status, item.paymentStatus)
    if all(getattr(item, name) == value for name, value in wanted.items()):
        return UNCHANGED
    # Only if what the keys derive from is unchanged: a write since the read stored its own (current) keys.
    same_source = ((ServiceRequestItem.teamId == item.teamId) & (ServiceRequestItem.status == item.status)
                   & (ServiceRequestItem.paymentStatus == item.paymentStatus))
    return set_unless_changed(item, ServiceRequestItem, wanted, same_source)


STEP = Step("admin-list-keys", "service requests: composite keys of the admin-list indexes", read_page, apply)
