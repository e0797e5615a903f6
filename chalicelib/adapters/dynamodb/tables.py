"""Binds models to the configured tables/endpoint, and creates tables (local stack and tests only)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.models import MODELS_BY_SETTING, TTL_ATTRIBUTE

if TYPE_CHECKING:
    from chalicelib.settings import Settings


def share_botocore_loader() -> None:
    """pynamodb opens one botocore session per model (and thread), and each session parses the DynamoDB
    service description again (~100 ms each). One read-only loader for every session of the process takes that
    off a Lambda cold start; the loader only caches the JSON files botocore ships."""
    import functools

    import botocore.session

    if not hasattr(botocore.session.create_loader, "cache_info"):
        botocore.session.create_loader = functools.lru_cache(maxsize=None)(botocore.session.create_loader)


def configure_models(settings: "Settings") -> None:
    """Point every model at its table name, region and (locally) endpoint. Cheap; no network."""
    share_botocore_loader()
    for setting_name, model in MODELS_BY_SETTING.items():
        model.Meta.table_name = getattr(settings, setting_name)
        model.Meta.region = settings.region
        model.Meta.host = settings.dynamodb_endpoint
        model._connection = None  # pynamodb caches the connection per class; rebuild with the new meta


def create_tables(settings: "Settings") -> list[str]:
    """Create every missing table (idempotent) and enable TTL where the model uses it. A table that exists gets
    the indexes its model gained since it was created (`add_missing_indexes`)."""
    import boto3

    configure_models(settings)
    created = []
    for setting_name, model in MODELS_BY_SETTING.items():
        if model.exists():
            created.extend(f"{model.Meta.table_name}/{index}" for index in add_missing_indexes(model, settings))
        else:
            model.create_table(wait=True)
            created.append(model.Meta.table_name)
            ttl = TTL_ATTRIBUTE.get(setting_name)
            if ttl:
                client = boto3.client("dynamodb", region_name=settings.region,
                                      endpoint_url=settings.dynamodb_endpoint)
                client.update_time_to_live(TableName=model.Meta.table_name, TimeToLiveSpecification={
                    "Enabled": True, "AttributeName": ttl})
    return created


def add_missing_indexes(model: Any, settings: "Settings") -> list[str]:
    """Create the model's GSIs the existing table lacks, one UpdateTable each (DynamoDB allows one index
    creation per call), waiting for each to be active. Returns their names. New indexes start empty: items
    written before them need the backfill of devtools/migrations."""
    import boto3

    client = boto3.client("dynamodb", region_name=settings.region, endpoint_url=settings.dynamodb_endpoint)
    name = model.Meta.table_name
    present = {i["IndexName"] for i in client.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])}
    added = []
    for index in model._get_schema().get("global_secondary_indexes") or []:
        if index["index_name"] in present:
            continue
        create = {"IndexName": index["index_name"], "KeySchema": index["key_schema"],
                  "Projection": index["projection"]}
        client.update_table(TableName=name, AttributeDefinitions=index["attribute_definitions"],
                            GlobalSecondaryIndexUpdates=[{"Create": create}])
        _wait_until_active(client, name, index["index_name"])
        added.append(index["index_name"])
    return added


def _wait_until_active(client: Any, table: str, index: str) -> None:
    import time

    for _ in range(600):
        indexes = client.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
        if all(i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes if i["IndexName"] == index):
            return
        time.sleep(1.0)
    raise TimeoutError(f"index {index} of {table} is not active after 10 minutes")
