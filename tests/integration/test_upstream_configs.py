"""otelcol's and otelcol-contrib's own testdata and example configs
(tests/compat/upstream/, each with its source and commit in a header) run
through `otelstack-collector validate`, entry by entry, against
tests/compat/upstream/expectations.yaml: what is valid stays valid, and
every refusal of something upstream accepts is a sentence saying why, never
an unknown-key error for a component otelstack supports."""
from __future__ import annotations

import re

import pytest

from conftest import COLLECTOR_BIN
from upstream_corpus import CORPUS, Case, cases, expectations, validate

EXPECTED = expectations()
ALL_CASES = [(file, case) for file, spec in EXPECTED.items() for case in cases(file, spec)]
# errors that mean "otelstack does not know this key or component"
UNKNOWN = re.compile(r"unknown field|unknown (receiver|processor|exporter|connector|extension) type")


def test_every_corpus_file_has_expectations_and_every_entry_is_listed():
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.yaml") if p.name != "expectations.yaml"}
    assert on_disk == set(EXPECTED), "a corpus file without expectations, or an expectation without its file"
    for file, spec in EXPECTED.items():
        if spec["mode"] == "whole":
            continue
        found = {c.entry for c in cases(file, spec)}
        assert found == set(spec["entries"]), f"{file}: entries in the file vs in expectations.yaml"


def test_every_file_names_its_upstream_source_and_commit():
    for file in EXPECTED:
        head = (CORPUS / file).read_text().splitlines()[0]
        assert re.match(r"# Source: open-telemetry/opentelemetry-collector(-contrib)? \S+ at commit [0-9a-f]{40}$",
                        head), f"{file}: {head}"


def _ids(item):
    file, case = item
    return f"{file}:{case.entry or 'whole'}"


@pytest.mark.parametrize("item", ALL_CASES, ids=[_ids(i) for i in ALL_CASES])
def test_validate_answers_as_expected(item: tuple[str, Case]):
    file, case = item
    spec = EXPECTED[file]
    code, errors = validate(str(COLLECTOR_BIN), case.document)
    expected = spec if spec["mode"] == "whole" else spec["entries"][case.entry]
    if expected == "valid":
        assert code == 0, f"{case.entry} should be valid: {errors}"
        assert errors == []
        return
    assert code == 1, f"{case.entry} should be refused ({expected['refused']}) but validate accepted it"
    reasons = expected["refused"] if isinstance(expected["refused"], list) else [expected["refused"]]
    for reason in reasons:
        # the error names the entry: its own key path, or a key under it
        mine = [e for e in errors if not case.entry or e.startswith((f"{case.entry}.", f"{case.entry}:"))]
        assert any(reason in e for e in mine), f"expected {reason!r} in {errors}"
    if expected["upstream"] == "valid":
        # a deliberate refusal: a sentence with the reason, not an unknown key
        assert not any(UNKNOWN.search(e) for e in errors), f"{case.entry}: upstream accepts this: {errors}"
    assert expected["upstream"] in ("valid", "invalid", "obsolete")


def test_the_wrapper_keeps_the_entry_and_adds_only_the_compat_pipeline():
    spec = EXPECTED["contrib/zipkinreceiver-config.yaml"]
    case = next(c for c in cases("contrib/zipkinreceiver-config.yaml", spec) if c.entry == "receivers.zipkin/protocols")
    assert case.document["receivers"]["zipkin/protocols"] == {"protocols": {"http": {"endpoint": "localhost:8765"}}}
    assert case.document["service"]["pipelines"] == {
        "traces/compat": {"receivers": ["otlp/compat"], "exporters": ["debug/compat"]}
    }
    # a wrapped entry that is broken is reported under its own key path
    bad = Case("x", "receivers.zipkin", {**case.document, "receivers": {**case.document["receivers"],
                                                                       "zipkin": {"endpoint": "nowhere"}}})
    code, errors = validate(str(COLLECTOR_BIN), bad.document)
    assert code == 1 and errors[0].startswith("receivers.zipkin.endpoint:"), errors
