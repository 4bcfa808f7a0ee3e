"""`python -m costs.prices --write costs/prices.json` (`make prices`): regenerate the price table.

Every row of costs/prices.json names the AWS Price List offer it comes from (`price_list`:
service code, a usage-type suffix and product attributes). This reads the public regional
offer files of the AWS Price List Bulk API,
`https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<service>/current/<region>/index.json`,
finds the one On-Demand price of each row in each region, and rewrites the table with today's
date. It needs internet; a row that matches no product, or more than one price, is an error
naming the row (no old price is kept silently).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from costs.estimate import PRICE_TABLE

OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{service}/current/{region}/index.json"
Offer = dict[str, Any]


def fetch_offer(service: str, region: str) -> Offer:  # pragma: no cover - needs internet
    url = OFFER_URL.format(service=service, region=region)
    with urllib.request.urlopen(url, timeout=300) as response:  # noqa: S310 - a fixed https AWS URL
        offer: Offer = json.load(response)
    return offer


def _matches(product: dict[str, Any], selector: dict[str, Any]) -> bool:
    attributes = {**product.get("attributes", {}), "productFamily": product.get("productFamily")}
    suffix = selector.get("usagetype_suffix")
    if suffix and not str(attributes.get("usagetype", "")).endswith(suffix):
        return False
    return all(attributes.get(k) == v for k, v in selector.get("attributes", {}).items())


def on_demand_price(offer: Offer, selector: dict[str, Any]) -> float:
    """The first-tier On-Demand USD price of the products `selector` matches; exactly one must exist."""
    found: set[float] = set()
    for sku, product in offer.get("products", {}).items():
        if not _matches(product, selector):
            continue
        for term in offer.get("terms", {}).get("OnDemand", {}).get(sku, {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                if str(dimension.get("beginRange", "0")) == "0":
                    found.add(float(dimension["pricePerUnit"]["USD"]))
    if len(found) != 1:
        raise LookupError(f"{len(found)} distinct prices ({sorted(found)}) for {selector}")
    return found.pop()


def regenerate(table: dict[str, Any], fetch: Callable[[str, str], Offer] = fetch_offer) -> dict[str, Any]:
    """A copy of `table` with every row's price per region read from the offer files (one fetch per service/region)."""
    offers: dict[tuple[str, str], Offer] = {}
    errors: list[str] = []
    result: dict[str, Any] = json.loads(json.dumps(table))
    for section in ("fixed", "usage"):
        for name, row in result[section].items():
            for region in row["prices"]:
                key = (row["price_list"]["service"], region)
                if key not in offers:
                    offers[key] = fetch(*key)
                try:
                    row["prices"][region] = on_demand_price(offers[key], row["price_list"])
                except LookupError as err:
                    errors.append(f"{section}.{name} in {region}: {err}")
    if errors:
        raise LookupError("rows the price list did not price:\n  " + "\n  ".join(errors))
    result["as_of"] = datetime.datetime.now(datetime.UTC).date().isoformat()
    result["regenerated_from_price_list"] = True
    result["note"] = "Regenerated from the AWS Price List Bulk API offer files by `make prices`."
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, default=PRICE_TABLE)
    args = parser.parse_args(argv)
    table = json.loads(args.write.read_text(encoding="utf-8"))
    try:
        fresh = regenerate(table)
    except OSError as err:
        print(f"error: cannot reach the AWS price list (needs internet): {err}", file=sys.stderr)
        return 2
    except LookupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    args.write.write_text(json.dumps(fresh, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.write} (prices as of {fresh['as_of']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
