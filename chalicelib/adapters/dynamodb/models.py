"""pynamodb models: the single source of truth for every table, its keys and its indexes.

`devtools/create_tables.py` creates tables from these classes and `devtools/gen_infra.py` renders
`infra/resources.json` from them (a test fails if the committed template drifts). Table names and the
endpoint are bound at runtime by `configure_models(settings)`; nothing here touches the network at import.
See docs/data-model.md for the key design and the access patterns each index serves.
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

# Re-exported: the request table's indexes are declared next to their access patterns.
from chalicelib.adapters.dynamodb.request_indexes import (  # noqa: F401
    ByUserIndex, ByStatusIndex, ByTeamIndex, ByPaymentStatusIndex, ByTeamStatusIndex, ByTeamPaymentIndex,
    ByStatusPaymentIndex, ByTeamStatusPaymentIndex, OpenPaymentsIndex, RemindersIndex, BySeriesIndex,
    ByPaymentRefIndex, HoldsIndex, PaidByUpdateIndex, FlaggedIndex)


class _Base(Model):
    class Meta:
        abstract = True
        table_name = "unbound"
        region = "us-east-1"
        billing_mode = "PAY_PER_REQUEST"


# --- catalog: services, teams (hours, blackouts, limits), members, global blackouts, promo rules -------
class PromoRulesIndex(GlobalSecondaryIndex):
    """Sparse: only promotion rules carry `priorityKey`; the admin list pages through them in the order pricing
    applies them."""
    class Meta:
        index_name = "promo_rules"
        projection = AllProjection()
    kind = UnicodeAttribute(hash_key=True)  # "promo"
    priorityKey = UnicodeAttribute(range_key=True)  # <priority, 10 digits>#<ruleId>


class CatalogItem(_Base):
    """pk=CATALOG, sk=SERVICE#id | TEAM#id | MEMBER#id | BLACKOUT#id | PROMO#id: one Query loads the catalog.
    Per-rule usage counters live at pk=PROMO#id, sk=SHARD#k | USAGE#userId (changed inside booking transactions;
    sk=USAGE is the unsharded counter of before, see devtools/shard_promo_usage.py).
    """
    class Meta(_Base.Meta):
        table_name = "catalog"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)
    doc = JSONAttribute(null=True)
    version = NumberAttribute(default=1)
    uses = NumberAttribute(null=True)
    priorityKey = UnicodeAttribute(null=True)  # promotion rules only (PromoRulesIndex)
    promo_rules = PromoRulesIndex()


# --- capacity: counters per team-local day, per slot cell, per member ---------------------------------
class OverridesIndex(GlobalSecondaryIndex):
    """Sparse: only team-days with an admin's limit override carry `overrideTeam`; a team's overrides in date
    order, reading only them."""
    class Meta:
        index_name = "overrides"
        projection = AllProjection()
    overrideTeam = UnicodeAttribute(hash_key=True)  # the team id
    sk = UnicodeAttribute(range_key=True)  # <date>#DAY


class CapacityCounter(_Base):
    """pk=CAP#<team>#<yyyy-mm of the team-local date>; sk starts with the local date, so one Query per team and
    month returns that team's items for a date range (layout and conditions: adapters/dynamodb/keys.py):
      <date>#DAY           team-day: count (limit dailyLimit or limitOverride), fence, s#<cell> slot counts
      <date>#M#<member>    member-day: count (the member's load), b#<cell> = request holding the cell
    Cell attributes are not declared here (their names are data); capacity_store reads and writes them.
    Items of the v1 layout (pk=CAP#<yyyy-mm>, one item per counter or lock, `holder` on locks) are read only by
    the capacity-v2 migration (devtools/migrations).
    """
    class Meta(_Base.Meta):
        table_name = "capacity"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    count = NumberAttribute(default=0)
    limitOverride = NumberAttribute(null=True)
    overrideReason = UnicodeAttribute(null=True)
    fence = NumberAttribute(null=True)  # team-day: bookings planned from an older catalog version fail
    holder = UnicodeAttribute(null=True)  # v1 member cell locks: the service request holding it
    overrideTeam = UnicodeAttribute(null=True)  # team-day with limitOverride (OverridesIndex)
    overrides = OverridesIndex()


# --- service requests ------------------------------------------------------------------------------


class ServiceRequestItem(_Base):
    class Meta(_Base.Meta):
        table_name = "service-requests"
        stream_view_type = "NEW_AND_OLD_IMAGES"  # realtime pushes are driven by this stream in AWS stages

    id = UnicodeAttribute(hash_key=True)
    userId = UnicodeAttribute()
    createdKey = UnicodeAttribute()
    status = UnicodeAttribute()
    startKey = UnicodeAttribute()
    teamId = UnicodeAttribute()
    paymentStatus = UnicodeAttribute()
    # Composite keys of the admin-list indexes; null only on items written before they existed, until the
    # `admin-list-keys` migration backfills them (devtools/migrations).
    teamStatus = UnicodeAttribute(null=True)
    teamPayment = UnicodeAttribute(null=True)
    statusPayment = UnicodeAttribute(null=True)
    teamStatusPayment = UnicodeAttribute(null=True)
    paymentOpen = UnicodeAttribute(null=True)
    updatedAt = UnicodeAttribute()
    reminderBucket = UnicodeAttribute(null=True)
    seriesId = UnicodeAttribute(null=True)
    paymentRef = UnicodeAttribute(null=True)
    sequence = NumberAttribute(default=0)
    rev = NumberAttribute(default=0)  # optimistic-concurrency revision: every write is conditional on it
    doc = JSONAttribute()  # the full ServiceRequest as the domain sees it

    by_user = ByUserIndex()
    by_status = ByStatusIndex()
    by_team = ByTeamIndex()
    by_payment_status = ByPaymentStatusIndex()
    by_team_status = ByTeamStatusIndex()
    by_team_payment = ByTeamPaymentIndex()
    by_status_payment = ByStatusPaymentIndex()
    by_team_status_payment = ByTeamStatusPaymentIndex()
    open_payments = OpenPaymentsIndex()
    reminders = RemindersIndex()
    by_series = BySeriesIndex()
    by_payment_ref = ByPaymentRefIndex()

    # the scheduled jobs' sparse indexes (job_keys.job_index_attributes)
    holdKey = UnicodeAttribute(null=True)
    holdExpiresAt = UnicodeAttribute(null=True)
    paidDay = UnicodeAttribute(null=True)
    flaggedKey = UnicodeAttribute(null=True)
    holds = HoldsIndex()
    flagged = FlaggedIndex()
    paid_by_update = PaidByUpdateIndex()


# --- audit ---------------------------------------------------------------------------------------------
class AuditByDayIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_day"
        projection = AllProjection()
    day = UnicodeAttribute(hash_key=True)  # yyyy-mm-dd (UTC)
    sk = UnicodeAttribute(range_key=True)


class AuditEntryItem(_Base):
    """pk=<entity type>#<id> (SR#..., TEAM#..., PROMO#...), sk=<at>#<uuid>."""
    class Meta(_Base.Meta):
        table_name = "audit"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    day = UnicodeAttribute()
    doc = JSONAttribute()
    by_day = AuditByDayIndex()


# --- idempotency (Powertools persistence layer's own layout) ------------------------------------------
class IdempotencyRecordItem(_Base):
    class Meta(_Base.Meta):
        table_name = "idempotency"

    id = UnicodeAttribute(hash_key=True)
    expiration = TTLAttribute(null=True)
    # Written by the booking transaction itself when it stores a submission's answer (adapters/idempotency.py).
    record_status = UnicodeAttribute(attr_name="status", null=True)
    response_data = UnicodeAttribute(attr_name="data", null=True)


# --- ops: webhook event dedupe, job checkpoints, other short-lived markers (TTL) ------------------------
class OpsItem(_Base):
    class Meta(_Base.Meta):
        table_name = "ops"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    doc = JSONAttribute(null=True)
    expiresAt = TTLAttribute(null=True)
    state = UnicodeAttribute(null=True)  # webhook event claims: processing | done (conditions need a top-level attr)
    claimedAt = NumberAttribute(null=True)  # epoch seconds a processing claim was taken


# --- realtime: websocket connections, channel subscriptions, availability change log (TTL) -------------
class ByConnectionIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_connection"
        projection = KeysOnlyProjection()
    connectionId = UnicodeAttribute(hash_key=True)


class RealtimeItem(_Base):
    """pk=CONN#<id> (the connection), CHAN#<serviceId>#<date> (its subscribers, sk=connection id),
    CHANGES#<serviceId> (change log for the polling fallback, sk=<cursor>)."""
    class Meta(_Base.Meta):
        table_name = "realtime"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    connectionId = UnicodeAttribute(null=True)
    doc = JSONAttribute(null=True)
    expiresAt = TTLAttribute(null=True)
    by_connection = ByConnectionIndex()


# --- outbox: every e-mail the app sends, one item per message (services/outbox.py) -----------------------
class OutboxDueIndex(GlobalSecondaryIndex):
    class Meta:  # sparse: only unsent, unparked messages carry `queue`
        index_name = "due"
        projection = KeysOnlyProjection()
    queue = UnicodeAttribute(hash_key=True)  # "due"
    dueKey = UnicodeAttribute(range_key=True)  # <due at, ISO UTC>#<id>


class OutboxItem(_Base):
    """id=<request id>.<kind>.<version>; state pending | sending | sent | parked; TTL 90 days after it is sent."""
    class Meta(_Base.Meta):
        table_name = "outbox"
    id = UnicodeAttribute(hash_key=True)
    queue = UnicodeAttribute(null=True)
    dueKey = UnicodeAttribute(null=True)
    dueAt = NumberAttribute()  # epoch seconds: pending, sendable from; sending, the lease's end
    state = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    lease = UnicodeAttribute(null=True)  # token of the sender holding the message
    doc = JSONAttribute()  # kind, version, language, the request as of the change
    result = JSONAttribute(null=True)  # provider message id and time sent, or the last error
    expiresAt = TTLAttribute(null=True)
    due = OutboxDueIndex()


# Table key in settings -> model. Used by configure_models, table creation and the infra generator.
MODELS_BY_SETTING: dict[str, type[Model]] = {
    "catalog_table": CatalogItem,
    "capacity_table": CapacityCounter,
    "requests_table": ServiceRequestItem,
    "audit_table": AuditEntryItem,
    "idempotency_table": IdempotencyRecordItem,
    "ops_table": OpsItem,
    "realtime_table": RealtimeItem,
    "outbox_table": OutboxItem,
}
TTL_ATTRIBUTE = {"idempotency_table": "expiration", "ops_table": "expiresAt", "realtime_table": "expiresAt",
                 "outbox_table": "expiresAt"}
