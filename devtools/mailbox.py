"""The local stack's mailbox: every e-mail the app sent through (moto's) SES, readable by developers and tests.

moto keeps each message SES accepted and lists its models at `/moto-api/data.json`; this process reads the SES
messages from there on every request (nothing to keep in sync, survives its own restart) and serves them:

- GET /messages   JSON: [{"id", "messageId" (X-Portal-Message-Id: the outbox id), "to", "subject", "text",
                  "html", "attachments": [{"filename", "contentType", "method", "sequence"}]}], oldest first;
                  `?to=<address>` keeps one recipient's.
- GET /           the same as an HTML list (the HTML bodies are shown escaped, as source).

Run: `python -m devtools.mailbox` with PORT and SES_ENDPOINT (devtools/run.py starts it on MAILBOX_PORT, default
8025 when free).
"""
from __future__ import annotations

import email
import email.policy
import html
import json
import os
import re
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devtools.processes import LOOPBACK

SEQUENCE = re.compile(r"^SEQUENCE:(\d+)", re.MULTILINE)
METHOD = re.compile(r"^METHOD:(\w+)", re.MULTILINE)


def raw_messages(moto_url: str) -> list[str]:
    """The raw MIME text of every message moto's SES accepted, in the order it accepted them."""
    with urllib.request.urlopen(f"{moto_url.rstrip('/')}/moto-api/data.json", timeout=10) as response:
        models = json.load(response)
    return [item["raw_data"] for item in models.get("ses", {}).get("RawMessage", []) if item.get("raw_data")]


def _attachment(part: Any) -> dict:
    content = part.get_content()
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    method, sequence = METHOD.search(text), SEQUENCE.search(text)
    return {"filename": part.get_filename(), "contentType": part.get_content_type(),
            "method": method.group(1) if method else None, "sequence": int(sequence.group(1)) if sequence else None}


def _header(message: Any, name: str) -> str | None:
    value = message[name]
    return str(value).strip() if value is not None else None  # moto's copy may keep a folded header's space


def parse(raw: str) -> dict:
    message = email.message_from_string(raw, policy=email.policy.default)
    text, rich = message.get_body(("plain",)), message.get_body(("html",))
    return {"id": _header(message, "Message-ID"), "messageId": _header(message, "X-Portal-Message-Id"),
            "to": _header(message, "To"), "subject": _header(message, "Subject"), "date": _header(message, "Date"),
            "text": text.get_content() if text else None, "html": rich.get_content() if rich else None,
            "attachments": [_attachment(part) for part in message.iter_attachments()]}


def messages(moto_url: str, to: str | None = None) -> list[dict]:
    parsed = [parse(raw) for raw in raw_messages(moto_url)]
    return [m for m in parsed if to is None or m["to"] == to]


def _row(m: dict) -> str:
    files = "".join(f" [{html.escape(a['filename'] or '')} {a['method'] or ''}]" for a in m["attachments"])
    return (f"<li><b>{html.escape(m['subject'] or '')}</b> to {html.escape(m['to'] or '')} "
            f"<small>{html.escape(m['messageId'] or m['id'] or '')}</small>{files}"
            f"<pre>{html.escape(m['text'] or '')}</pre></li>")


def page(items: list[dict]) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Mailbox ({len(items)})</title></head>"
            f"<body><h1>Mailbox: {len(items)} messages</h1><ol>{''.join(map(_row, items))}</ol></body></html>")


def serve(port: int, moto_url: str) -> ThreadingHTTPServer:
    class Mailbox(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            to = parse_qs(url.query).get("to", [None])[0]
            if url.path == "/messages":
                self._answer(json.dumps(messages(moto_url, to)).encode(), "application/json")
            elif url.path == "/":
                self._answer(page(messages(moto_url, to)).encode(), "text/html; charset=utf-8")
            else:
                self._answer(b'{"error":"not found"}', "application/json", 404)

        def _answer(self, body: bytes, content_type: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer((LOOPBACK, port), Mailbox)


def main() -> None:
    server = serve(int(os.environ["PORT"]), os.environ["SES_ENDPOINT"])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
