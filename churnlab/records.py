"""What the log keeps, from a shell where it lives (the container of the monolith, ingest or
the gateway), for an operator without the audit key's API at hand:

    python -m churnlab.records erase CUSTOMER_ID     # out of the log, and the spool if here
    python -m churnlab.records show PREDICTION_ID    # one logged prediction, as JSON
    python -m churnlab.records dead-letters          # what ingest refused from the spool
    python -m churnlab.records retention             # one retention round now

It reads the same CHURNLAB_* settings as the services, and opens only the stores that exist
here (a gateway has a spool and no log): it never creates an empty one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from churnlab.adapters.spool import Spool
from churnlab.bootstrap import SECONDS_PER_DAY, ingest_stage
from churnlab.config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("erase", help="every prediction of a customer").add_argument("customer_id")
    commands.add_parser("show", help="one logged prediction").add_argument("prediction_id")
    commands.add_parser("dead-letters", help="spooled requests that ingest refused")
    commands.add_parser("retention", help="enforce the retention settings now")
    args = parser.parse_args(argv)
    settings = dataclasses.replace(Settings.from_env(), retention_every_seconds=0)
    has_log = bool(settings.prediction_log_url) or settings.prediction_log_path.exists()
    spool = Spool(settings.spool_path) if settings.spool_path.exists() else None
    ingest = ingest_stage(settings) if has_log else None
    if not ingest and not spool:
        print("no prediction log or spool here (check CHURNLAB_* settings)", file=sys.stderr)
        return 2
    if args.command == "erase":
        erased = {"log": ingest.erase(args.customer_id) if ingest else None}
        erased["spool"] = spool.erase(args.customer_id) if spool else None
        print(json.dumps({"customer_id": args.customer_id, "erased": erased}))
    elif args.command == "show":
        found = ingest.prediction(args.prediction_id) if ingest else None
        print(json.dumps(found, indent=2))
        return 0 if found else 1
    elif args.command == "dead-letters":
        print(json.dumps(spool.dead_letters() if spool else [], indent=2))
    else:
        if ingest is None:
            print("no prediction log here", file=sys.stderr)
            return 2
        deleted = ingest.prediction_log.enforce_retention(
            settings.retention_days * SECONDS_PER_DAY, settings.retention_max_rows
        )
        print(json.dumps({"deleted": deleted}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
