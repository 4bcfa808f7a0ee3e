"""Turns the `delivery` context value into a validated DeliveryConfig, or a clear error.

`-c delivery=default` picks the embedded delivery; `-c delivery=path/to/delivery.json`
reads a file. In a file, an environment's `config` is either the environment's fields
inline, or a string: an embedded environment name or a JSON file path relative to the
delivery file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config.defaults import DEMO_CLIENT_CRL_WAIVER, PLACEHOLDER_ACCOUNT
from config.delivery import DeliveryConfig
from config.loader import ConfigError, _read_file, expired_acknowledgments, load_environment

DEFAULT_DELIVERY = "default"
PRE_PRODUCTION_ACCOUNT = "222222222222"
PRODUCTION_ACCOUNT = "333333333333"
# A validator names the field inside a list it checks as the start of its message ("1.config.account: ...").
_FIELD_IN_MESSAGE = re.compile(r"^(?P<path>[\w.-]+): (?P<message>.*)$", re.DOTALL)


def placeholder_environment(name: str, account: str, cidr_second_octets: tuple[int, int]) -> dict[str, Any]:
    """A two-region environment (us-east-1 home, us-west-2) with documentation-style placeholders.

    `cidr_second_octets` picks each region's VPC `10.<n>.0.0/16`. The certificate ARNs and the key
    administrator role are placeholders in `account`: replace them (and the account) before deploying.
    """
    regions = dict(zip(("us-east-1", "us-west-2"), cidr_second_octets, strict=True))
    return {
        "name": name,
        "account": account,
        "home_region": "us-east-1",
        "regions": {
            region: {
                "vpc_cidr": f"10.{octet}.0.0/16",
                "certificate_arn": (f"arn:aws:acm:{region}:{account}:certificate/00000000-0000-4000-8000-{index:012d}"),
            }
            for index, (region, octet) in enumerate(regions.items(), start=1)
        },
        "az_count": 2,
        "allowed_ingress_cidrs": ["0.0.0.0/0"],
        "domain_name": f"{name}.payments.example.com",
        "alarm_email": "security-alerts@example.com",
        "log_retention_days": 365,
        "key_administrator_role_arns": [f"arn:aws:iam::{account}:role/pci-lz-key-administrator"],
        "audit": {"object_lock_mode": "GOVERNANCE", "archive_retention_days": 365},
        # The card vault (issue #10) with the demonstration client CA, a placeholder detokenizing role and, with no
        # client PKI, the client CRL's waiver (config/defaults.py).
        "card_vault": {
            "detokenize_caller_role_arns": [f"arn:aws:iam::{account}:role/pci-lz-card-vault-detokenizer"],
            "client_crl_waiver": DEMO_CLIENT_CRL_WAIVER,
        },
    }


EMBEDDED_DELIVERIES: dict[str, dict[str, Any]] = {
    "default": {
        "tooling": {"account": PLACEHOLDER_ACCOUNT, "region": "us-east-1"},
        "source": {
            "connection_arn": (
                f"arn:aws:codeconnections:us-east-1:{PLACEHOLDER_ACCOUNT}:connection/00000000-0000-4000-8000-00000000c0de"
            ),
            "owner": "example-org",
            "repository": "pci-dss-landing-zone",
            "branch": "main",
        },
        "environments": [
            {"kind": "pre-production", "config": placeholder_environment("preprod", PRE_PRODUCTION_ACCOUNT, (30, 40))},
            {"kind": "production", "config": placeholder_environment("prod", PRODUCTION_ACCOUNT, (50, 60))},
        ],
        "waves": [
            {"name": "PreProduction", "stages": [{"environment": "preprod"}]},
            {"name": "Production", "stages": [{"environment": "prod", "approval": True}]},
        ],
    },
}


def _describe(source: str, err: ValidationError) -> str:
    lines = [f"invalid delivery configuration ({source}):"]
    for problem in err.errors():
        field = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        inner = _FIELD_IN_MESSAGE.match(message)
        if inner is not None:
            field = ".".join(p for p in (field, inner["path"]) if p)
            message = inner["message"]
        lines.append(f"  - {field or '<delivery>'}: {message}")
    return "\n".join(lines)


def _resolve_environments(data: dict[str, Any], base: Path | None) -> dict[str, Any]:
    """Replace each string `config` by the environment it names (embedded name or relative file)."""
    entries = data.get("environments")
    if not isinstance(entries, list):
        return data
    resolved = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and isinstance(entry.get("config"), str):
            selector = entry["config"]
            if base is not None and (selector.endswith(".json") or "/" in selector):
                selector = str(base / selector)
            try:
                config = load_environment(selector, field=f"environments.{index}.config").model_dump(mode="json")
            except ConfigError as err:
                raise ConfigError(f"environments.{index}.config: {err}") from None
            entry = {**entry, "config": config}
        resolved.append(entry)
    return {**data, "environments": resolved}


def parse_delivery(data: dict[str, Any], *, source: str = "inline", base: Path | None = None) -> DeliveryConfig:
    try:
        return DeliveryConfig.model_validate(_resolve_environments(data, base))
    except ValidationError as err:
        raise ConfigError(_describe(source, err)) from None


def load_delivery(selector: str) -> DeliveryConfig:
    """`selector` is an embedded delivery name or a path to a JSON file; raises ConfigError naming the field."""
    if selector.endswith(".json") or "/" in selector:
        path = Path(selector)
        return _unexpired(
            parse_delivery(_read_file(path, field="delivery", kind="delivery"), source=str(path), base=path.parent),
            str(path),
        )
    if selector not in EMBEDDED_DELIVERIES:
        known = ", ".join(sorted(EMBEDDED_DELIVERIES))
        raise ConfigError(
            f"unknown delivery {selector!r} (field: delivery); embedded deliveries: {known};"
            " or pass a path to a JSON file"
        )
    source = f"embedded {selector!r}"
    return _unexpired(parse_delivery(EMBEDDED_DELIVERIES[selector], source=source), source)


def _unexpired(delivery: DeliveryConfig, source: str) -> DeliveryConfig:
    """Refuse an environment acknowledgment whose review_by has passed, as `load_environment` does for an
    environment given inline in the delivery file (one named by path was checked when it was read)."""
    expired = [
        line
        for index, entry in enumerate(delivery.environments)
        for line in expired_acknowledgments(entry.config, prefix=f"environments.{index}.config.")
    ]
    if expired:
        raise ConfigError("\n".join([f"invalid delivery configuration ({source}):", *expired]))
    return delivery
