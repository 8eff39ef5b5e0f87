"""The module tree and file-level import graph of a Rust crate's src/, read
from the source text: `mod` declarations (with `#[path]`) give the tree, and
`use` trees and in-code paths are resolved to the file defining the module
they name. Used by check-layers.py; standard library only.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

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
