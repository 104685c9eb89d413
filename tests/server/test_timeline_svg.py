"""The timeline chart's geometry: every day is a cell of the axis, so a case opened today (every
bar starting on one day) still draws bars a day wide, grid lines name the days, and long clock
titles are shortened in the label column with the whole title kept as the row's tooltip."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from server.reports.timeline_svg import LABEL_CHARS, LEFT, WIDTH, render

SVG = "{http://www.w3.org/2000/svg}"
TITLE = "SIN notification to the National Panel, with a title longer than the column"


def _opened_today() -> dict:
    return {"today": "2026-12-07", "reference": "ESX-2026-0007", "case_type": "serious_incident",
            "states": [{"state": "referred", "entered_on": "2026-12-07"},
                       {"state": "sin_consideration", "entered_on": "2026-12-07"}],
            "clocks": [{"name": "sin_notification", "title": TITLE, "starts": "2026-12-07",
                        "due": "2026-12-14", "status": "pending"}]}


def test_a_case_opened_today_draws_bars_a_day_wide_on_a_day_grid():
    root = ET.fromstring(render(_opened_today()))
    day = (WIDTH - LEFT - 30) / 8  # 7 to 14 December: eight day cells
    for group in (g for g in root.iter(SVG + "g") if g.get("class") == "state"):
        rect = group.find(SVG + "rect")
        assert float(rect.get("x")) == LEFT
        assert abs(float(rect.get("width")) - day) < 0.2
    ticks = [t.text for t in root.iter(SVG + "text") if t.text and t.text.endswith("Dec") and len(t.text) == 6]
    assert ticks == [f"{d:02d} Dec" for d in range(7, 15)]
    due = next(g for g in root.iter(SVG + "g") if g.get("class") == "clock").find(SVG + "rect")
    assert float(due.get("x")) > WIDTH - 30 - day  # the due mark sits in the last day's cell


def test_long_titles_are_shortened_and_kept_whole_in_the_tooltip():
    root = ET.fromstring(render(_opened_today()))
    clock = next(g for g in root.iter(SVG + "g") if g.get("class") == "clock")
    label, status = clock.findall(SVG + "text")
    assert len(label.text) == LABEL_CHARS and label.text.endswith("\u2026")
    assert status.text == "pending"
    assert clock.find(SVG + "title").text == f"{TITLE}: pending"


def test_a_long_case_has_at_most_about_ten_grid_lines():
    timeline = _opened_today() | {"today": "2027-11-30"}
    root = ET.fromstring(render(timeline))
    grid = next(g for g in root.iter(SVG + "g") if g.get("class") == "grid")
    assert 3 <= len(grid.findall(SVG + "line")) <= 11
