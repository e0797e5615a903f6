"""Create every table from the pynamodb models (chalicelib.adapters.dynamodb.models), the one source of truth.

`python -m devtools.create_tables` uses the environment (DYNAMODB_ENDPOINT, TABLE_PREFIX, ...). Idempotent. A table
that exists gets the indexes its model gained since; their items from before need `python -m devtools.migrate`.
"""
from __future__ import annotations

from chalicelib.adapters.dynamodb.tables import create_tables
from chalicelib.settings import Settings, settings_from_env


def ensure_tables(settings: Settings) -> list[str]:
    """Create the missing tables and indexes; returns their names (`table` or `table/index`; empty when all
    existed)."""
    return create_tables(settings)


def main() -> None:
    settings = settings_from_env()
    created = ensure_tables(settings)
    print(f"tables and indexes created: {', '.join(created) if created else 'none (all exist)'}")


if __name__ == "__main__":
    main()
