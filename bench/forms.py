"""Benchmark: validating a final rapid-review agency return with a 50-row chronology.

    .venv/bin/python -m bench.forms [--rows 50] [--runs 300]

Compares the registry's cached validator (built once at load: ``FormRegistry.validate``) with a
naive ``jsonschema.validate(data, schema)`` per call, which checks the schema against the meta-schema
and builds a new validator every time. Both use the same final schema; the naive one has no
format checker and no ``x-`` extensions, so it does strictly less work per call.
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time
from datetime import date
from importlib.metadata import version

import jsonschema

from forms import FormRegistry
from forms.schema_tools import validation_schema

FORM = "rapid_review_agency_return"


def make_return(rows: int) -> dict:
    fv = FormRegistry.load_default().get(FORM, 1)
    data = copy.deepcopy(fv.examples["valid"][0])
    types = fv.fields["chronology[].contact_type"]["enum"]
    data["chronology"] = [
        {"row_id": f"c{i}", "date": date.fromordinal(date(2024, 1, 1).toordinal() + i * 7).isoformat(),
         "contact_type": types[i % len(types)], "practitioner_role": "Health visitor",
         "summary": f"Contact {i}: seen at home; weight and development checked; no concerns raised."}
        for i in range(rows)]
    return data


def timed(fn, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    registry = FormRegistry.load_default()
    data = make_return(args.rows)
    today = date(2026, 1, 15)
    assert registry.validate(FORM, 1, data, final=True, today=today) == []  # noqa: S101
    schema = validation_schema(registry.get(FORM, 1).schema)
    jsonschema.validate(data, schema)  # warm-up, and the naive path must agree the data is valid

    def cached() -> None:
        registry.validate(FORM, 1, data, final=True, today=today)

    def naive() -> None:
        jsonschema.validate(data, schema)

    cached()
    print(f"python {platform.python_version()}, jsonschema {version('jsonschema')}, "
          f"{FORM} v1 final, {args.rows}-row chronology, {args.runs} runs each")
    for name, fn in (("cached validator (FormRegistry.validate)", cached), ("naive jsonschema.validate()", naive)):
        median, p95 = timed(fn, args.runs)
        print(f"{name:44s} median {median:8.3f} ms   p95 {p95:8.3f} ms")


if __name__ == "__main__":
    main()
