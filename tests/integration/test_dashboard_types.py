"""Every dashboard against Grafana's published TypeScript types: npm
`@grafana/schema` at the version of the pinned Grafana (installed by
scripts/test-setup.sh into .cache/dashboard-types). Each dashboard JSON is
wrapped as `export const d: Dashboard = <json>;` and `tsc --noEmit --strict`
must accept it; a dashboard with a wrongly typed field must be refused, so
the check can fail.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from conftest import REPO_ROOT
from stack_files import init_project

TYPES = REPO_ROOT / ".cache" / "dashboard-types"
TSC = TYPES / "node_modules" / ".bin" / "tsc"


def pinned_grafana() -> str:
    text = (REPO_ROOT / "src/stack/versions.rs").read_text()
    return re.search(r'pub const GRAFANA: &str = "grafana/grafana:([^"]+)";', text).group(1)


def typecheck(dashboards: dict[str, dict], workdir: Path) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    files = []
    for name, dash in dashboards.items():
        ident = re.sub(r"\W", "_", name)
        f = workdir / f"{ident}.ts"
        f.write_text(f'import type {{ Dashboard }} from "@grafana/schema";\n'
                     f"export const {ident}: Dashboard = {json.dumps(dash, indent=2)};\n")
        files.append(str(f))
    # typeRoots/baseUrl point at the installed types; the wrappers live outside that folder
    (workdir / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "skipLibCheck": True, "module": "commonjs",
                            "moduleResolution": "node", "target": "es2020", "baseUrl": str(TYPES / "node_modules"),
                            "paths": {"@grafana/schema": [str(TYPES / "node_modules/@grafana/schema")]}},
        "files": files}))
    return subprocess.run([str(TSC), "-p", str(workdir / "tsconfig.json")], capture_output=True, text=True,
                          timeout=300)


def test_the_installed_types_match_the_pinned_grafana():
    installed = json.loads((TYPES / "node_modules/@grafana/schema/package.json").read_text())["version"]
    assert installed == pinned_grafana(), f"@grafana/schema {installed} vs Grafana {pinned_grafana()}"


def test_every_dashboard_type_checks(tmp_path):
    dashboards = {f"clone_{p.stem}": json.loads(p.read_text()) for p in (REPO_ROOT / "dashboards").glob("*.json")}
    # the rendered variants too: without Tempo the trace links change
    for sel in ("tempo", "tempo,jaeger"):
        d = tmp_path / f"without-{sel.replace(',', '-')}"
        init_project(d, "--without", sel)
        for p in (d / "grafana/dashboards").glob("*.json"):
            dashboards[f"{sel}_{p.stem}"] = json.loads(p.read_text())
    assert len(dashboards) >= 9, sorted(dashboards)
    r = typecheck(dashboards, tmp_path / "ts")
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_wrongly_typed_dashboard_is_refused(tmp_path):
    dash = json.loads((REPO_ROOT / "dashboards/service-red.json").read_text())
    dash["refresh"] = 30  # a string such as "30s" in the schema
    dash["panels"][0]["gridPos"] = {"h": "eight", "w": 12, "x": 0, "y": 0}
    r = typecheck({"broken": dash}, tmp_path / "ts")
    assert r.returncode != 0
    # both fields refused: refresh (number for string) and gridPos.h (string for number)
    assert "Type 'number' is not assignable to type 'string'" in r.stdout, r.stdout
    assert "Type 'string' is not assignable to type 'number'" in r.stdout, r.stdout
