"""The monthly review in Slack and on paper: Block Kit, charts, the month's PDF pack, and
the rhythm declaration (it posts on the first working day of the month only)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.charts import renderer
from metrics.models import Person
from metrics.pdf import ImagePage, TextPage, write_pdf
from rhythms.blocks import (
    actions,
    button,
    context,
    divider,
    escaped,
    fields,
    fmt_number,
    header,
    section,
    status_dot,
)
from rhythms.game_plan import OPEN_ACTION as GAME_PLAN_OPEN
from rhythms.models import AlertEvent, AlertState, Reply
from rhythms.monthly_review import (
    DRIVER_MIN_SAMPLES,
    Drivers,
    Line,
    Review,
    monthly_review,
    shift_month,
)
from rhythms.registry import Outgoing, Recipient, RhythmSpec, RunContext

EXPLAIN_ACTION = "explain_metric"


# what a line's `excluded` records are, by metric (avg deal size shares bookings' count)
EXCLUDED_NOUN = {"bookings": "won deal", "pipeline_created": "new deal"}


def _line(line: Line, currency: str) -> str:
    value = "–" if line.value is None else fmt_number(line.value, line.unit, currency)
    text = f"{status_dot(line.status)} *{line.label}* {value}"
    if line.target is not None:
        text += f" of {fmt_number(line.target, line.unit, currency)}"
    if line.previous is not None and line.value is not None:
        if line.unit == "percent":  # 20% → 30% is +10 points, not +50%
            text += f" ({(line.value - line.previous) * 100:+.0f} pts MoM)"
        elif line.previous:
            text += f" ({line.value / line.previous - 1:+.0%} MoM)"
    noun = EXCLUDED_NOUN.get(line.metric)
    if line.excluded and noun:
        plural = "" if line.excluded == 1 else "s"
        text += f" ({line.excluded} {noun}{plural} without a usable amount not counted)"
    return text


def _velocity_section(review: Review) -> str:
    v, cur = review.velocity, review.currency
    if v.value is None:
        return "*Revenue velocity* – not enough closed deals this month to compute it"
    accel = review.acceleration
    accel_text = f", {accel:+.0%} vs last month" if accel is not None else ""
    head = f"*Revenue velocity* {fmt_number(v.value, 'currency', cur)}/day{accel_text}"
    if v.note:  # 0% win rate: no deal size or cycle to show
        return f"{head} — {v.open_opportunities} open opps, {v.note}"
    return (
        f"{head} — {v.open_opportunities} open opps × {v.win_rate or 0:.0%} win × "
        f"{fmt_number(v.avg_deal_size or 0, 'currency', cur)} ÷ {v.cycle_days or 0:.0f} days"
    )


def _span(start: dt.date, end: dt.date) -> str:
    return f"{start.day} {start:%b} – {end.day} {end:%b %Y}"


def drivers_text(d: Drivers) -> str:
    """The top inputs by R² against the output, per rep-week; or one line saying why not."""
    weeks = ((d.end - d.start).days + 1) // 7
    head = (
        f"*What predicts {d.output_label.lower()}* (per rep per week, {weeks} weeks "
        f"{_span(d.start, d.end)}; how closely each input tracks it, not what causes it)"
    )
    if not d.lines:
        if d.samples < DRIVER_MIN_SAMPLES:
            why = (
                f"only {d.samples} rep-week{'' if d.samples == 1 else 's'} of data "
                f"(at least {DRIVER_MIN_SAMPLES} needed), so no fit is shown."
            )
        else:
            why = f"no input metric varied across the {d.samples} rep-weeks, so no fit is shown."
        return f"{head}\nNot enough data to say: {why}"
    return "\n".join(
        [head] + [f"• {line.label} — R² {line.r2:.2f} over {line.n} rep-weeks" for line in d.lines]
    )


def stage_text(review: Review) -> str:
    """The month's cohort by stage reached: "12 created → demo 9 (75%) → proposal 4 (44%)"."""
    head = f"*Stage conversion* · deals created in {review.label}, by stage reached"
    cohort = review.cohort
    if cohort is None:
        return f"{head}\nNo deal created in {review.label} has a stage history yet."
    parts = [f"{cohort.steps[0].count:.0f} created"]
    for step in cohort.steps[1:]:
        rate = "" if step.conversion is None else f" ({step.conversion:.0%})"
        parts.append(f"{escaped(step.label)} {step.count:.0f}{rate}")
    return f"{head} (% of the step before)\n" + " → ".join(parts)


def review_message(review: Review) -> dict[str, Any]:
    cur = review.currency
    blocks: list[dict[str, Any]] = [
        header(f"Monthly business review · {review.label}"),
        section("*Outputs vs target*\n" + "\n".join(_line(ln, cur) for ln in review.org)),
    ]
    for team in review.teams:
        items = [_line(ln, cur) for ln in (*team.outputs, *team.inputs)]
        blocks.append(fields([f"*{team.team_name}*", *items][:10]))
    conv = []
    for now, before in zip(review.funnel[1:], review.funnel_prior[1:], strict=True):
        if now.conversion is None:
            continue
        prior = f" (prior 3 months {before.conversion:.0%})" if before.conversion else ""
        conv.append(f"• {now.label}: {now.conversion:.0%}{prior}")
    if conv:
        blocks.append(section("*Funnel conversion by step*\n" + "\n".join(conv)))
    blocks.append(section(stage_text(review)))
    blocks.append(section(_velocity_section(review)))
    if review.drivers is not None:
        blocks.append(section(drivers_text(review.drivers)))
        if review.drivers.warnings:
            blocks.append(context(*review.drivers.warnings[:3]))
    if review.performers:
        blocks.append(
            section(
                "*Credit where due* 🏆\n"
                + "\n".join(f"• *{p.name}* ({p.team_name}): {p.why}" for p in review.performers)
            )
        )
    blocks.append(divider())
    blocks.append(section(growth_text(review)))
    if review.growth.warnings:
        blocks.append(context(*review.growth.warnings[:3]))
    blocks.append(
        actions(
            button("How is this computed?", EXPLAIN_ACTION, "monthly_review"),
            button(
                "Add your game plan",
                GAME_PLAN_OPEN,
                f"{shift_month(review.month, 1):%Y-%m}",
                style="primary",
            ),
            block_id="review_actions",
        )
    )
    booked = next((ln for ln in review.org if ln.metric == "bookings"), None)
    summary = f"Monthly review {review.label}"
    if booked and booked.value is not None:
        summary += f": {fmt_number(booked.value, 'currency', cur)} booked"
    return {"text": summary, "blocks": blocks[:50]}


def chain_text(review: Review) -> str:
    """The conversion chain the projection and the inputs needed use, so a reader can redo
    them: "at 51% meeting→opp × 33% win rate × $27.8k average deal, trailing 90 days"."""
    g = review.growth
    days = (g.trailing_end - g.trailing_start).days + 1

    def pct(rate: float | None) -> str:
        return "–" if rate is None else f"{rate:.0%}"

    size = (
        "–" if g.avg_deal_size is None else fmt_number(g.avg_deal_size, "currency", review.currency)
    )
    return (
        f"at {pct(g.meeting_to_opportunity)} meeting→opp × {pct(g.win_rate)} win rate × "
        f"{size} average deal, trailing {days} days "
        f"({g.meetings_per_working_day:.1f} meetings held per working day)"
    )


def growth_text(review: Review) -> str:
    g, cur = review.growth, review.currency
    month = g.month
    lines = ["*Game plan: the growth model* (volumes × conversion, not reps × quota)"]
    if month.projected_bookings is None:
        lines.append("Not enough history to project: conversion rates are unknown.")
        return "\n".join(lines)
    lines.append(
        f"{month.label}: projected {fmt_number(month.projected_bookings, 'currency', cur)}"
        + (
            f" vs target {fmt_number(month.target, 'currency', cur)}"
            if month.target is not None
            else ""
        )
        + (
            f" (reps × quota {fmt_number(month.naive, 'currency', cur)})"
            if month.naive is not None and month.naive != month.target
            else ""
        )
    )
    if month.target is not None and month.meetings_needed is not None:
        lines.append(
            f"To make {fmt_number(month.target, 'currency', cur)} you need "
            f"{month.meetings_needed} meetings held ({month.opportunities_needed} opps, "
            f"{month.deals_needed} wins) at current conversion; trailing pace is "
            f"{g.meetings_per_working_day * month.working_days:.0f} meetings."
        )
    elif month.target is not None and g.bookings_per_meeting == 0:
        lines.append(
            f"No number of meetings makes {fmt_number(month.target, 'currency', cur)} "
            "at current conversion: a rate in the chain is 0."
        )
    lines.append(f"Current conversion: {chain_text(review)}.")
    quarter = g.quarter
    if quarter.projected_bookings is not None:
        lines.append(
            f"Next 3 months: {fmt_number(quarter.projected_bookings, 'currency', cur)}"
            + (
                f" vs {fmt_number(quarter.target, 'currency', cur)} target"
                if quarter.target is not None
                else ""
            )
        )
    return "\n".join(lines)


def review_charts(review: Review) -> list[tuple[str, bytes]]:
    """(title, png): cumulative bookings vs target, the funnel, the growth projection."""
    charts = renderer()
    out: list[tuple[str, bytes]] = []
    if review.daily_bookings:
        running, total = [], 0.0
        for value in review.daily_bookings:
            total += value
            running.append(total)
        days = [review.month + dt.timedelta(days=i) for i in range(len(running))]
        out.append(
            (
                "Bookings this month",
                charts.trend(
                    f"Bookings, {review.label} (cumulative)",
                    days,
                    running,
                    target=review.bookings_target,
                    unit="currency",
                    currency=review.currency,
                ),
            )
        )
    if review.funnel:
        out.append(
            (
                "Funnel",
                charts.funnel(
                    f"Funnel, {review.label}", [(s.label, s.count) for s in review.funnel]
                ),
            )
        )
    g = review.growth
    if g.month.projected_bookings is not None and g.quarter.projected_bookings is not None:
        out.append(
            (
                "Growth model",
                charts.growth(
                    "Projected bookings vs target",
                    [g.month.label, g.quarter.label],
                    [g.month.projected_bookings, g.quarter.projected_bookings],
                    [g.month.target, g.quarter.target],
                    [g.month.naive, g.quarter.naive],
                    currency=review.currency,
                ),
            )
        )
    return out


def month_pack(session: Session, review: Review, charts: Sequence[tuple[str, bytes]]) -> bytes:
    """The month's PDF: the review, the charts, MAPLE updates and emergencies with acks."""
    message = review_message(review)
    text = [_plain(b) for b in message["blocks"] if b.get("type") in ("section", "context")]
    for b in message["blocks"]:
        for f in b.get("fields") or []:
            text.append(_plain({"text": f}))
    pages: list[TextPage | ImagePage] = [
        TextPage(
            f"Monthly business review · {review.label}", [ln for t in text for ln in t.splitlines()]
        )
    ]
    pages += [ImagePage(title, png) for title, png in charts]
    pages.append(TextPage("MAPLE updates", maple_lines(session, review.month)))
    pages.append(
        TextPage("Emergencies and acknowledgements", emergency_lines(session, review.month))
    )
    return write_pdf(pages, title=f"Drumbeat monthly pack {review.label}")


def _plain(block: dict[str, Any]) -> str:
    text = block.get("text")
    if isinstance(text, dict):
        text = text.get("text")
    if text is None and block.get("elements"):
        text = " · ".join(str(e.get("text", "")) for e in block["elements"])
    text = str(text or "").replace("*", "")
    for dot, word in (("🟢", "[on target]"), ("🟡", "[close]"), ("🔴", "[behind]")):
        text = text.replace(dot, word)
    return text


def _weeks_in(month: dt.date) -> set[str]:
    nxt = shift_month(month, 1)
    day, weeks = month, set()
    while day < nxt:
        year, week, _ = day.isocalendar()
        weeks.add(f"{year}-W{week:02d}")
        day += dt.timedelta(days=1)
    return weeks


def maple_lines(session: Session, month: dt.date) -> list[str]:
    rows = session.execute(
        select(Reply, Person)
        .join(Person, Person.id == Reply.person_id)
        .where(Reply.period_key.in_(sorted(_weeks_in(month))), Reply.status == "submitted")
        .order_by(Reply.period_key, Person.name)
    ).all()
    lines: list[str] = []
    for reply, person in rows:
        lines.append(f"{reply.period_key} · {person.name}")
        for key in ("advanced", "planned", "learnings", "emergencies"):
            value = str(reply.answers.get(key) or "").strip()
            if value:
                lines.append(f"  {key[0].upper()}: " + " / ".join(value.splitlines()))
    return lines


def emergency_lines(session: Session, month: dt.date) -> list[str]:
    start = dt.datetime.combine(month, dt.time(), dt.UTC)
    end = dt.datetime.combine(shift_month(month, 1), dt.time(), dt.UTC)
    events = session.scalars(
        select(AlertEvent)
        .where(AlertEvent.rule == "maple-emergency", AlertEvent.at >= start, AlertEvent.at < end)
        .order_by(AlertEvent.at)
    ).all()
    states = {
        s.subject: s
        for s in session.scalars(select(AlertState).where(AlertState.rule == "maple-emergency"))
    }
    lines = []
    for e in events:
        if e.event != "fire":
            continue
        state = states.get(e.subject)
        reply = session.get(Reply, int(e.subject.split(":")[1]))
        text = str(reply.answers.get("emergencies") or "") if reply else ""
        ack = (
            f"acknowledged by {state.acked_by} at {state.acked_at:%Y-%m-%d %H:%M} UTC"
            if state and state.acked_by and state.acked_at
            else "not acknowledged"
        )
        lines.append(f"{e.at:%Y-%m-%d %H:%M} UTC · {text} · {ack}")
    return lines


def first_working_day(ctx: RunContext) -> bool:
    day = ctx.local_day.replace(day=1)
    while not ctx.calendar.is_working_day(day):
        day += dt.timedelta(days=1)
    return day == ctx.local_day


def monthly_review_spec() -> RhythmSpec:
    def compose(ctx: RunContext, recipients: Sequence[Recipient]) -> list[Outgoing]:
        if not first_working_day(ctx):
            return []
        month = shift_month(ctx.local_day.replace(day=1), -1)
        review = monthly_review(ctx.session, config=ctx.config, month=month)
        targets = [ctx.rhythm.channel or ctx.config.slack.leadership_channel or ""]
        targets += [r.slack_user_id for r in recipients if r.slack_user_id]
        charts = review_charts(review)
        pdf = month_pack(ctx.session, review, charts)
        out: list[Outgoing] = []
        for target in dict.fromkeys(t for t in targets if t):
            out.append(Outgoing(recipient=target, payload=review_message(review)))
            for i, (title, png) in enumerate(charts):
                out.append(
                    Outgoing(
                        recipient=target,
                        kind="upload",
                        part=f"chart:{i}",
                        thread_part="main",
                        payload={
                            "filename": f"review-{month:%Y-%m}-{i}.png",
                            "title": title,
                            "content_base64": base64.b64encode(png).decode(),
                        },
                    )
                )
            out.append(
                Outgoing(
                    recipient=target,
                    kind="upload",
                    part="pack",
                    thread_part="main",
                    payload={
                        "filename": f"drumbeat-pack-{month:%Y-%m}.pdf",
                        "title": f"Monthly pack {review.label}",
                        "content_base64": base64.b64encode(pdf).decode(),
                    },
                )
            )
        return out

    return RhythmSpec(
        kind="monthly_review",
        compose=compose,
        description="Month in review, charts, growth model and the PDF pack",
    )
