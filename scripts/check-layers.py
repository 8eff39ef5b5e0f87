#!/usr/bin/env python3
"""Check that the import graph of src/ has no cycle and no upward import.

Reads every src/**/*.rs (with rust_imports.py, beside this script): the
module tree from `mod` declarations (honouring `#[path]`), and `use` trees
and in-code paths (`crate::`, `super::`, `self::`, child modules, modules
brought in by `use`, `otelstack::` from the binaries) resolved to the file
that defines the module. Then it checks the file-level graph against the
floors of docs/style.md ("Layers: arrows point down only"). Test-only code (`#[cfg(test)]` items and the
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
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rust_imports import Crate, Edge, edges, load, module_of  # noqa: E402

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
    # confighttp's server side: what every HTTP receiver shares
    "receivers::http_server": ("receivers",),
}


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
