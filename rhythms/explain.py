"""'How is this computed?': the definitions and periods behind a post's numbers."""

from __future__ import annotations

from typing import Any

from metrics.lookup import catalog_for
from rhythms.blocks import chunk_lines, context, header, section
from rhythms.config import OrgConfig

TOPICS = {
    "control_tower": (
        "Control tower",
        "Inputs are yesterday's values vs each team's summed daily targets (a day that is over "
        "counts its whole target as due). Bookings are month to date vs the monthly target. "
        "Coverage = open pipeline ÷ bookings target remaining this month. Velocity = open opps "
        "× win rate × average deal size ÷ average cycle days over the last 7 days vs the 7 "
        "before; the lever is the factor whose change moved it most (log split). Coaching "
        "flags look at the last 7 days: calls + emails under 80% of target is 'not enough "
        "activity'; on target but meetings per activity under half the team's rate is 'busy "
        "but not converting'.",
    ),
    "monthly_review": (
        "Monthly review",
        "All figures are for the calendar month in the org's time zone, from daily rollups. "
        "Ratios (win rate, conversion) are ratios of sums over the month, never averages of "
        "ratios. Funnel conversion compares each step with the same step over the three "
        "months before. The growth model projects bookings as meetings held per working day × "
        "working days × meeting→opp rate × win rate × average deal size (trailing 90 days); "
        "'reps × quota' is the sum of people's bookings targets.",
    ),
}


def explain_blocks(config: OrgConfig, topic: str) -> tuple[str, list[dict[str, Any]]]:
    title, text = TOPICS.get(topic, ("Metric definitions", ""))
    catalog = catalog_for(config)
    lines = [
        f"*{d.label}* (`{d.name}`, {d.kind}): {d.description}" for d in catalog.metrics.values()
    ]
    blocks = [header(f"How is this computed? · {title}")]
    if text:
        blocks.append(section(text))
    blocks += [section(chunk) for chunk in chunk_lines(lines)][:45]
    blocks.append(
        context(
            f"Days are local days; working days follow [calendar] "
            f"({config.calendar.country or 'no public holidays'})."
        )
    )
    return f"How is this computed? {title}", blocks
