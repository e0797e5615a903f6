"""E-mail through SES v2 `SendEmail` with Raw content (so the invite travels as a text/calendar attachment).

The boto3 client is built on first send (no I/O or boto3 import at import time); locally and in tests the
endpoint comes from settings (moto server) or is intercepted in-process by moto.
"""
from __future__ import annotations

import threading
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, NamedTuple

from chalicelib.domain.errors import TemporarilyUnavailable


MESSAGE_ID_HEADER = "X-Portal-Message-Id"


class Attachment(NamedTuple):
    filename: str
    content_type: str  # e.g. "text/calendar; method=REQUEST"
    data: bytes


def build_message(sender: str, to: str, subject: str, text: str, attachments: tuple[Attachment, ...] = (), *,
                  html: str | None = None, message_id: str | None = None) -> bytes:
    """A MIME message; with `message_id` (the outbox id) its Message-ID and X-Portal-Message-Id are derived from
    it, so every attempt at one message carries the same ids and a resent copy is recognisable as such."""
    domain = sender.rpartition("@")[2] or "service-portal"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{message_id}@{domain}>" if message_id else make_msgid(domain=domain)
    if message_id:
        message[MESSAGE_ID_HEADER] = message_id
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for item in map(Attachment._make, attachments):
        maintype, _, rest = item.content_type.partition("/")
        subtype, _, params = rest.partition(";")
        extra = dict(p.strip().split("=", 1) for p in params.split(";") if "=" in p)
        message.add_attachment(item.data, maintype=maintype, subtype=subtype.strip(), filename=item.filename,
                               params=extra)
    return message.as_bytes()


class SesNotifier:
    def __init__(self, sender: str, region: str, endpoint: str | None = None) -> None:
        self.sender = sender
        self._region = region
        self._endpoint = endpoint
        self._client: Any = None
        self._lock = threading.Lock()

    def _ses(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3

                self._client = boto3.client("sesv2", region_name=self._region, endpoint_url=self._endpoint)
            return self._client

    def send(self, to: str, subject: str, text: str, attachments: tuple[Attachment, ...] = (), *,
             html: str | None = None, message_id: str | None = None) -> str:
        """Send one e-mail; returns the SES message id. Raises TemporarilyUnavailable on any SES failure
        (the caller decides whether to retry later)."""
        from botocore.exceptions import BotoCoreError, ClientError

        raw = build_message(self.sender, to, subject, text, attachments, html=html, message_id=message_id)
        try:
            response = self._ses().send_email(FromEmailAddress=self.sender, Destination={"ToAddresses": [to]},
                                              Content={"Raw": {"Data": raw}})
        except (ClientError, BotoCoreError) as exc:
            raise TemporarilyUnavailable("The e-mail could not be sent.", {"reason": type(exc).__name__}) from exc
        return response.get("MessageId", "")
