"""Benchmark: validating a final rapid-review agency return with a 50-row chronology.

    .venv/bin/python -m bench.forms [--rows 50] [--runs 300]

Measured in the same run, on the same data and the same final schema (latest version):

1. ``FormRegistry.validate``: what the server calls. A fast yes/no check compiled once at load
   (``forms/fastcheck.py``) answers for valid data; only invalid data goes through jsonschema.
2. the cached jsonschema validator alone (``Draft202012Validator`` built once, format checker on),
   listing every error: what ``validate`` costs without the fast path, and for invalid data.
3. naive ``jsonschema.validate(data, schema, format_checker=...)`` per call, which checks the
   schema against the meta-schema and builds a new validator every time.

The invalid case is the same return with three bad rows (a bad date, an unknown contact type, a
repeated row id): ``validate`` then lists every error through jsonschema.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import platform
import statistics
import time
from collections.abc import Callable
from datetime import date
from importlib.metadata import version

import jsonschema
from jsonschema import Draft202012Validator

from forms import FormRegistry
from forms.schema_tools import validation_schema
from forms.validation import to_field_errors, today_is

FORM = "rapid_review_agency_return"
TODAY = date(2026, 1, 15)


def make_return(rows: int) -> dict:
    fv = FormRegistry.load_default().latest(FORM)
    data = copy.deepcopy(fv.examples["valid"][0])
    types = [t for t in fv.fields["chronology[].contact_type"]["enum"] if t != "other"]
    data["chronology"] = [
        {"row_id": f"c{i}", "date": date.fromordinal(date(2024, 1, 1).toordinal() + i * 7).isoformat(),
         "contact_type": types[i % len(types)], "practitioner_role": "Health visitor", "child_seen": i % 3 != 0,
         "summary": f"Contact {i}: seen at home; weight and development checked; no concerns raised."}
        for i in range(rows)]
    return data


def make_invalid(data: dict) -> dict:
    bad = copy.deepcopy(data)
    bad["chronology"][3]["date"] = "03/02/2024"
    bad["chronology"][10]["contact_type"] = "visit"
    bad["chronology"][20]["row_id"] = bad["chronology"][19]["row_id"]
    return bad


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    registry = FormRegistry.load_default()
    fv = registry.latest(FORM)
    valid = make_return(args.rows)
    invalid = make_invalid(valid)
    schema = validation_schema(fv.schema)
    checker = Draft202012Validator.FORMAT_CHECKER
    assert registry.validate(FORM, fv.version, valid, final=True, today=TODAY) == []  # noqa: S101
    assert len(registry.validate(FORM, fv.version, invalid, final=True, today=TODAY)) == 3  # noqa: S101
    jsonschema.validate(valid, schema, format_checker=checker)  # the naive path agrees the data is valid

    def registry_validate(data: dict) -> Callable[[], object]:
        return lambda: registry.validate(FORM, fv.version, data, final=True, today=TODAY)

    def jsonschema_cached(data: dict) -> Callable[[], object]:
        def run() -> object:
            with today_is(TODAY):
                return to_field_errors(fv.final_validator.iter_errors(data), fv.enum_labels)
        return run

    def naive(data: dict) -> Callable[[], object]:
        def run() -> object:
            with contextlib.suppress(jsonschema.ValidationError):
                jsonschema.validate(data, schema, format_checker=checker)
            return None
        return run

    print(f"python {platform.python_version()}, jsonschema {version('jsonschema')}, {FORM} v{fv.version} final, "
          f"{args.rows}-row chronology, {args.runs} runs each")
    cases = [
        ("valid:   FormRegistry.validate (fast path)", registry_validate(valid)),
        ("valid:   cached jsonschema validator only", jsonschema_cached(valid)),
        ("valid:   naive jsonschema.validate()", naive(valid)),
        ("invalid: FormRegistry.validate (all errors)", registry_validate(invalid)),
        ("invalid: naive jsonschema.validate() (first)", naive(invalid)),
    ]
    for _, fn in cases:
        fn()  # warm-up
    for name, fn in cases:
        median, p95 = timed(fn, args.runs)
        print(f"{name:46s} median {median:8.3f} ms   p95 {p95:8.3f} ms")


if __name__ == "__main__":
    main()
