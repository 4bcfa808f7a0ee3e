"""`python -m preflight [--env ENV] [--assembly cdk.out] [--management-profile P]`: run every check
against the account and print the table.

`--assembly` names the synthesized cloud assembly of the same environment (`make preflight`
synthesizes it first): the fixed physical names and the Access Analyzer rows are read from its
templates. `--management-profile` names an AWS profile of the organization's management account
for the guardrails rows (and the names of the stack that deploys there).

Exit status 1 when any check fails, 0 otherwise (warnings included). Needs AWS credentials of
the target account with read access (the AWS managed ReadOnlyAccess policy covers every call:
Describe, Get and List only, `ec2:DescribeAvailabilityZones` for the zones row among them).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import boto3

from config import ConfigError, load_environment
from preflight.checks import Account, Result, Status, run_checks
from preflight.names import StackTemplate, read_assembly, stacks_of


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
    parser.add_argument("--assembly", type=Path, default=None, help="the environment's synthesized cdk.out")
    parser.add_argument("--management-profile", default=None, help="AWS profile of the management account")
    args = parser.parse_args(argv)
    try:
        config = load_environment(args.env)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    stacks: list[StackTemplate] | None = None
    if args.assembly is not None:
        if not (args.assembly / "manifest.json").is_file():
            print(f"--assembly {args.assembly}: no manifest.json (make synth LZ_ENV=... first)", file=sys.stderr)
            return 2
        stacks = stacks_of(read_assembly(args.assembly), config.name)
        if not stacks:
            print(f"--assembly {args.assembly} holds no stack of environment {config.name!r}", file=sys.stderr)
            return 2
    session = session or boto3.Session()
    if session.get_credentials() is None:
        print("preflight needs AWS credentials of the target account (profile, SSO or environment)", file=sys.stderr)
        return 2
    management = None
    if args.management_profile:
        management = Account(boto3.Session(profile_name=args.management_profile), config.home_region)
    results = run_checks(Account(session, config.home_region, management), config, stacks)
    print(render(results))
    return 1 if any(r.status is Status.FAIL for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
