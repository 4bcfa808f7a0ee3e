"""`python -m costs [cdk.out]`: print the monthly estimate of the assembly's environments and regions."""

from __future__ import annotations

import sys
from pathlib import Path

from costs.estimate import estimate, load_price_table, render


def main(argv: list[str]) -> int:
    outdir = Path(argv[0] if argv else "cdk.out")
    if not (outdir / "manifest.json").exists():
        print(f"error: no cloud assembly in {outdir}: run make synth (or make cost) first", file=sys.stderr)
        return 2
    table = load_price_table()
    estimates = estimate(outdir, table)
    print(render(estimates, table), end="")
    return 1 if any(e.unpriced for e in estimates) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
