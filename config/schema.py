"""JSON Schema of an environment file, generated from the pydantic models.

`python -m config.schema envs/environment.schema.json` (`make schema`) writes it; a test fails
when the committed file differs from what the models generate, so editors always complete and
check against the current fields. YAML files point at it with a first-line comment
`# yaml-language-server: $schema=environment.schema.json`; JSON files with a `"$schema"` key,
which the loader ignores.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from config.loader import SCHEMA_KEY
from config.models import EnvironmentConfig


def environment_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of EnvironmentConfig, plus the `$schema` key files may carry."""
    schema = EnvironmentConfig.model_json_schema(mode="validation")
    schema["properties"] = {
        SCHEMA_KEY: {"type": "string", "description": "Path or URL of this schema, for editors; ignored."},
        **schema["properties"],
    }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def render() -> str:
    return json.dumps(environment_schema(), indent=2, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m config.schema OUTPUT.json", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(render(), encoding="utf-8")
    print(f"wrote {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
