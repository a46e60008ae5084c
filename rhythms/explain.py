"""'How is this computed?': the definitions and periods behind a post's numbers."""

from __future__ import annotations

from typing import Any

from metrics.lookup import catalog_for
from rhythms.blocks import chunk_lines, context, escaped, header, section
from rhythms.config import OrgConfig

TOPICS = {
    "control_tower": (
        "Control tower",
        "Inputs are yesterday's values vs each team's summed daily targets (a day that is over "
        "counts its whole target as due); targets are the active reps' (a manager's own quota "
        "is not added). '% of input pace' is the average over the inputs with a target of "
        "value ÷ pace, each capped at 200%, so dollars and counts weigh alike. Bookings are "
        "month to date vs the monthly target. Coverage = open pipeline ÷ bookings target "
        "remaining this month ('n/a' when nothing remains: no target, or the target already "
        "made). Velocity = open opps × win rate × average deal size ÷ average cycle days over "
        "the last 7 days vs the 7 before (0 when deals closed and none was won); when it fell, "
        "the lever named is the factor that pulled it down most, when it rose the one that "
        "pushed it up most (log split). Coaching "
        "flags look at the last 7 days: calls + emails under 80% of target is 'not enough "
        "activity'; on target but meetings per activity under half the team's rate is 'busy "
        "but not converting'.",
    ),
    "monthly_review": (
        "Monthly review",
        "All figures are for the calendar month, from daily rollups: each person's records "
        "count on their own local days (their time zone), so a deal a Los Angeles rep closes "
        "at 23:30 on the last evening counts in this month. Targets are the active reps'. "
        "Ratios (win rate, conversion) are ratios of sums over the month, never averages of "
        "ratios. Funnel conversion compares each step with the same step over the three "
        "months before. The growth model projects bookings as meetings held per working day × "
        "working days × meeting→opp rate × win rate × average deal size (trailing 90 days; "
        "the rates used are printed under it); 'reps × quota' is the sum of the active reps' "
        "bookings targets. A 0% win rate (deals closed, none won) projects 0. Month-over-month "
        "changes of percentages are in points. Stage conversion follows the deals created in "
        "the month through the stages they reached (each as a % of the step before; a deal "
        "reached a stage if it entered it or a later one, a won deal reached them all), in the "
        "stage order given below. 'What predicts bookings' fits bookings "
        "against each input per rep per week over the last 12 whole weeks (least squares): R² "
        "says how closely an input tracks bookings, not that it causes them; under 10 "
        "rep-weeks no fit is shown, and small samples are flagged.",
    ),
}


def stage_order_text(config: OrgConfig) -> str:
    """Where the review's stage order comes from: `[pipeline] stages`, or inferred."""
    stages = config.pipeline.stages
    if stages:
        order = " → ".join(escaped(stage) for stage in stages)
        return (
            f"*Stage order* from `[pipeline] stages` in the org config: {order}. Listed stages "
            "no deal reached show 0; a deal in a stage not listed counts up to the listed "
            "stages it passed."
        )
    return (
        "*Stage order* inferred from the deals' stage histories (no `[pipeline] stages` in "
        "the org config): open stages by their average position in each deal's history; a "
        "stage every deal that entered it ended in, closed, is taken as a won/lost stage and "
        "left out. A CRM that keeps won and lost deals in their last open stage (Pipedrive) "
        "can drop or misorder that stage: list the stages under `[pipeline] stages`."
    )


def explain_blocks(config: OrgConfig, topic: str) -> tuple[str, list[dict[str, Any]]]:
    title, text = TOPICS.get(topic, ("Metric definitions", ""))
    catalog = catalog_for(config)
    lines = [
        f"*{d.label}* (`{d.name}`, {d.kind}): {d.description}" for d in catalog.metrics.values()
    ]
    blocks = [header(f"How is this computed? · {title}")]
    if text:
        blocks.append(section(text))
    if topic == "monthly_review":
        blocks.append(section(stage_order_text(config)))
    blocks += [section(chunk) for chunk in chunk_lines(lines)][:45]
    blocks.append(
        context(
            f"Days are local days; working days follow [calendar] "
            f"({config.calendar.country or 'no public holidays'})."
        )
    )
    return f"How is this computed? {title}", blocks
