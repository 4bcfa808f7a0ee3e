"""`python -m preflight [--env ENV]`: run every check against the account and print the table.

Exit status 1 when any check fails, 0 otherwise (warnings included). Needs AWS credentials of
the target account with read access (the AWS managed ReadOnlyAccess policy covers every call).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import boto3

from config import ConfigError, load_environment
from preflight.checks import Account, Result, Status, run_checks


def render(results: Sequence[Result]) -> str:
    """A plain-text table: check, status, detail, fix; then a one-line summary."""
    rows = [("CHECK", "STATUS", "DETAIL", "FIX"), *((r.check, r.status.upper(), r.detail, r.fix) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    ]
    counts = {status: sum(1 for r in results if r.status is status) for status in Status}
    lines.append(f"\n{counts[Status.PASS]} passed, {counts[Status.WARN]} warnings, {counts[Status.FAIL]} failed")
    return "\n".join(line.rstrip() for line in lines)


def main(argv: Sequence[str] | None = None, session: boto3.Session | None = None) -> int:
    parser = argparse.ArgumentParser(prog="preflight", description=__doc__)
    parser.add_argument("--env", default=None, help="embedded environment name or path to a JSON file")
    args = parser.parse_args(argv)
    try:
        config = load_environment(args.env)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    session = session or boto3.Session()
    if session.get_credentials() is None:
        print("preflight needs AWS credentials of the target account (profile, SSO or environment)", file=sys.stderr)
        return 2
    results = run_checks(Account(session, config.home_region), config)
    print(render(results))
    return 1 if any(r.status is Status.FAIL for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
