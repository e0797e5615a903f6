"""Delivers frames to websocket connections through the API Gateway management API (post_to_connection).

The app builds its own apigatewaymanagementapi clients instead of Chalice's WebsocketAPI.send, which always
targets https://{domainName}/{stage}: locally the management API is the plain-HTTP dev gateway
(settings.websocket_management_endpoint), and in AWS the endpoint recorded at $connect is used.
Timeouts are short and there are no retries: a push is best effort and must not hold up a booking.
"""
from __future__ import annotations

import threading
from typing import Any

GONE_CODES = {"GoneException"}


class ManagementApiPusher:
    """Implements services.realtime.ConnectionPusher."""

    def __init__(self, region: str, endpoint_override: str | None = None, connect_timeout: float = 1.0,
                 read_timeout: float = 2.0) -> None:
        self._region = region
        self._override = endpoint_override
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def endpoint_for(self, domain_name: str | None, stage: str | None) -> str | None:
        """The management endpoint for connections of this websocket API (None if it cannot be known)."""
        if self._override:
            return self._override
        if not domain_name or not stage:
            return None
        return f"https://{domain_name}/{stage}"

    def _client(self, endpoint: str) -> Any:
        with self._lock:
            client = self._clients.get(endpoint)
            if client is None:
                import boto3
                from botocore.config import Config

                client = boto3.session.Session().client(
                    "apigatewaymanagementapi", region_name=self._region, endpoint_url=endpoint,
                    config=Config(connect_timeout=self._connect_timeout, read_timeout=self._read_timeout,
                                  retries={"total_max_attempts": 1}, max_pool_connections=16))
                self._clients[endpoint] = client
            return client

    def send(self, connection_id: str, data: bytes, endpoint: str | None = None) -> bool:
        """Post one frame. Returns False if the connection is gone (HTTP 410 GoneException).

        Raises botocore/network errors for any other failure (the caller decides whether to swallow them).
        """
        from botocore.exceptions import ClientError

        target = self._override or endpoint
        if not target:
            raise ValueError("no management endpoint known for this connection")
        try:
            self._client(target).post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if error.get("Code") in GONE_CODES or status == 410:
                return False
            raise
        return True
