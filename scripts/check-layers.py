#!/usr/bin/env python3
"""Check that the import graph of src/ has no cycle and no upward import.

Reads every src/**/*.rs, finds the module tree from `mod` declarations
(honouring `#[path]`), resolves `use` trees and in-code paths (`crate::`,
`super::`, `self::`, child modules, modules brought in by `use`, and
`otelstack::` from the binaries) to the file that defines the module, and
checks the file-level graph against the floors of docs/style.md ("Layers:
arrows point down only"). Test-only code (`#[cfg(test)]` items and the
modules they declare, `testkit`) is left out: tests sit above what they test.
A `mod` declaration is containment, not use, so it is not an edge; a
`pub use` re-export in a parent is.

Usage: scripts/check-layers.py [--src DIR] [--dot] [--only PATH ...]
Exit 0 with a one-line summary when the graph is clean, 1 with the list of
cycles and upward imports otherwise. Python 3.11 standard library only.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field

# The floors, bottom first. A file belongs to the longest module prefix
# listed here. Floor 1: the unit of work and its encodings; `alloc` is the
# process-wide heap counter with no dependencies, so it is data-level.
# Floor 2: services shared at run time; `telemetry` (self metrics and their
# server) is one: components record into it, and it knows only `signal`.
# `runtime` is the module the layering work creates; it is mapped before it
# exists so that nothing that lands there can import upwards. `config::types`
# (durations, endpoints: the value types every component's config is made
# of, importing nothing) is floor 2 like otelcol's config/confignet,
# configopaque...: it is not loading or validation, which are floor 5.
LAYERS: dict[str, int] = {
    "signal": 1,
    "otlp": 1,
    "alloc": 1,
    "runtime": 2,
    "tls": 2,
    "telemetry": 2,
    "config::types": 2,
    "component": 3,
    "receivers": 4,
    "processors": 4,
    "connectors": 4,
    "exporters": 4,
    "extensions": 4,
    "service": 5,
    "registry": 5,
    "config": 5,
    "cli": 6,
    "stack": 6,
    "bin": 6,
    "": 6,  # the crate root (lib.rs) only declares the modules
}
FLOOR_NAMES = {
    1: "data",
    2: "runtime services",
    3: "component contract",
    4: "components",
    5: "service/registry/config",
    6: "front ends",
}
COMPONENT_KINDS = ("receivers", "processors", "connectors", "exporters", "extensions")
# Floor 4 modules shared by several components rather than being one. A
# component may import these, never another component. The key is the module,
# the value the kinds whose components may use it. The exporter plumbing
# (sending queue, retry/timeout helper, the HTTP client) is exporterhelper's
# counterpart: every exporter is built on it, so it is shared by exporters;
# `failure` is the shared definition of a failed operation for the mysql and
# alert exporters; `actions` the attribute actions of two processors. A
# kind's own root module (e.g. `processors`) is shared by its components.
SHARED: dict[str, tuple[str, ...]] = {
    "exporters::helper": ("exporters",),
    "exporters::client": ("exporters",),
    "exporters::queue": ("exporters",),
    "exporters::failure": ("exporters",),
    "processors::actions": ("processors",),
}
TEST_ONLY = ("testkit",)
LIB_CRATE = "otelstack"


@dataclass
class Module:
    path: str  # "otlp::wire"; "" for the crate root
    file: str  # the file that defines it (inline modules: the containing file)
    test: bool = False
    children: dict[str, str] = field(default_factory=dict)  # name -> module path


# ---------------------------------------------------------------- lexing

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<lcomment>//[^\n]*)
    |(?P<bcomment>/\*)
    |(?P<rawstr>b?r(?P<hashes>\#*)")
    |(?P<str>b?"(?:\\.|[^"\\])*")
    |(?P<char>b?'(?:\\.|[^'\\])')
    |(?P<lifetime>'[A-Za-z_]\w*)
    |(?P<ident>[A-Za-z_]\w*)
    |(?P<path>::)
    |(?P<num>\d[\w.]*)
    |(?P<punct>.)""",
    re.VERBOSE | re.DOTALL,
)


def tokens(text: str) -> list[tuple[str, int]]:
    """(token, line) for identifiers, `::` and punctuation; comments and
    literals dropped (a string literal becomes one token starting with `"`, so
    `#[path = "x"]` keeps its value)."""
    out: list[tuple[str, int]] = []
    i, line, counted = 0, 1, 0
    while i < len(text):
        line += text.count("\n", counted, i)
        counted = i
        m = _TOKEN.match(text, i)
        assert m is not None
        kind = m.lastgroup if m.lastgroup != "hashes" else "rawstr"
        if m.group("rawstr") is not None:
            end = '"' + m.group("hashes")
            j = text.find(end, m.end())
            j = len(text) if j < 0 else j
            out.append(('"' + text[m.end() : j], line))
            i = j + len(end)
            continue
        if kind == "bcomment":
            depth, j = 1, m.end()
            while depth and j < len(text):
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            i = j
            continue
        if kind == "str":
            out.append(('"' + m.group()[m.group().index('"') + 1 : -1], line))
        elif kind in ("ident", "path", "punct"):
            out.append((m.group(), line))
        i = m.end()
    return out


# ---------------------------------------------------------------- parsing


@dataclass
class Ref:
    """A path written in `file` inside module `scope`, at `line`."""

    file: str
    scope: str
    line: int
    segments: list[str]
    alias: str | None = None  # the name a `use` binds, when it binds one
    is_use: bool = False


@dataclass
class Crate:
    modules: dict[str, Module] = field(default_factory=dict)
    refs: list[Ref] = field(default_factory=list)
    roots: dict[str, str] = field(default_factory=dict)  # file -> crate root module
    base: str = "."  # file names are relative to it ("src/otlp/wire.rs")


def _parse_use_tree(toks: list[str], i: int, prefix: list[str], out: list[tuple[list[str], str | None]]) -> int:
    """Expand one use tree starting at toks[i] into (path, bound name) pairs."""
    segs = list(prefix)
    if i < len(toks) and toks[i] == "::":
        i += 1
    while i < len(toks):
        t = toks[i]
        if t == "{":
            i += 1
            while i < len(toks) and toks[i] != "}":
                i = _parse_use_tree(toks, i, segs, out)
                if i < len(toks) and toks[i] == ",":
                    i += 1
            return i + 1
        if t == "*":
            out.append((segs, None))
            return i + 1
        if t == "self" and segs:
            i += 1
            alias = segs[-1]
            if i + 1 < len(toks) and toks[i] == "as":
                alias, i = toks[i + 1], i + 2
            out.append((segs, alias))
            return i
        if re.fullmatch(r"[A-Za-z_]\w*", t):
            segs = segs + [t]
            i += 1
            if i < len(toks) and toks[i] == "::":
                i += 1
                continue
            alias = t
            if i + 1 < len(toks) and toks[i] == "as":
                alias, i = toks[i + 1], i + 2
            out.append((segs, alias))
            return i
        return i + 1
    return i


def _child_file(base_dir: str, parent_file: str, parent_is_dir_owner: bool, name: str, path_attr: str | None) -> str:
    base = os.path.dirname(parent_file)
    if path_attr is not None:
        return os.path.normpath(os.path.join(base, path_attr))
    if not parent_is_dir_owner:
        base = os.path.join(base, os.path.splitext(os.path.basename(parent_file))[0])
    flat = os.path.join(base, name + ".rs")
    return flat if os.path.exists(os.path.join(base_dir, flat)) else os.path.join(base, name, "mod.rs")


def _skip_item(toks: list[tuple[str, int]], i: int) -> int:
    """Index after the item starting at i (ends at `;` or its closing brace)."""
    depth = 0
    while i < len(toks):
        t = toks[i][0]
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
            if depth <= 0:
                return i + 1
        elif t == ";" and depth == 0:
            return i + 1
        i += 1
    return i


def scan_file(crate: Crate, file: str, module: str, test: bool) -> None:
    """Register `module` (defined by `file`), its children, and the paths it writes."""
    crate.modules.setdefault(module, Module(module, file, test))
    owner = os.path.basename(file) in ("mod.rs", "lib.rs", "main.rs") or module.startswith("bin::")
    with open(os.path.join(crate.base, file), encoding="utf-8") as f:
        toks = tokens(f.read())
    words = [t for t, _ in toks]
    # (brace depth at which the inline module opened, module path, test-only)
    stack: list[tuple[int, str, bool]] = [(-1, module, test)]
    depth, i, attrs = 0, 0, []
    while i < len(toks):
        t, line = toks[i]
        scope, in_test = stack[-1][1], stack[-1][2]
        if t == "#" and i + 1 < len(toks) and words[i + 1] in ("[", "!"):
            j = i + 1 + (words[i + 1] == "!")
            end, d = j, 0
            while end < len(toks):
                d += {"[": 1, "]": -1}.get(words[end], 0)
                if d == 0:
                    break
                end += 1
            if words[i + 1] == "[":
                attrs.append(words[j + 1 : end])
            i = end + 1
            continue
        cfg_test = any(a[:4] == ["cfg", "(", "test", ")"] for a in attrs)
        path_attr = next((a[2][1:] for a in attrs if a[:2] == ["path", "="] and len(a) > 2), None)
        if t == "pub":
            i += 1
            if i < len(toks) and words[i] == "(":
                i = words.index(")", i) + 1
            continue
        attrs = []
        if t == "mod" and i + 2 < len(toks) and words[i + 2] in (";", "{"):
            name = words[i + 1]
            child = f"{scope}::{name}" if scope else name
            crate.modules[scope].children[name] = child
            child_test = in_test or cfg_test
            if words[i + 2] == ";":
                child_file = _child_file(crate.base, file, owner and scope == module, name, path_attr)
                scan_file(crate, child_file, child, child_test)
                i += 3
            else:
                crate.modules[child] = Module(child, file, child_test)
                stack.append((depth, child, child_test))
                depth += 1
                i += 3
            continue
        if cfg_test:
            i = _skip_item(toks, i)
            continue
        if t == "use":
            end = i
            while end < len(toks) and words[end] != ";":
                end += 1
            pairs: list[tuple[list[str], str | None]] = []
            _parse_use_tree(words[i + 1 : end], 0, [], pairs)
            if not in_test:
                for segs, alias in pairs:
                    crate.refs.append(Ref(file, scope, line, segs, alias, True))
            i = end + 1
            continue
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
            if len(stack) > 1 and depth == stack[-1][0]:
                stack.pop()
        elif (
            re.fullmatch(r"[A-Za-z_]\w*", t)
            and i + 1 < len(toks)
            and words[i + 1] == "::"
            and (i == 0 or words[i - 1] != "::")
            and not in_test
        ):
            segs, j = [t], i + 1
            while j + 1 < len(toks) and words[j] == "::" and re.fullmatch(r"[A-Za-z_]\w*", words[j + 1]):
                segs.append(words[j + 1])
                j += 2
            crate.refs.append(Ref(file, scope, line, segs))
            i = j
            continue
        i += 1


# ---------------------------------------------------------------- the graph


def load(src: str) -> Crate:
    """The library (`lib.rs`) and each binary (`bin/*.rs`, `main.rs`) as one tree."""
    src = os.path.abspath(src)
    crate = Crate(base=os.path.dirname(src))
    name = os.path.basename(src)
    lib = os.path.join(name, "lib.rs")
    if os.path.exists(os.path.join(src, "lib.rs")):
        crate.roots[lib] = ""
        scan_file(crate, lib, "", False)
    bins = [os.path.join(name, "main.rs")] if os.path.exists(os.path.join(src, "main.rs")) else []
    if os.path.isdir(os.path.join(src, "bin")):
        bins += sorted(os.path.join(name, "bin", f) for f in os.listdir(os.path.join(src, "bin")) if f.endswith(".rs"))
    for b in bins:
        root = "bin::" + os.path.splitext(os.path.basename(b))[0]
        crate.roots[b] = root
        scan_file(crate, b, root, False)
    return crate


def _crate_root(module: str) -> str:
    return "::".join(module.split("::")[:2]) if module.startswith("bin::") else ""


def _parent(module: str) -> str:
    return module.rsplit("::", 1)[0] if "::" in module else ""


def resolve(crate: Crate, scope: str, segs: list[str], aliases: dict[str, dict[str, str]]) -> str | None:
    """The deepest module of this crate that `segs`, written in `scope`, names."""
    first, rest = segs[0], segs[1:]
    if first == "crate":
        mod = _crate_root(scope)
    elif first == "super":
        mod = _parent(scope)
        while rest and rest[0] == "super":
            mod, rest = _parent(mod), rest[1:]
    elif first == "self":
        mod = scope
    elif first == LIB_CRATE and scope.startswith("bin::"):
        mod = ""
    elif first in crate.modules[scope].children:
        mod = crate.modules[scope].children[first]
    elif first in aliases.get(scope, {}):
        mod = aliases[scope][first]
    else:
        return None
    for s in rest:
        child = crate.modules[mod].children.get(s)
        if child is None:
            break
        mod = child
    return mod


@dataclass
class Edge:
    src: str
    dst: str
    line: int
    text: str


def edges(crate: Crate) -> list[Edge]:
    """One edge per (file, file) pair, at its first occurrence; test code left out."""
    aliases: dict[str, dict[str, str]] = {}
    found: dict[tuple[str, str], Edge] = {}

    def add(ref: Ref, mod: str | None) -> None:
        if mod is None:
            return
        target = crate.modules[mod]
        if target.test or target.file == ref.file or crate.modules[ref.scope].test:
            return
        key = (ref.file, target.file)
        if key not in found or found[key].line > ref.line:
            found[key] = Edge(ref.file, target.file, ref.line, "::".join(ref.segments))

    uses = [r for r in crate.refs if r.is_use]
    for r in uses:  # first the modules `use` binds, so in-code paths can start from them
        mod = resolve(crate, r.scope, r.segments, aliases)
        if mod is not None and r.alias and mod.rsplit("::", 1)[-1] == r.segments[-1]:
            aliases.setdefault(r.scope, {})[r.alias] = mod
    for r in crate.refs:
        add(r, resolve(crate, r.scope, r.segments, aliases))
    return sorted(found.values(), key=lambda e: (e.src, e.dst))


def module_of(crate: Crate, file: str) -> str:
    return next(m.path for m in crate.modules.values() if m.file == file)


def floor(module: str) -> int:
    parts = module.split("::")
    for n in range(len(parts), -1, -1):
        key = "::".join(parts[:n])
        if key in LAYERS:
            return LAYERS[key]
    return max(LAYERS.values())


def unit(module: str) -> str:
    """The component (`exporters::mysql`) or shared module a floor-4 module belongs to."""
    parts = module.split("::")
    for n in range(len(parts), 0, -1):
        if "::".join(parts[:n]) in SHARED:
            return "::".join(parts[:n])
    return "::".join(parts[:2])


def layer_violations(crate: Crate, graph: list[Edge]) -> list[str]:
    out = []
    for e in graph:
        a, b = module_of(crate, e.src), module_of(crate, e.dst)
        fa, fb = floor(a), floor(b)
        where = f"{e.src}:{e.line} uses {e.text}"
        if fa < fb:
            out.append(f"{where}: floor {fa} ({FLOOR_NAMES[fa]}) imports floor {fb} ({FLOOR_NAMES[fb]}) {e.dst}")
        elif fa == fb == 4:
            ua, ub = unit(a), unit(b)
            kind = a.split("::")[0]
            if ua == ub or ub == kind or kind in SHARED.get(ub, ()):
                continue
            what = "shared module" if ua in SHARED or ua == kind else "component"
            out.append(f"{where}: {what} {ua} imports component {ub} ({e.dst})")
    return out


def cycles(files: list[str], graph: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one file (Tarjan, iterative)."""
    succ: dict[str, list[str]] = {f: [] for f in files}
    for e in graph:
        succ.setdefault(e.src, []).append(e.dst)
        succ.setdefault(e.dst, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on, stack, out = set(), [], []
    for start in sorted(succ):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            v, pos = work.pop()
            if pos == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
                on.add(v)
            for k in range(pos, len(succ[v])):
                w = succ[v][k]
                if w not in index:
                    work.append((v, k + 1))
                    work.append((w, 0))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
    return sorted(out, key=lambda c: (-len(c), c))


def dot(crate: Crate, graph: list[Edge]) -> str:
    lines = ["digraph src {", "  rankdir=BT;"]
    files = sorted({m.file for m in crate.modules.values() if not m.test})
    for f in files:
        lines.append(f'  "{f}" [label="{f}\\nfloor {floor(module_of(crate, f))}"];')
    for e in graph:
        lines.append(f'  "{e.src}" -> "{e.dst}";')
    lines.append("}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    ap.add_argument("--dot", action="store_true", help="print the file graph in Graphviz dot and exit")
    ap.add_argument(
        "--only",
        action="append",
        metavar="PATH",
        help="report only cycles through, and imports from, files under PATH (e.g. src/otlp/); repeatable",
    )
    args = ap.parse_args(argv)
    crate = load(args.src)
    graph = edges(crate)
    if args.dot:
        print(dot(crate, graph))
        return 0
    files = sorted({m.file for m in crate.modules.values() if not m.test})
    found = cycles(files, graph)
    upward = layer_violations(crate, graph)
    if args.only:

        def picked(f: str) -> bool:
            return any(f == p or f.startswith(p.rstrip("/") + "/") for p in args.only)

        files = [f for f in files if picked(f)]
        graph = [e for e in graph if picked(e.src)]
        found = [c for c in found if any(map(picked, c))]
        upward = [v for v in upward if picked(v.split(":", 1)[0])]
    if not found and not upward:
        print(f"layers: {len(files)} files, {len(graph)} imports, no cycle, no upward import")
        return 0
    for n, comp in enumerate(found, 1):
        members = set(comp)
        inner = [e for e in graph if e.src in members and e.dst in members]
        print(f"cycle {n}: {len(comp)} files, {len(inner)} imports among them")
        for e in inner:
            print(f"  {e.src}:{e.line} -> {e.dst}  ({e.text})")
    if upward:
        print(f"{len(upward)} imports against the layers (docs/style.md, 'Layers: arrows point down only'):")
        for v in upward:
            print(f"  {v}")
    print(f"layers: {len(found)} cycles, {len(upward)} imports against the layers; fix the imports above")
    return 1


if __name__ == "__main__":
    sys.exit(main())
