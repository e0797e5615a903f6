"""`make bench`: runs every figure and prints ONE JSON object as the last line of output."""
from __future__ import annotations

import json
import sys
import warnings


def main() -> None:
    warnings.filterwarnings("ignore")
    from bench import booking

    figures: dict = {}
    figures.update(booking.request_counts())
    figures.update(booking.availability_timing())
    from bench import burst  # simultaneous bookings of one slot: transactions per booking

    figures.update(burst.figures())
    from bench import capacity  # the capacity layout: items read and written per request

    figures.update(capacity.figures())
    try:
        from bench import payments  # reconciliation figures
    except ImportError:
        payments = None
    if payments is not None:
        figures.update(payments.figures())
    from bench import reports  # DynamoDB requests of a 30-day utilisation report, 10 vs 500 bookings

    figures.update(reports.figures())
    from bench import bundle  # cold import of the packaged bundle, with and without precompiled bytecode

    figures.update(bundle.figures())
    from bench import jobs  # items the scheduled jobs read, each job measured alone on a purpose-built table

    figures.update({f"job_alone_{name}": value for name, value in jobs.figures().items()})
    from bench import scale  # items read per route and job at 100,000 bookings vs 1,000 (SCALE_BENCH_REQUESTS)

    figures.update(scale.figures())
    from bench import admin_lists  # items read by admin list pages, 1,000 vs 10,000 requests

    figures.update(admin_lists.figures())
    from bench import local_load  # the whole local stack under booking load (subprocesses on loopback)

    figures.update(local_load.figures())
    sys.stdout.flush()
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
