"""Monthly list-price estimate of a synthesized landing zone, per environment and region.

Reads the cloud assembly (`cdk.out/manifest.json` and the templates), never AWS. Each priced
resource type has one small function below, registered with `@prices(...)`, that turns a
template resource into line items naming rows of the dated price table (`costs/prices.json`).
Adding a resource type is one row in the table and one function here.

Fixed items (hourly or monthly whatever the traffic) are summed into a monthly figure
(hours x `hours_per_month`); usage-priced items are listed per unit with their price and the
resources they apply to, never multiplied by a guessed volume.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRICE_TABLE = Path(__file__).resolve().parent / "prices.json"
_MONTHLY_UNITS = ("month", "GB-month")
_HOURLY_UNITS = ("hour", "vCPU-hour")
_STACK_NAME = re.compile(
    r"^PciLz-(?P<env>[a-z][a-z0-9-]*)-(?P<part>[A-Z][A-Za-z]*)-(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d)$"
)


@dataclass(frozen=True)
class LineItem:
    """`quantity` of price-table row `item` (fixed) or a usage-priced row that applies (quantity = resources)."""

    item: str
    quantity: float
    resource: str


Resource = dict[str, Any]
Pricer = Callable[[str, Resource, dict[str, Resource]], Iterator[LineItem]]
FIXED: dict[str, Pricer] = {}
USAGE: dict[str, tuple[str, ...]] = {}


def prices(resource_type: str, *, usage: tuple[str, ...] = ()) -> Callable[[Pricer], Pricer]:
    """Register the fixed-price function of a resource type and the usage rows that apply to it."""

    def register(function: Pricer) -> Pricer:
        FIXED[resource_type] = function
        USAGE[resource_type] = usage
        return function

    return register


def _no_fixed_price(_logical_id: str, _resource: Resource, _template: dict[str, Resource]) -> Iterator[LineItem]:
    return iter(())


def _usage_only(resource_type: str, *usage: str) -> None:
    FIXED[resource_type] = _no_fixed_price
    USAGE[resource_type] = usage


def _props(resource: Resource) -> dict[str, Any]:
    properties: dict[str, Any] = resource.get("Properties", {})
    return properties


@prices("AWS::EC2::NatGateway", usage=("nat_gateway_data",))
def _nat_gateway(logical_id: str, _resource: Resource, _template: dict[str, Resource]) -> Iterator[LineItem]:
    yield LineItem("nat_gateway", 1, logical_id)


@prices("AWS::EC2::VPCEndpoint", usage=("vpc_endpoint_data",))
def _vpc_endpoint(logical_id: str, resource: Resource, _template: dict[str, Resource]) -> Iterator[LineItem]:
    """Interface endpoints bill per AZ (one network interface per subnet); gateway endpoints are free."""
    if _props(resource).get("VpcEndpointType") == "Interface":
        yield LineItem("vpc_interface_endpoint_az", len(_props(resource).get("SubnetIds", [])), logical_id)


@prices("AWS::ElasticLoadBalancingV2::LoadBalancer", usage=("alb_lcu",))
def _load_balancer(logical_id: str, resource: Resource, _template: dict[str, Resource]) -> Iterator[LineItem]:
    kind = _props(resource).get("Type", "application")
    yield LineItem("network_load_balancer" if kind == "network" else "application_load_balancer", 1, logical_id)


def _engine(properties: dict[str, Any]) -> str:
    return str(properties.get("Engine", "")).split("-", 1)[0].replace("postgres", "postgresql")


@prices("AWS::RDS::DBInstance", usage=("rds_backup_storage",))
def _db_instance(logical_id: str, resource: Resource, _template: dict[str, Resource]) -> Iterator[LineItem]:
    """Instance hours by engine, class and Multi-AZ; allocated gp3 storage by the GB-month."""
    properties = _props(resource)
    deployment = "multi_az" if properties.get("MultiAZ") else "single_az"
    yield LineItem(f"rds_{_engine(properties)}_{properties.get('DBInstanceClass')}_{deployment}", 1, logical_id)
    storage = str(properties.get("StorageType", "gp2"))
    yield LineItem(f"rds_{storage}_storage_{deployment}", float(properties.get("AllocatedStorage", 0)), logical_id)


@prices("AWS::RDS::DBProxy")
def _db_proxy(logical_id: str, _resource: Resource, template: dict[str, Resource]) -> Iterator[LineItem]:
    """RDS Proxy bills the vCPUs of the instances behind it (minimum 2); here, the template's instances."""
    table = load_price_table()
    vcpus = [
        table["instance_vcpus"].get(str(_props(r).get("DBInstanceClass")), 2)
        for r in template.values()
        if r.get("Type") == "AWS::RDS::DBInstance"
    ]
    yield LineItem("rds_proxy_vcpu", max(2, sum(vcpus)), logical_id)


@prices("AWS::NetworkFirewall::Firewall", usage=("network_firewall_data",))
def _network_firewall(logical_id: str, resource: Resource, _template: dict[str, Resource]) -> Iterator[LineItem]:
    yield LineItem("network_firewall_endpoint", len(_props(resource).get("SubnetMappings", [])), logical_id)


@prices("AWS::KMS::Key", usage=("kms_requests",))
def _kms_key(logical_id: str, _resource: Resource, _template: dict[str, Resource]) -> Iterator[LineItem]:
    yield LineItem("kms_key", 1, logical_id)


@prices("AWS::WAFv2::WebACL", usage=("waf_requests",))
def _web_acl(logical_id: str, resource: Resource, _template: dict[str, Resource]) -> Iterator[LineItem]:
    yield LineItem("waf_web_acl", 1, logical_id)
    yield LineItem("waf_rule", len(_props(resource).get("Rules", [])), logical_id)


@prices("AWS::SecretsManager::Secret", usage=("secrets_api_calls",))
def _secret(logical_id: str, _resource: Resource, _template: dict[str, Resource]) -> Iterator[LineItem]:
    yield LineItem("secret", 1, logical_id)


@prices("AWS::CloudWatch::Alarm")
def _alarm(logical_id: str, _resource: Resource, _template: dict[str, Resource]) -> Iterator[LineItem]:
    yield LineItem("cloudwatch_alarm", 1, logical_id)


_usage_only("AWS::Logs::LogGroup", "logs_ingestion", "logs_storage")
_usage_only("AWS::S3::Bucket", "s3_standard_storage")
_usage_only("AWS::CloudTrail::Trail", "cloudtrail_data_events")
_usage_only("AWS::Config::ConfigurationRecorder", "config_items")
_usage_only("AWS::Config::ConformancePack", "config_rule_evaluations")
_usage_only("AWS::Config::ConfigRule", "config_rule_evaluations")
_usage_only("AWS::SecurityHub::Hub", "securityhub_checks")
_usage_only("AWS::GuardDuty::Detector", "guardduty_cloudtrail_events")
_usage_only("AWS::Lambda::Function", "lambda_requests")
_usage_only("AWS::SNS::Subscription", "sns_email")


def load_price_table(path: Path = PRICE_TABLE) -> dict[str, Any]:
    table: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return table


@dataclass
class RegionEstimate:
    environment: str
    region: str
    fixed: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # item -> quantity
    usage: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # item -> resources it applies to
    unpriced: list[str] = field(default_factory=list)  # "item (resource)" with no row for this region

    def monthly(self, table: dict[str, Any]) -> float:
        return sum(self.item_monthly(table, item) for item in self.fixed)

    def item_monthly(self, table: dict[str, Any], item: str) -> float:
        row = table["fixed"].get(item)
        if row is None or self.region not in row["prices"]:
            return 0.0
        hours = table["hours_per_month"] if row["unit"] in _HOURLY_UNITS else 1
        return float(row["prices"][self.region]) * self.fixed[item] * hours


def _stacks(outdir: Path) -> Iterator[tuple[str, str, dict[str, Resource]]]:
    """(stack name, region, resources) of every stack in the assembly."""
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        region = str(artifact.get("environment", "aws://unknown/unknown")).rsplit("/", 1)[-1]
        template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text(encoding="utf-8"))
        yield artifact.get("displayName", name), region, template.get("Resources", {})


def environment_of(stack_name: str) -> str:
    """`PciLz-<env>-<Part>-<region>` -> `<env>`; any other stack counts under its own name."""
    match = _STACK_NAME.match(stack_name)
    return match["env"] if match else stack_name


def estimate(outdir: Path, table: dict[str, Any] | None = None) -> list[RegionEstimate]:
    """One RegionEstimate per (environment, region) found in the assembly at `outdir`."""
    table = table or load_price_table()
    by_key: dict[tuple[str, str], RegionEstimate] = {}
    for stack_name, region, resources in _stacks(outdir):
        env = environment_of(stack_name)
        result = by_key.setdefault((env, region), RegionEstimate(env, region))
        for logical_id, resource in resources.items():
            kind = str(resource.get("Type"))
            for line in FIXED.get(kind, _no_fixed_price)(logical_id, resource, resources):
                row = table["fixed"].get(line.item)
                if row is None or region not in row["prices"]:
                    result.unpriced.append(f"{line.item} ({stack_name}/{logical_id})")
                    continue
                result.fixed[line.item] += line.quantity
            for item in USAGE.get(kind, ()):
                result.usage[item] += 1
    return sorted(by_key.values(), key=lambda r: (r.environment, r.region))


def render(estimates: list[RegionEstimate], table: dict[str, Any]) -> str:
    """The printed report: fixed items per region, totals, usage-priced items per unit, the table's date."""
    currency = table["currency"]
    lines = [
        f"Monthly list-price estimate ({currency}, On-Demand, {table['hours_per_month']} h/month)",
        f"Prices as of {table['as_of']}: {table['source']}",
        f"Regenerated from the price-list files: {'yes' if table['regenerated_from_price_list'] else 'no'}"
        " (make prices)",
    ]
    totals: dict[str, float] = defaultdict(float)
    for result in estimates:
        lines += ["", f"== {result.environment} / {result.region}: fixed items"]
        for item in sorted(result.fixed):
            row = table["fixed"][item]
            lines.append(
                f"  {row['description']:<64} {result.fixed[item]:>7g} x {row['prices'][result.region]:>8g}"
                f"/{row['unit']:<9} = {result.item_monthly(table, item):>9.2f}"
            )
        monthly = result.monthly(table)
        totals[result.environment] += monthly
        lines.append(f"  {'region total per month':<98} {monthly:>9.2f}")
        for missing in result.unpriced:
            lines.append(f"  NOT PRICED (add a row to costs/prices.json): {missing}")
    for env, total in sorted(totals.items()):
        lines += ["", f"== {env}: total fixed cost per month, all regions: {total:,.2f} {currency}"]
    usage_rows: dict[str, int] = defaultdict(int)
    for result in estimates:
        for item, count in result.usage.items():
            usage_rows[item] += count
    lines += ["", "Usage-priced items (billed per unit on top; volumes are not guessed):"]
    for item in sorted(usage_rows):
        row = table["usage"][item]
        price = "/".join(sorted({f"{p:g}" for p in row["prices"].values()}))
        lines.append(f"  {row['description']:<78} {price:>7} per {row['unit']}  ({usage_rows[item]} resources)")
    return "\n".join(lines) + "\n"


def readme_row(label: str, estimates: list[RegionEstimate], table: dict[str, Any], regions: list[str]) -> str:
    """The README "What it costs" row for one environment: its monthly fixed figure per region (in
    the header's region order; "-" where it deploys nothing) and in total, as `make cost` prints them."""
    currency = table["currency"]
    by_region = {e.region: e.monthly(table) for e in estimates}
    cells = [f"{by_region[r]:,.2f} {currency}" if r in by_region else "-" for r in regions]
    total = sum(by_region.values())
    return f"| {label} | " + " | ".join(cells) + f" | **{total:,.2f} {currency}** |"
