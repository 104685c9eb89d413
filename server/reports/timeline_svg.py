"""A case's timeline as SVG: the states it entered, and each clock from its start to its due date
to when it was met or missed (or today, while it runs). Built with ElementTree, so every label is
escaped; it holds dates, state ids, clock titles and the case reference, never personal data."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

WIDTH, LEFT, RIGHT, ROW, TOP = 960, 280, 30, 34, 76
LABEL_CHARS = 40  # what fits the label column at 12 px; the whole label is the row's tooltip
COLOURS = {"met": "#2e7d32", "missed": "#c62828", "overdue": "#c62828", "due_soon": "#ef6c00",
           "pending": "#1565c0"}
STATE_FILL = ("#e3f2fd", "#e8f5e9", "#fff3e0", "#f3e5f5", "#e0f7fa", "#fce4ec")
TICK_STEPS = (1, 2, 7, 14, 28, 91, 182, 364)  # days between grid lines: at most about ten of them


def _day(value: str) -> dt.date:
    return dt.date.fromisoformat(value[:10])


def _label(parent: ET.Element, y: float, text: str, status: str | None = None, colour: str = "#000") -> None:
    """The row's label in the left column; a clock's status goes on a second line in its colour."""
    label = ET.SubElement(parent, "text", x="10", y=str(y + (12 if status else 17)))
    label.text = text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1].rstrip() + "\u2026"
    if status:
        line = ET.SubElement(parent, "text", x="10", y=str(y + 25), fill=colour,
                             **{"font-size": "11", "font-weight": "bold"})
        line.text = status
    ET.SubElement(parent, "title").text = f"{text}: {status}" if status else text


def render(timeline: Mapping[str, Any]) -> str:
    """Each day is a cell of the axis, so a state entered and left on one day, or a case opened
    today, still shows as a bar one day wide rather than a hairline at the left edge."""
    today = _day(timeline["today"])
    states = [(s["state"], _day(s["entered_on"])) for s in timeline["states"]]
    clocks = timeline["clocks"]
    dates = [d for _, d in states] + [today]
    for c in clocks:
        dates += [_day(c["starts"]), _day(c["due"])] + ([_day(c["stopped_on"])] if c.get("stopped_on") else [])
    first, last = min(dates), max(dates)
    days = (last - first).days + 1
    cell = (WIDTH - LEFT - RIGHT) / days

    def x(day: dt.date) -> float:  # the left edge of the day's cell
        return round(LEFT + (day - first).days * cell, 1)

    def mid(day: dt.date) -> float:
        return round(x(day) + cell / 2, 1)

    height = TOP + ROW * (len(states) + len(clocks) + 1) + 40
    svg = ET.Element("svg", xmlns="http://www.w3.org/2000/svg", width=str(WIDTH), height=str(height),
                     viewBox=f"0 0 {WIDTH} {height}", role="img", **{"font-family": "sans-serif", "font-size": "12"})
    ET.SubElement(svg, "title").text = f"Timeline of case {timeline['reference']}"
    head = ET.SubElement(svg, "text", x="10", y="24", **{"font-size": "16", "font-weight": "bold"})
    head.text = f"{timeline['reference']} ({timeline['case_type']}): states and statutory clocks"
    axis = ET.SubElement(svg, "text", x="10", y="46")
    axis.text = f"{first.isoformat()} to {last.isoformat()} ({days} day{'s' if days != 1 else ''})"

    bottom = TOP + ROW * (len(states) + len(clocks))
    step = next((s for s in TICK_STEPS if days / s <= 10), TICK_STEPS[-1])
    grid = ET.SubElement(svg, "g", **{"class": "grid"})
    for n in range(0, days, step):
        day = first + dt.timedelta(days=n)
        ET.SubElement(grid, "line", x1=str(x(day)), y1=str(TOP - 8), x2=str(x(day)), y2=str(bottom),
                      stroke="#eceff1")
        tick = ET.SubElement(grid, "text", x=str(x(day) + 2), y=str(TOP - 12), fill="#546e7a",
                             **{"font-size": "10"})
        tick.text = day.strftime("%d %b")

    y = TOP
    for i, (state, entered) in enumerate(states):
        until = states[i + 1][1] if i + 1 < len(states) else today
        group = ET.SubElement(svg, "g", **{"class": "state", "data-state": state})
        ET.SubElement(group, "rect", x=str(x(entered)), y=str(y), width=str(round(x(until) - x(entered) + cell, 1)),
                      height=str(ROW - 8), fill=STATE_FILL[i % len(STATE_FILL)], stroke="#90a4ae")
        _label(group, y, f"{state} (from {entered.isoformat()})")
        y += ROW

    for c in clocks:
        start, due = _day(c["starts"]), _day(c["due"])
        end = _day(c["stopped_on"]) if c.get("stopped_on") else today
        colour = COLOURS.get(c["status"], "#455a64")
        group = ET.SubElement(svg, "g", **{"class": "clock", "data-clock": c["name"], "data-status": c["status"]})
        _label(group, y, c["title"], c["status"].replace("_", " "), colour)
        centre = y + (ROW - 8) / 2
        ET.SubElement(group, "line", x1=str(x(start)), y1=str(centre), x2=str(mid(due)), y2=str(centre),
                      stroke="#b0bec5", **{"stroke-width": "6"})
        ET.SubElement(group, "line", x1=str(x(start)), y1=str(centre), x2=str(mid(end)), y2=str(centre),
                      stroke=colour, **{"stroke-width": "3"})
        due_mark = ET.SubElement(group, "rect", x=str(mid(due) - 1), y=str(y), width="3", height=str(ROW - 8),
                                 fill="#37474f")
        ET.SubElement(due_mark, "title").text = f"due {due.isoformat()}"
        if c.get("stopped_on"):
            stop = ET.SubElement(group, "circle", cx=str(mid(end)), cy=str(centre), r="6", fill=colour)
            ET.SubElement(stop, "title").text = f"{c['status']} on {end.isoformat()}"
        y += ROW

    ET.SubElement(svg, "line", x1=str(mid(today)), y1=str(TOP - 6), x2=str(mid(today)), y2=str(y),
                  stroke="#000", **{"stroke-dasharray": "4 3", "class": "today"})
    note = ET.SubElement(svg, "text", x=str(min(mid(today) + 4, WIDTH - 110)), y=str(y + 16))
    note.text = f"today {today.isoformat()}"
    return ET.tostring(svg, encoding="unicode")
