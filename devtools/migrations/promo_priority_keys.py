"""Promotion rules get `kind=promo` and `priorityKey`, the keys of the sparse promo_rules index the admin list
pages through. A stored document that no longer parses is left alone (reported as unreadable)."""
from __future__ import annotations


from chalicelib.adapters.dynamodb.models import CatalogItem
from chalicelib.adapters.dynamodb.promo_repository import CATALOG_PK, RULE_KIND, RULE_PREFIX, priority_key
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.promotions import rule_from_doc
from devtools.migrations.step import UNCHANGED, UNREADABLE, Step, set_unless_changed


def read_page(start_key: dict | None, page_size: int):
    result = CatalogItem.query(CATALOG_PK, CatalogItem.sk.startswith(RULE_PREFIX), limit=page_size,
                               last_evaluated_key=start_key)
    items = list(result)
    return items, result.last_evaluated_key


def apply(item: CatalogItem) -> str:
    try:
        rule = rule_from_doc({**(item.doc or {}), "version": int(item.version or 1)})
    except ValidationFailed:
        return UNREADABLE
    wanted = {"kind": RULE_KIND, "priorityKey": priority_key(rule)}
    if all(getattr(item, name) == value for name, value in wanted.items()):
        return UNCHANGED
    # Only over the version read: an admin's write since then stored its own keys. (Items from before versions
    # were stored read as version 1.)
    unchanged = CatalogItem.version == item.version
    if item.version == 1:
        unchanged = unchanged | CatalogItem.version.does_not_exist()
    return set_unless_changed(item, CatalogItem, wanted, unchanged)


STEP = Step("promo-priority-keys", "promotion rules: keys of the promo_rules index", read_page, apply)
