"""Binds models to the configured tables/endpoint, and creates tables (local stack and tests only)."""
from __future__ import annotations

from typing import TYPE_CHECKING

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
    """Create every missing table (idempotent) and enable TTL where the model uses it."""
    import boto3

    configure_models(settings)
    created = []
    for setting_name, model in MODELS_BY_SETTING.items():
        if not model.exists():
            model.create_table(wait=True)
            created.append(model.Meta.table_name)
            ttl = TTL_ATTRIBUTE.get(setting_name)
            if ttl:
                client = boto3.client("dynamodb", region_name=settings.region,
                                      endpoint_url=settings.dynamodb_endpoint)
                client.update_time_to_live(TableName=model.Meta.table_name, TimeToLiveSpecification={
                    "Enabled": True, "AttributeName": ttl})
    return created
