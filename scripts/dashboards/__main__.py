"""Write dashboards/*.json, or with --check fail when a committed file is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scripts.dashboards import overview, usage
from scripts.dashboards.board import render
from scripts.render_rules import stale

DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "dashboards"
DASHBOARDS = {
    "llm-gateway-overview.json": overview.build,
    "llm-gateway-usage.json": usage.build,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.dashboards", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when a committed file is stale")
    args = parser.parse_args(argv)
    rendered = {name: render(build()) for name, build in DASHBOARDS.items()}
    if args.check:
        stale_files = stale(rendered, DASHBOARDS_DIR, "*.json")
        if stale_files:
            print(  # noqa: T201
                f"stale: {', '.join(stale_files)}; run `.venv/bin/python -m scripts.dashboards`",
                file=sys.stderr,
            )
        return 1 if stale_files else 0
    for name, text in rendered.items():
        (DASHBOARDS_DIR / name).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
