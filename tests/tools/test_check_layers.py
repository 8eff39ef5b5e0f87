"""scripts/check-layers.py on small source trees written by each test: path
resolution (use trees, crate/super/self, child modules, #[path], binaries),
test code left out, cycles, and the floor rules."""
from __future__ import annotations

import importlib.util
import pathlib
import sys
import textwrap

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "check-layers.py"
spec = importlib.util.spec_from_file_location("check_layers", SCRIPT)
layers = importlib.util.module_from_spec(spec)
sys.modules["check_layers"] = layers  # dataclasses look their module up
spec.loader.exec_module(layers)


def tree(root: pathlib.Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = root / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return str(root / "src")


def graph(src: str) -> set[tuple[str, str]]:
    crate = layers.load(src)
    return {(e.src.removeprefix("src/"), e.dst.removeprefix("src/")) for e in layers.edges(crate)}


def run(src: str, capsys, *args: str) -> tuple[int, str]:
    code = layers.main(["--src", src, *args])
    return code, capsys.readouterr().out


def test_use_trees_resolve_to_the_deepest_module_file(tmp_path):
    src = tree(tmp_path, {
        "lib.rs": "pub mod signal;\npub mod otlp;\npub mod exporters;\n",
        "signal.rs": "pub enum Signal {}\n",
        "otlp/mod.rs": "pub mod wire;\npub mod data;\n",
        "otlp/wire.rs": "use crate::signal::Signal;\n",
        "otlp/data.rs": "",
        "exporters/mod.rs": "pub mod debug;\n",
        "exporters/debug.rs": (
            "use crate::{signal::Signal, otlp::{self, data::{self as d, Decoded}}};\n"
            "use bytes::Bytes;\n"
        ),
    })
    assert graph(src) == {
        ("otlp/wire.rs", "signal.rs"),
        ("exporters/debug.rs", "signal.rs"),
        ("exporters/debug.rs", "otlp/mod.rs"),
        ("exporters/debug.rs", "otlp/data.rs"),
    }


def test_code_paths_super_self_children_and_use_bound_modules(tmp_path):
    src = tree(tmp_path, {
        "lib.rs": "mod signal;\nmod otlp;\nmod receivers;\n",
        "signal.rs": "",
        "otlp/mod.rs": "pub mod wire;\n",
        "otlp/wire.rs": "pub fn inspect() {}\n",
        "receivers/mod.rs": "pub mod otlp;\npub fn bind() {}\n",
        "receivers/otlp/mod.rs": (
            "mod grpc;\n"
            "use crate::otlp::wire;\n"
            "fn f() { wire::inspect(); grpc::serve(); let _ = Vec::<u8>::new(); }\n"
        ),
        "receivers/otlp/grpc.rs": "fn g() { super::super::bind(); self::h(); crate::signal::x(); }\nfn h() {}\n",
    })
    assert graph(src) == {
        ("receivers/otlp/mod.rs", "otlp/wire.rs"),
        ("receivers/otlp/mod.rs", "receivers/otlp/grpc.rs"),
        ("receivers/otlp/grpc.rs", "receivers/mod.rs"),
        ("receivers/otlp/grpc.rs", "signal.rs"),
    }


def test_path_attribute_inline_modules_comments_and_strings(tmp_path):
    src = tree(tmp_path, {
        "lib.rs": "mod signal;\nmod otlp;\n",
        "signal.rs": "",
        "otlp/mod.rs": (
            "#[path = \"codec_impl.rs\"]\nmod codec;\n"
            "mod inner { use crate::signal::Signal; }\n"
            "// crate::nothing::here\n/* crate::signal /* nested */ */\n"
            "const S: &str = \"crate::signal::Signal\";\nconst R: &str = r#\"use crate::signal;\"#;\n"
        ),
        "otlp/codec_impl.rs": "fn c() -> char { '\"' }\nfn l<'a>(x: &'a str) -> &'a str { x }\n",
    })
    crate = layers.load(src)
    assert crate.modules["otlp::codec"].file.endswith("otlp/codec_impl.rs")
    assert graph(src) == {("otlp/mod.rs", "signal.rs")}


def test_test_code_is_left_out(tmp_path):
    src = tree(tmp_path, {
        "lib.rs": "mod signal;\nmod component;\n#[cfg(test)]\npub mod testkit;\n",
        "component.rs": "pub struct Consumer;\n",
        "signal.rs": (
            "#[cfg(test)]\nuse crate::component::Consumer;\n"
            "#[cfg(test)]\nfn helper() { crate::component::Consumer; }\n"
            "#[cfg(test)]\n#[path = \"signal_tests.rs\"]\nmod tests;\n"
            "#[cfg(test)]\nmod more { use crate::testkit::x; }\n"
        ),
        "signal_tests.rs": "use crate::component::Consumer;\nuse super::*;\n",
        "testkit.rs": "use crate::component::Consumer;\n",
    })
    assert graph(src) == set()


def test_binaries_reach_the_library_by_its_crate_name(tmp_path):
    src = tree(tmp_path, {
        "lib.rs": "pub mod cli;\n",
        "cli/mod.rs": "pub fn main() {}\n",
        "bin/stackctl.rs": "fn main() { otelstack::cli::main() }\n",
    })
    assert graph(src) == {("bin/stackctl.rs", "cli/mod.rs")}


def test_clean_tree_exits_zero_with_one_line(tmp_path, capsys):
    src = tree(tmp_path, {
        "lib.rs": "mod signal;\nmod otlp;\n",
        "signal.rs": "",
        "otlp/mod.rs": "use crate::signal::Signal;\n",
    })
    code, out = run(src, capsys)
    assert code == 0
    assert out == "layers: 3 files, 1 imports, no cycle, no upward import\n"


def test_cycle_is_reported_with_its_imports(tmp_path, capsys):
    src = tree(tmp_path, {
        "lib.rs": "mod signal;\nmod otlp;\n",
        "signal.rs": "use crate::otlp::data::Decoded;\n",
        "otlp/mod.rs": "pub mod data;\n",
        "otlp/data.rs": "use crate::signal::Signal;\n",
    })
    code, out = run(src, capsys)
    assert code == 1
    assert "cycle 1: 2 files, 2 imports among them" in out
    assert f"src/signal.rs:1 -> src/otlp/data.rs  (crate::otlp::data::Decoded)" in out
    assert f"src/otlp/data.rs:1 -> src/signal.rs  (crate::signal::Signal)" in out


def test_a_parent_declaring_a_child_that_uses_it_is_no_cycle(tmp_path, capsys):
    src = tree(tmp_path, {
        "lib.rs": "mod stack;\n",
        "stack/mod.rs": "mod render;\npub struct Layout;\n",
        "stack/render.rs": "use super::Layout;\n",
    })
    code, out = run(src, capsys)
    assert (code, out.startswith("layers: 3 files, 1 imports")) == (0, True)


def test_upward_import_names_both_floors(tmp_path, capsys):
    src = tree(tmp_path, {
        "lib.rs": "mod component;\nmod service;\nmod config;\n",
        "component.rs": "use crate::service::Health;\nuse crate::config::types::GoDuration;\n",
        "service/mod.rs": "pub struct Health;\n",
        "config/mod.rs": "pub mod types;\n",
        "config/types.rs": "pub struct GoDuration;\n",
    })
    code, out = run(src, capsys)
    assert code == 1
    assert (
        f"src/component.rs:1 uses crate::service::Health: floor 3 (component contract) "
        f"imports floor 5 (service/registry/config) src/service/mod.rs"
    ) in out
    assert "GoDuration:" not in out  # config::types is floor 2
    assert out.endswith("layers: 0 cycles, 1 imports against the layers; fix the imports above\n")


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [
        ("exporters/mysql/mod.rs", "exporters::helper", True),
        ("exporters/mysql/mod.rs", "exporters::queue::memory", True),
        ("exporters/mysql/mod.rs", "exporters", True),
        ("exporters/mysql/mod.rs", "exporters::prometheus", False),
        ("exporters/mysql/mod.rs", "extensions::auth", False),
        ("receivers/otlp/mod.rs", "exporters::client", False),
        ("exporters/helper.rs", "exporters::mysql", False),
        ("exporters/mysql/rows.rs", "exporters::mysql", True),
        ("processors/attributes.rs", "processors::actions", True),
    ],
)
def test_components_import_shared_plumbing_only(tmp_path, capsys, importer, imported, allowed):
    src = tree(tmp_path, {
        "lib.rs": "mod receivers;\nmod exporters;\nmod extensions;\nmod processors;\n",
        "receivers/mod.rs": "pub mod otlp;\n",
        "receivers/otlp/mod.rs": "",
        "exporters/mod.rs": "pub mod helper;\npub mod client;\npub mod queue;\npub mod mysql;\npub mod prometheus;\n",
        "exporters/helper.rs": "",
        "exporters/client.rs": "",
        "exporters/queue/mod.rs": "pub mod memory;\n",
        "exporters/queue/memory.rs": "",
        "exporters/mysql/mod.rs": "mod rows;\n",
        "exporters/mysql/rows.rs": "",
        "exporters/prometheus.rs": "",
        "extensions/mod.rs": "pub mod auth;\n",
        "extensions/auth.rs": "",
        "processors/mod.rs": "pub mod actions;\npub mod attributes;\n",
        "processors/actions.rs": "",
        "processors/attributes.rs": "",
    })
    with open(f"{src}/{importer}", "a") as f:
        f.write(f"use crate::{imported}::Thing;\n")
    code, out = run(src, capsys)
    assert code == (0 if allowed else 1), out
    if not allowed:
        assert f"imports component {imported.split('::')[0]}::{imported.split('::')[1]}" in out


def test_dot_prints_every_file_and_edge(tmp_path, capsys):
    src = tree(tmp_path, {
        "lib.rs": "mod signal;\nmod otlp;\n",
        "signal.rs": "",
        "otlp/mod.rs": "use crate::signal::Signal;\n",
    })
    code, out = run(src, capsys, "--dot")
    assert code == 0
    assert out.startswith("digraph src {")
    assert f'"src/signal.rs" [label="src/signal.rs\\nfloor 1"];' in out
    assert f'"src/otlp/mod.rs" -> "src/signal.rs";' in out


def test_only_restricts_the_report_to_the_files_named(tmp_path, capsys):
    src = tree(tmp_path, {
        "lib.rs": "mod signal;\nmod otlp;\nmod component;\nmod service;\n",
        "signal.rs": "",
        "otlp/mod.rs": "pub mod wire;\n",
        "otlp/wire.rs": "use crate::signal::Signal;\n",
        "component.rs": "use crate::service::Health;\n",
        "service/mod.rs": "",
    })
    assert run(src, capsys, "--only", "src/signal.rs", "--only", "src/otlp/") == (
        0,
        "layers: 3 files, 1 imports, no cycle, no upward import\n",
    )
    code, out = run(src, capsys, "--only", "src/component.rs")
    assert code == 1 and "src/component.rs:1 uses crate::service::Health" in out
