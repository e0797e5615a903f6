"""The service-requests table's global secondary indexes (models.py declares them on ServiceRequestItem). Each
serves one access pattern of docs/data-model.md; the sparse ones hold only the requests a job or list acts on."""
from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection


class ByUserIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()
    userId = UnicodeAttribute(hash_key=True)
    createdKey = UnicodeAttribute(range_key=True)  # <createdAt>#<id>


class ByStatusIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()
    status = UnicodeAttribute(hash_key=True)
    startKey = UnicodeAttribute(range_key=True)  # <startAt utc>#<id>


class ByTeamIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_team"
        projection = AllProjection()
    teamId = UnicodeAttribute(hash_key=True)
    startKey = UnicodeAttribute(range_key=True)


class ByPaymentStatusIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_payment_status"
        projection = AllProjection()
    paymentStatus = UnicodeAttribute(hash_key=True)
    startKey = UnicodeAttribute(range_key=True)


# Admin list combinations: one partition per combination of equality filters, so every combination is one
# Query whose key condition is the filters (plus the start range on the sort key): it reads only what it returns.
class ByTeamStatusIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_team_status"
        projection = AllProjection()
    teamStatus = UnicodeAttribute(hash_key=True)  # <teamId>#<status>
    startKey = UnicodeAttribute(range_key=True)


class ByTeamPaymentIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_team_payment"
        projection = AllProjection()
    teamPayment = UnicodeAttribute(hash_key=True)  # <teamId>#<paymentStatus>
    startKey = UnicodeAttribute(range_key=True)


class ByStatusPaymentIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_status_payment"
        projection = AllProjection()
    statusPayment = UnicodeAttribute(hash_key=True)  # <status>#<paymentStatus>
    startKey = UnicodeAttribute(range_key=True)


class ByTeamStatusPaymentIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_team_status_payment"
        projection = AllProjection()
    teamStatusPayment = UnicodeAttribute(hash_key=True)  # <teamId>#<status>#<paymentStatus>
    startKey = UnicodeAttribute(range_key=True)


class OpenPaymentsIndex(GlobalSecondaryIndex):
    """Sparse: only requests whose payment is not final carry `paymentOpen` (reconciliation reads these)."""
    class Meta:
        index_name = "open_payments"
        projection = AllProjection()
    paymentOpen = UnicodeAttribute(hash_key=True)  # the non-final paymentStatus (UNPAID | PENDING)
    updatedAt = UnicodeAttribute(range_key=True)


class RemindersIndex(GlobalSecondaryIndex):
    """Sparse: confirmed requests with a reminder still to send, bucketed by the UTC hour they start."""
    class Meta:
        index_name = "reminders"
        projection = AllProjection()
    reminderBucket = UnicodeAttribute(hash_key=True)  # yyyy-mm-ddTHH (UTC hour of startAt)
    startKey = UnicodeAttribute(range_key=True)


class BySeriesIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_series"
        projection = AllProjection()
    seriesId = UnicodeAttribute(hash_key=True)
    startKey = UnicodeAttribute(range_key=True)


class ByPaymentRefIndex(GlobalSecondaryIndex):
    """PaymentIntent id once its session completed, before that the Checkout Session id -> request (charge and
    refund events carry no metadata of ours)."""
    class Meta:
        index_name = "by_payment_ref"
        projection = KeysOnlyProjection()
    paymentRef = UnicodeAttribute(hash_key=True)


# --- service requests: the scheduled jobs' sparse indexes (adapters/dynamodb/job_keys.py sets their keys) ------
class HoldsIndex(GlobalSecondaryIndex):
    """Sparse: requests hold expiry may have to act on, one partition sorted by when they are due, so the job
    queries `holdExpiresAt <= now` and reads only the due ones."""
    class Meta:
        index_name = "holds"
        projection = AllProjection()
    holdKey = UnicodeAttribute(hash_key=True)  # HOLD
    holdExpiresAt = UnicodeAttribute(range_key=True)  # <due at, ISO UTC>#<id>


class PaidByUpdateIndex(GlobalSecondaryIndex):
    """Sparse: PAID requests by the UTC day of their last change, so the reconciliation's paid check reads the
    requests changed in its lookback, not every paid booking."""
    class Meta:
        index_name = "paid_by_update"
        projection = AllProjection()
    paidDay = UnicodeAttribute(hash_key=True)  # yyyy-mm-dd of updatedAt
    updatedAt = UnicodeAttribute(range_key=True)


class FlaggedIndex(GlobalSecondaryIndex):
    """Sparse: requests the reconciliation left a note on (payment.reconciliationNotes), newest change last."""
    class Meta:
        index_name = "flagged"
        projection = AllProjection()
    flaggedKey = UnicodeAttribute(hash_key=True)  # FLAGGED
    updatedAt = UnicodeAttribute(range_key=True)
