"""SBOM names shared by synth-time evidence and CI tooling, with no CDK import (so `make audit` stays light)."""

from __future__ import annotations

from pathlib import Path


def sbom_label(relative: str) -> str:
    """The SBOM name `make audit` gives a requirements file, from its path relative to the project root:
    `lambda/api/requirements.txt` -> `lambda-api`, `requirements-dev.txt` -> `requirements-dev`. Here, not in
    ci_tools/ or beside the bundler: the evidence (synth time) names the same SBOMs and must not import CI
    tooling."""
    parts = Path(relative).parts
    if parts and parts[0] == "lambda":
        return f"lambda-{parts[1]}"
    return Path(relative).stem
