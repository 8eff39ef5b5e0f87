"""Runs `otelstack-collector validate` on otelcol's and otelcol-contrib's own
testdata and example configs (tests/compat/upstream/) the way those projects'
tests load them: each component entry on its own, wrapped into a full config
(README.md there says how), or a whole example file as it is.

`python tests/integration/upstream_corpus.py` prints what validate says for
every entry, which is how expectations.yaml is reviewed."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

CORPUS = Path(__file__).resolve().parents[1] / "compat" / "upstream"
KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
# upstream's test stand-in components, not real ones: left out of the wrapper
STAND_INS = {"nop", "examplereceiver", "exampleprocessor", "exampleexporter"}


@dataclass
class Case:
    file: str  # relative to CORPUS
    entry: str  # "kind.id", or "" for a whole file
    document: dict


def wrap(kind: str, cid: str, body) -> dict:
    """One component entry in the smallest config that validates around it:
    an OTLP receiver and a debug exporter in one traces pipeline (both named
    `/compat`, so they never clash with the entry), the entry in its section
    and, for an extension, in service.extensions. Unused components are
    parsed and validated all the same (validate only warns that they are
    unused), so every entry is checked whatever its signals."""
    doc: dict = {
        "receivers": {"otlp/compat": {"protocols": {"grpc": None}}},
        "exporters": {"debug/compat": None},
        "service": {"pipelines": {"traces/compat": {"receivers": ["otlp/compat"], "exporters": ["debug/compat"]}}},
    }
    doc.setdefault(kind, {})[cid] = body
    if kind == "extensions":
        doc["service"]["extensions"] = [cid]
    return doc


def cases(file: str, spec: dict) -> list[Case]:
    """The cases of one corpus file, as its expectation says to load it:
    `whole` (the file as it is), `entries` (a full upstream config: each entry
    of each section) or `fragment` (a file of entries of one `kind`, or with
    `id` the settings of that one component, as upstream's per-component
    testdata often is)."""
    text = (CORPUS / file).read_text()
    loaded = yaml.safe_load(text) or {}
    mode = spec["mode"]
    if mode == "whole":
        return [Case(file, "", loaded)]
    if mode == "fragment":
        sections = {spec["kind"]: {spec["id"]: loaded} if "id" in spec else loaded}
    else:
        sections = {k: loaded.get(k) or {} for k in KINDS}
    out = []
    for kind, entries in sections.items():
        for cid, body in (entries or {}).items():
            if cid.split("/")[0] in STAND_INS:
                continue
            out.append(Case(file, f"{kind}.{cid}", wrap(kind, cid, body)))
    return out


def validate(binary: str, document: dict) -> tuple[int, list[str]]:
    """Exit code and the error lines (key path first) of `validate`. The
    environment is cleared of the variables corpus files name, so `${VAR}`
    expands as on a machine without them."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(document, f, sort_keys=False)
        path = f.name
    try:
        env = {k: v for k, v in os.environ.items() if k != "DEPLOYMENT_ENV"}
        r = subprocess.run([binary, "validate", "--config", path], capture_output=True, text=True, env=env, timeout=60)
    finally:
        os.unlink(path)
    errors = [line.strip() for line in r.stderr.splitlines() if line.startswith("  ")]
    return r.returncode, errors


def expectations() -> dict:
    return yaml.safe_load((CORPUS / "expectations.yaml").read_text())


if __name__ == "__main__":
    binary = sys.argv[1] if len(sys.argv) > 1 else str(CORPUS.parents[2] / "target/debug/otelstack-collector")
    for file, spec in expectations().items():
        for case in cases(file, spec):
            code, errors = validate(binary, case.document)
            print(f"{file} {case.entry or '(whole)'}: {'valid' if code == 0 else 'refused'}")
            for e in errors:
                print(f"    {e}")
