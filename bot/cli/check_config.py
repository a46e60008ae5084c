"""`drumbeat check-config [PATH]`: validate the org config and print every problem."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape

from bot.cli.common import console, print_config_error
from bot.settings import Settings
from rhythms.config import ConfigError, OrgConfig, load_org_config
from rhythms.config_warnings import rhythm_warnings


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "check-config",
        help="validate drumbeat.toml and list every problem with its path",
        description=(
            "Validate the org config (default: DRUMBEAT_CONFIG or ./drumbeat.toml). Prints each "
            "problem as 'path.in.file: message' and exits 2 if there is any."
        ),
    )
    parser.add_argument("path", nargs="?", type=Path, help="config file to check")
    parser.add_argument(
        "--crm",
        action="store_true",
        help="also list CRM owners in the database that map to no person, and compare "
        "[pipeline] stages with the stages the stored deals entered",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    path: Path = args.path or settings.config_path
    try:
        cfg = load_org_config(path)
    except ConfigError as exc:
        print_config_error(exc)
        return 2
    reps = sum(1 for p in cfg.people if p.role == "rep")
    enabled = sum(1 for r in cfg.rhythms.values() if r.enabled)
    console.print(
        f"[green]ok[/] {escape(str(path))}: {len(cfg.teams)} teams, "
        f"{len(cfg.people)} people ({reps} reps), "
        f"{len(cfg.metrics)} metrics configured, {enabled}/{len(cfg.rhythms)} rhythms on, "
        f"{len(cfg.alerts)} alert rules"
    )
    for warning in config_warnings(cfg):
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    if args.crm:
        from bot.cli.crm_check import report_unmatched_owners
        from bot.cli.stage_check import report_stage_list

        if cfg.pipeline.stages:
            code = report_stage_list(settings, cfg)
            if code:  # the database cannot be read: the owners check would only say it again
                return code
        return report_unmatched_owners(settings, cfg)
    return 0


def config_warnings(cfg: OrgConfig) -> list[str]:
    """What is valid but probably not meant: a config that would send nothing to anyone."""
    if not cfg.people:
        return ["no people: every rhythm has no one to send to (add [[people]])"]
    warnings = []
    reps = [p for p in cfg.people if p.role == "rep"]
    if not reps:
        warnings.append("no reps: scoreboards and team targets are empty")
    staffed = {p.team for p in reps}
    warnings += [f"team {t.key!r} has no reps" for t in cfg.teams if t.key not in staffed and reps]
    return warnings + rhythm_warnings(cfg)
