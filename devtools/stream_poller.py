"""The service-requests stream's event source mapping, locally: what Lambda does for the deployed app.

In AWS stages booking changes reach websocket subscribers through the requests table's DynamoDB stream: Lambda
polls the stream and invokes app.py's `realtime_from_requests` with batches of records (docs/realtime.md). moto
server records that stream too (GetShardIterator / GetRecords), so this process polls it the same way and hands
each batch to app.py's handler in-process, as Lambda would (`app.realtime_from_requests(event, context)`, the
chalice-wrapped handler with its middleware). The local API then runs with REALTIME_DELIVERY=stream: a booking
request only books, and its push follows within a poll interval, on another process.

- Starts at the stream's end (LATEST, chalice's default starting position) or, after a restart, right after the
  last record it handled (the checkpoint file STREAM_POLLER_CHECKPOINT, keyed by stream ARN), so a crash of this
  process loses no change.
- A batch whose handler raises is retried (as Lambda retries a batch) up to MAX_ATTEMPTS times, then logged and
  skipped: locally, a consumer bug must not stop every later push.
- GET / on PORT answers once the app is loaded and the shard iterators are held (the stack waits for it before
  it starts the API, so no booking can precede the starting position), with {"handled": records handed to the
  app, "emptyPolls": polls that found nothing new}: a poll counted after a write finished found that write.

Run: `python -m devtools.stream_poller` with the local stack's environment (REQUESTS_STREAM_ARN, DYNAMODB_ENDPOINT,
the stage's variables; devtools/run.py and devtools/stack.py pass them).
"""
from __future__ import annotations

import base64
import json
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from devtools.processes import PROJECT_DIR, serve_json_status

log = logging.getLogger("stream_poller")

POLL_INTERVAL_SECONDS = 0.25  # Lambda polls a DynamoDB stream shard about four times a second
BATCH_SIZE = 100  # app.py's batch_size for realtime_from_requests
MAX_ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 1.0
HANDLER_NAME = "realtime_from_requests"
Handler = Callable[[dict], Any]


def lambda_value(value: Any) -> Any:
    """A GetRecords value as the Lambda event's JSON carries it: botocore parsed timestamps into datetimes
    (the event has epoch seconds) and binary attribute values into bytes (the event has base64 text)."""
    if isinstance(value, dict):
        return {key: lambda_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [lambda_value(item) for item in value]
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


def lambda_event(records: list[dict], stream_arn: str) -> dict:
    """The event Lambda builds from a batch: the records, each naming its stream as eventSourceARN."""
    return {"Records": [{**lambda_value(record), "eventSourceARN": stream_arn} for record in records]}


class Checkpoint:
    """The last handled sequence number of each shard, per stream ARN, in a JSON file (None: not kept)."""

    def __init__(self, path: Path | None, stream_arn: str) -> None:
        self._path = path
        self._arn = stream_arn

    def _all(self) -> dict:
        if self._path is None or not self._path.exists():
            return {}
        try:
            return json.loads(self._path.read_text())
        except ValueError:
            return {}

    def load(self) -> dict[str, str]:
        return dict(self._all().get(self._arn, {}))

    def save(self, shard_id: str, sequence_number: str) -> None:
        if self._path is None:
            return
        stored = self._all()
        stored.setdefault(self._arn, {})[shard_id] = sequence_number
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps(stored))
        temporary.replace(self._path)  # atomic: a crash mid-write keeps the previous checkpoint


class StreamPoller:
    """Polls every shard of one stream and hands each non-empty batch to `handler` (a Lambda-shaped event)."""

    def __init__(self, client: Any, stream_arn: str, handler: Handler, checkpoint: Checkpoint,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._arn = stream_arn
        self._handler = handler
        self._checkpoint = checkpoint
        self._sleep = sleep
        self._iterators: dict[str, str] = {}
        self.handled = 0
        self.empty_polls = 0

    def start(self) -> None:
        """Take a shard iterator per shard: after the checkpoint where there is one, else at the stream's end."""
        done = self._checkpoint.load()
        for shard in self._client.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            position = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": done[shard_id]}
                        if shard_id in done else {"ShardIteratorType": "LATEST"})
            self._iterators[shard_id] = self._client.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard_id, **position)["ShardIterator"]

    def poll_once(self) -> int:
        """One GetRecords per shard; returns how many records were handled."""
        handled = 0
        for shard_id, iterator in list(self._iterators.items()):
            page = self._client.get_records(ShardIterator=iterator, Limit=BATCH_SIZE)
            records = page.get("Records") or []
            if records:
                self._deliver(records)
                self._checkpoint.save(shard_id, records[-1]["dynamodb"]["SequenceNumber"])
                handled += len(records)
            self._iterators[shard_id] = page["NextShardIterator"]
        self.handled += handled
        self.empty_polls += not handled
        return handled

    def _deliver(self, records: list[dict]) -> None:
        event = lambda_event(records, self._arn)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                self._handler(event)
                return
            except Exception:  # noqa: BLE001 - retried, then skipped; never stops the poller
                log.exception("stream batch failed (attempt %d of %d)", attempt, MAX_ATTEMPTS)
                if attempt < MAX_ATTEMPTS:
                    self._sleep(RETRY_PAUSE_SECONDS)
        log.error("skipping a batch of %d records after %d failed attempts", len(records), MAX_ATTEMPTS)

    def run_forever(self) -> None:
        while True:
            if self.poll_once() < BATCH_SIZE:  # a full batch means more is waiting: poll again at once
                self._sleep(POLL_INTERVAL_SECONDS)


def load_handler(stage: str) -> Handler:
    """app.py's stream handler, imported with the stage's variables applied (as chalice does) in stream mode."""
    from chalice.local import LambdaContext

    from devtools.environment import chalice_stage_env

    os.environ.update(chalice_stage_env(stage))
    os.environ["REALTIME_DELIVERY"] = "stream"  # app.py defines the stream handler only in stream mode
    sys.path.insert(0, str(PROJECT_DIR))
    import app as app_module

    wrapped = getattr(app_module, HANDLER_NAME)
    return lambda event: wrapped(event, LambdaContext(HANDLER_NAME, memory_size=512))


def main() -> None:
    import boto3

    logging.basicConfig(level=logging.INFO, format="%(asctime)s stream_poller %(levelname)s %(message)s")
    stream_arn = os.environ["REQUESTS_STREAM_ARN"]
    handler = load_handler(os.environ.get("CHALICE_STAGE", "local"))
    client = boto3.client("dynamodbstreams", endpoint_url=os.environ["DYNAMODB_ENDPOINT"],
                          region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    checkpoint_path = os.environ.get("STREAM_POLLER_CHECKPOINT")
    poller = StreamPoller(client, stream_arn, handler, Checkpoint(Path(checkpoint_path) if checkpoint_path else None,
                                                                  stream_arn))
    poller.start()
    serve_json_status(int(os.environ["PORT"]), lambda: {"handled": poller.handled, "emptyPolls": poller.empty_polls},
                      "health")
    log.info("polling %s", stream_arn)
    try:
        poller.run_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
