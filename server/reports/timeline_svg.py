"""A case's timeline as SVG: the states it entered, and each clock from its start to its due date
to when it was met or missed (or today, while it runs). Built with ElementTree, so every label is
escaped; it holds dates, state ids, clock titles and the case reference, never personal data."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

WIDTH, LEFT, RIGHT, ROW, TOP = 960, 230, 30, 34, 60
COLOURS = {"met": "#2e7d32", "missed": "#c62828", "overdue": "#c62828", "due_soon": "#ef6c00",
           "pending": "#1565c0"}
STATE_FILL = ("#e3f2fd", "#e8f5e9", "#fff3e0", "#f3e5f5", "#e0f7fa", "#fce4ec")


def _day(value: str) -> dt.date:
    return dt.date.fromisoformat(value[:10])


def render(timeline: Mapping[str, Any]) -> str:
    today = _day(timeline["today"])
    states = [(s["state"], _day(s["entered_on"])) for s in timeline["states"]]
    clocks = timeline["clocks"]
    dates = [d for _, d in states] + [today]
    for c in clocks:
        dates += [_day(c["starts"]), _day(c["due"])] + ([_day(c["stopped_on"])] if c.get("stopped_on") else [])
    first, last = min(dates), max(dates)
    span = max((last - first).days, 1)

    def x(day: dt.date) -> float:
        return round(LEFT + (day - first).days / span * (WIDTH - LEFT - RIGHT), 1)

    height = TOP + ROW * (len(states) + len(clocks) + 1) + 40
    svg = ET.Element("svg", xmlns="http://www.w3.org/2000/svg", width=str(WIDTH), height=str(height),
                     viewBox=f"0 0 {WIDTH} {height}", role="img", **{"font-family": "sans-serif", "font-size": "12"})
    ET.SubElement(svg, "title").text = f"Timeline of case {timeline['reference']}"
    head = ET.SubElement(svg, "text", x="10", y="24", **{"font-size": "16", "font-weight": "bold"})
    head.text = f"{timeline['reference']} ({timeline['case_type']}): states and statutory clocks"
    axis = ET.SubElement(svg, "text", x=str(LEFT), y="46")
    axis.text = f"{first.isoformat()} to {last.isoformat()}"

    y = TOP
    for i, (state, entered) in enumerate(states):
        until = states[i + 1][1] if i + 1 < len(states) else today
        group = ET.SubElement(svg, "g", **{"class": "state", "data-state": state})
        ET.SubElement(group, "rect", x=str(x(entered)), y=str(y), width=str(max(x(until) - x(entered), 2)),
                      height=str(ROW - 8), fill=STATE_FILL[i % len(STATE_FILL)], stroke="#90a4ae")
        label = ET.SubElement(group, "text", x="10", y=str(y + 17))
        label.text = f"{state} (from {entered.isoformat()})"
        y += ROW

    for c in clocks:
        start, due = _day(c["starts"]), _day(c["due"])
        end = _day(c["stopped_on"]) if c.get("stopped_on") else today
        colour = COLOURS.get(c["status"], "#455a64")
        group = ET.SubElement(svg, "g", **{"class": "clock", "data-clock": c["name"], "data-status": c["status"]})
        label = ET.SubElement(group, "text", x="10", y=str(y + 17))
        label.text = f"{c['title']}: {c['status'].replace('_', ' ')}"
        mid = y + (ROW - 8) / 2
        ET.SubElement(group, "line", x1=str(x(start)), y1=str(mid), x2=str(x(due)), y2=str(mid),
                      stroke="#b0bec5", **{"stroke-width": "6"})
        ET.SubElement(group, "line", x1=str(x(start)), y1=str(mid), x2=str(x(end)), y2=str(mid),
                      stroke=colour, **{"stroke-width": "3"})
        due_mark = ET.SubElement(group, "rect", x=str(x(due) - 1), y=str(y), width="3", height=str(ROW - 8),
                                 fill="#37474f")
        ET.SubElement(due_mark, "title").text = f"due {due.isoformat()}"
        if c.get("stopped_on"):
            stop = ET.SubElement(group, "circle", cx=str(x(end)), cy=str(mid), r="6", fill=colour)
            ET.SubElement(stop, "title").text = f"{c['status']} on {end.isoformat()}"
        y += ROW

    ET.SubElement(svg, "line", x1=str(x(today)), y1=str(TOP - 6), x2=str(x(today)), y2=str(y),
                  stroke="#000", **{"stroke-dasharray": "4 3", "class": "today"})
    note = ET.SubElement(svg, "text", x=str(min(x(today) + 4, WIDTH - 90)), y=str(y + 16))
    note.text = f"today {today.isoformat()}"
    return ET.tostring(svg, encoding="unicode")
