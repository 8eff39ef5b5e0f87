"""The README's table of components lists every key a component refuses.

A refusal in the components' code is an `Invalid::at("key", ...)` (or the
telemetry check's `refuse("key", ...)`, the prometheus receiver's
`e("key", ...)`) whose message says "not supported", or a `("key", ...)`
entry of a `for (key, ...) in [...]` list whose loop refuses with "not
supported", or a key handed to a shared refusal (`refuse_connection_tuning`).
Each such key's last segment must appear in the table, so a new
refusal cannot be added without saying so there."""
from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = ["src/receivers", "src/processors", "src/exporters", "src/extensions", "src/connectors",
           "src/config/telemetry.rs", "src/tls.rs"]
REFUSAL = re.compile(r"not supported|INCLUDE_METADATA|COMPRESSION_ALGORITHMS|FROM_CONTEXT|BATCHER\b")
CALL = re.compile(r'(?:Invalid::at|\brefuse|\be)\(\s*"([a-z_][a-z0-9_.]*)"')
LOOP = re.compile(r"for \(key, [^)]*\) in \[(.*?)\]\s*\{", re.S)
TUPLE_KEY = re.compile(r'\(\s*"([a-z_][a-z0-9_.]*)",')
# shared refusals that take the keys from their callers
SHARED = re.compile(r"refuse_connection_tuning\(&\[(.*?)\]\)", re.S)


def component_table() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### Components and their options")
    table_start = readme.index("\n|", start)
    return readme[table_start:readme.index("\n\n", table_start + 1)]


def without_tests(text: str) -> str:
    cut = text.find("#[cfg(test)]")
    return text if cut < 0 else text[:cut]


def refused_keys(text: str) -> set[str]:
    keys = set()
    for m in CALL.finditer(text):
        # the call's arguments: up to the statement's end
        call = text[m.start():text.find(";", m.end()) + 1 or len(text)]
        if REFUSAL.search(call):
            keys.add(m.group(1))
    for m in LOOP.finditer(text):
        body_end = text.find("\n        }", m.end())
        body = text[m.end():body_end if body_end > 0 else m.end() + 800]
        if REFUSAL.search(body):
            keys.update(TUPLE_KEY.findall(m.group(1)))
    for m in SHARED.finditer(text):
        keys.update(TUPLE_KEY.findall(m.group(1)))
    return keys


def source_files() -> list[pathlib.Path]:
    out = []
    for s in SOURCES:
        p = ROOT / s
        out.extend(sorted(p.rglob("*.rs")) if p.is_dir() else [p])
    return [f for f in out if "test" not in f.name]


def test_every_refused_key_is_named_in_the_readme_table():
    table = component_table()
    missing = []
    for f in source_files():
        for key in refused_keys(without_tests(f.read_text())):
            leaf = key.rsplit(".", 1)[-1]
            if f"`{leaf}" not in table and f".{leaf}`" not in table:
                missing.append(f"{f.relative_to(ROOT)}: {key}")
    assert missing == [], "refused in code but not in README.md's component table:\n" + "\n".join(missing)


def test_the_scanner_finds_calls_and_loops_and_skips_other_errors():
    text = '''
        return Err(Invalid::at("wal", "the write-ahead log is not supported; use queues"));
        return Err(Invalid::at("endpoint", "is required"));
        refuse("logs.development", "is not supported: zap's development mode");
        for (key, set) in [("read_buffer_size", a), ("write_buffer_size", b)] {
            if set {
                return Err(Invalid::at(key, "is not supported: left to the OS"));
            }
        }
        for (key, v) in [("min_version", a)] {
            check(key, v)?;
        }
    '''
    assert refused_keys(text) == {"wal", "logs.development", "read_buffer_size", "write_buffer_size"}
    assert refused_keys(without_tests('x\n#[cfg(test)]\nInvalid::at("y", "not supported");')) == set()


def test_the_scan_covers_the_known_refusals():
    found = set()
    for f in source_files():
        found |= refused_keys(without_tests(f.read_text()))
    for key in ("wal", "target_allocator", "include_metadata", "sending_queue.wait_for_result",
                "logs.development", "export_created_metric.enabled", "recreate", "max_idle_conns"):
        assert any(k == key or k.endswith("." + key) or key.endswith(k) for k in found), (key, sorted(found))
