"""`make cost`: monthly list-price figures per region and in total, from the session's synth and the dated table."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest

from costs.__main__ import main as cost_main
from costs.estimate import FIXED, USAGE, RegionEstimate, estimate, load_price_table, readme_row, render
from costs.prices import on_demand_price, regenerate
from tests.conftest import ROOT, Synthesized

README = ROOT / "README.md"


def readme_cost_rows() -> tuple[list[str], dict[str, str]]:
    """The regions of README's "What it costs" table header and its rows, by the environment label."""
    section = README.read_text(encoding="utf-8").split("## What it costs", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {line.split(" | ", 1)[0].removeprefix("| "): line for line in lines[1:]}  # "|---|" is no "| " line
    return header[1:-1], rows


def readme_label(environment: str) -> str:
    """The label a README cost row starts with (up to its first space)."""
    _, rows = readme_cost_rows()
    return next(label for label in rows if label.startswith(f"`{environment}`"))


@pytest.fixture(scope="module")
def estimates(synthesized: Synthesized) -> list[RegionEstimate]:
    return estimate(synthesized.outdir)


def test_the_price_table_names_its_date_and_source() -> None:
    table = load_price_table()
    assert datetime.date.fromisoformat(table["as_of"])
    assert "AWS Price List" in table["source"]
    assert table["currency"] == "USD"
    assert table["hours_per_month"] == 730


def test_every_row_names_its_price_list_offer_and_unit() -> None:
    table = load_price_table()
    for section in ("fixed", "usage"):
        for name, row in table[section].items():
            assert row["price_list"]["service"], name
            assert row["unit"], name
            assert all(price > 0 for price in row["prices"].values()), name


def test_every_usage_row_a_resource_type_names_exists() -> None:
    table = load_price_table()
    assert {item for items in USAGE.values() for item in items} <= set(table["usage"])
    assert set(FIXED) >= set(USAGE)


def test_default_environment_is_priced_per_region(estimates: list[RegionEstimate], synthesized: Synthesized) -> None:
    table = load_price_table()
    assert [(e.environment, e.region) for e in estimates] == [("default", "us-east-1"), ("default", "us-west-2")]
    for result in estimates:
        assert not result.unpriced, result.unpriced
        assert result.fixed["nat_gateway"] == 2  # one per AZ
        assert result.fixed["vpc_interface_endpoint_az"] == 10  # 5 interface endpoints (X-Ray: #10) x 2 AZs
        assert result.fixed["application_load_balancer"] == 1
        assert result.fixed["rds_postgresql_db.m7g.large_multi_az"] == 1
        assert result.fixed["rds_gp3_storage_multi_az"] == 100
        assert result.fixed["rds_proxy_vcpu"] == 2
        assert result.fixed["kms_key"] == 8  # the key ring's 6, the vault's environment key, its HMAC key (v1)
        assert result.fixed["waf_web_acl"] == 1
        assert result.monthly(table) > 0
    home = estimates[0]
    alarms = sum(
        1
        for name, template in synthesized.templates()
        if name.endswith(home.region)
        for body in template.get("Resources", {}).values()
        if body["Type"] == "AWS::CloudWatch::Alarm"
    )
    assert alarms >= 14  # the trail's security alarms, at least
    assert home.fixed["cloudwatch_alarm"] == alarms


def test_report_prints_region_and_total_figures_and_usage_per_unit(estimates: list[RegionEstimate]) -> None:
    table = load_price_table()
    text = render(estimates, table)
    assert f"Prices as of {table['as_of']}" in text
    assert text.count("region total per month") == 2
    total = re.search(r"default: total fixed cost per month, all regions: ([\d,.]+) USD", text)
    assert total is not None
    assert float(total[1].replace(",", "")) == pytest.approx(sum(e.monthly(table) for e in estimates), abs=0.01)
    assert "Usage-priced items" in text
    assert "0.045 per GB processed" in text  # NAT data, per unit, no volume


def test_make_cost_entry_point_prints_the_estimate(
    synthesized: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cost_main([str(synthesized.outdir)]) == 0
    assert "total fixed cost per month" in capsys.readouterr().out


def _offer(usagetype: str, price: str, **attributes: str) -> dict[str, Any]:
    return {
        "products": {
            "SKU1": {
                "productFamily": attributes.pop("productFamily", "X"),
                "attributes": {"usagetype": usagetype, **attributes},
            }
        },
        "terms": {
            "OnDemand": {
                "SKU1": {
                    "SKU1.T": {"priceDimensions": {"SKU1.T.D": {"beginRange": "0", "pricePerUnit": {"USD": price}}}}
                }
            }
        },
    }


def test_prices_regenerate_from_price_list_offer_files() -> None:
    """`make prices` reads the AWS Price List offer format; here from small offers of that shape."""
    table = {
        "as_of": "2000-01-01",
        "regenerated_from_price_list": False,
        "fixed": {
            "nat_gateway": {
                "price_list": {"service": "AmazonEC2", "usagetype_suffix": "NatGateway-Hours"},
                "prices": {"us-west-2": 1.0},
            }
        },
        "usage": {},
    }
    fresh = regenerate(table, fetch=lambda service, region: _offer("USW2-NatGateway-Hours", "0.0450000000"))
    assert fresh["fixed"]["nat_gateway"]["prices"] == {"us-west-2": 0.045}
    assert fresh["regenerated_from_price_list"] is True
    assert fresh["as_of"] != "2000-01-01"


def test_a_row_the_price_list_cannot_price_is_an_error() -> None:
    with pytest.raises(LookupError, match="0 distinct prices"):
        on_demand_price(_offer("USE1-Other", "1"), {"usagetype_suffix": "NatGateway-Hours"})


def test_the_readme_cost_figures_are_what_make_cost_prints_for_the_default(estimates: list[RegionEstimate]) -> None:
    """Issue #18 case 7: the README quotes `make cost`'s own figures (run `make cost` to see them)."""
    regions, rows = readme_cost_rows()
    label = readme_label("default")
    assert rows[label] == readme_row(label, estimates, load_price_table(), regions)
