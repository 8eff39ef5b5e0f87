"""`stackctl init`: what it writes, what it refuses to overwrite, and the
drift check between the templates and the repository's checked-in stack.

No Docker needed: these run the real stackctl binary on temp directories.
"""

from __future__ import annotations

import filecmp
import hashlib
import stat
import tomllib

import pytest
from stack_files import CORE, OPTIONAL, REPO_ROOT, Project, init_project, stackctl

PROJECT_FILES = {
    "docker-compose.yml", ".env", "otelcol/config.yaml", "prometheus/prometheus.yml", "tempo/tempo.yaml",
    "jaeger/config.yaml", "grafana/provisioning/datasources/otelstack.yaml",
    "grafana/provisioning/dashboards/otelstack.yaml", "grafana/dashboards/collector-health.json",
    "grafana/dashboards/service-red.json", "grafana/dashboards/recent-failures.json",
    "grafana/dashboards/workshop.json", "README.md", "stackctl.toml",
}


def rel_files(root):
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_init_writes_a_complete_project(tmp_path):
    proj = tmp_path / "My Shop"
    r = init_project(proj)
    assert rel_files(proj) == PROJECT_FILES
    # The project name comes from the directory, made compose-safe.
    p = Project(proj)
    assert p.env["COMPOSE_PROJECT_NAME"] == "my-shop"
    assert stat.S_IMODE((proj / ".env").stat().st_mode) == 0o600, "the .env holds passwords"
    assert stat.S_IMODE((proj / "docker-compose.yml").stat().st_mode) == 0o644
    # The marker records the options and the hash of every other file.
    marker = tomllib.loads((proj / "stackctl.toml").read_text())
    assert marker["stack"]["project_name"] == "my-shop"
    assert marker["stack"]["services"] == ["collector", "prometheus", "mariadb", "tempo", "jaeger", "grafana"]
    assert set(marker["files"]) == PROJECT_FILES - {"stackctl.toml"}
    for rel, digest in marker["files"].items():
        assert digest == "sha256:" + hashlib.sha256((proj / rel).read_bytes()).hexdigest(), rel
    assert marker["ports"]["OTLP_GRPC_PORT"] == 4317
    # It says what to do next, with the URLs.
    assert "stackctl up" in r.stdout and "http://localhost:3000" in r.stdout and "14 create" in r.stdout


def test_dry_run_writes_nothing(tmp_path):
    proj = tmp_path / "p"
    r = stackctl("init", proj, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert not proj.exists()
    listed = {line.split()[1] for line in r.stdout.splitlines() if line.startswith("  create")}
    assert listed == PROJECT_FILES
    # On an existing project too: an edit is reported, not overwritten.
    init_project(proj)
    (proj / "otelcol/config.yaml").write_text("# mine\n")
    before = {f: (proj / f).read_bytes() for f in rel_files(proj)}
    r = stackctl("init", proj, "--dry-run", "--port", "grafana=3001")
    assert r.returncode == 0, r.stderr
    assert "keep (edited)" in r.stdout and "otelcol/config.yaml" in r.stdout
    assert {f: (proj / f).read_bytes() for f in rel_files(proj)} == before


def test_refuses_to_overwrite_an_edited_file_without_force(tmp_path):
    proj = tmp_path / "p"
    init_project(proj)
    cfg = proj / "otelcol/config.yaml"
    cfg.write_text(cfg.read_text() + "# my change\n")
    r = stackctl("init", proj, "--port", "grafana=3001")
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("error: refusing to overwrite 1 file(s)")
    assert "otelcol/config.yaml" in r.stderr and "--force" in r.stderr
    assert cfg.read_text().endswith("# my change\n")
    assert Project(proj).env["GRAFANA_PORT"] == "3000", "nothing is written when one file is refused"
    r = stackctl("init", proj, "--port", "grafana=3001", "--force")
    assert r.returncode == 0, r.stderr
    assert "# my change" not in cfg.read_text()
    assert Project(proj).env["GRAFANA_PORT"] == "3001"


def test_rerun_updates_untouched_files_and_keeps_passwords(tmp_path):
    proj = tmp_path / "p"
    init_project(proj)
    before = Project(proj).env
    r = init_project(proj)
    assert "14 unchanged" in r.stdout
    r = init_project(proj, "--port", "grafana=3001", "--without", "jaeger")
    after = Project(proj).env
    assert after["GRAFANA_PORT"] == "3001"
    for key in ("GRAFANA_ADMIN_PASSWORD", "MARIADB_ROOT_PASSWORD", "MARIADB_PASSWORD"):
        assert after[key] == before[key], f"{key} must survive a re-init: the volumes were created with it"
    assert "jaeger" not in Project(proj).compose["services"]
    assert "no longer used by this selection (kept; delete them if you like): jaeger/config.yaml" in r.stdout
    assert (proj / "jaeger/config.yaml").exists()


def test_files_it_did_not_write_are_kept(tmp_path):
    proj = tmp_path / "p"
    proj.mkdir()
    (proj / "docker-compose.yml").write_text("services: {}\n")
    r = stackctl("init", proj)
    assert r.returncode == 3
    assert "docker-compose.yml" in r.stderr
    assert (proj / "docker-compose.yml").read_text() == "services: {}\n"
    assert not (proj / "stackctl.toml").exists()


def test_generated_secrets_differ_between_projects(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    init_project(a)
    init_project(b)
    ea, eb = Project(a).env, Project(b).env
    for key in ("GRAFANA_ADMIN_PASSWORD", "MARIADB_ROOT_PASSWORD", "MARIADB_PASSWORD"):
        assert ea[key] != eb[key]
        assert len(ea[key]) == 24 and ea[key].isalnum()
    assert len({ea["GRAFANA_ADMIN_PASSWORD"], ea["MARIADB_ROOT_PASSWORD"], ea["MARIADB_PASSWORD"]}) == 3


@pytest.mark.parametrize("without", ["", "tempo", "jaeger", "grafana", "tempo,jaeger", "tempo,jaeger,grafana"])
def test_without_changes_compose_and_collector_config_together(tmp_path, without):
    proj = tmp_path / "p"
    init_project(proj, *(["--without", without] if without else []))
    dropped = set(filter(None, without.split(",")))
    kept = set(OPTIONAL) - dropped
    p = Project(proj)
    compose = p.compose
    assert set(compose["services"]) == set(CORE) | kept
    for name, svc in compose["services"].items():
        for dep in svc.get("depends_on", {}):
            assert dep in compose["services"], f"{name} depends on {dep}, which is not in the selection"
    otelcol = p.otelcol
    exporters = set(otelcol["exporters"])
    traces = otelcol["service"]["pipelines"]["traces"]["exporters"]
    for backend in ("tempo", "jaeger"):
        present = backend in kept
        assert (f"otlp/{backend}" in exporters) == present
        assert (f"otlp/{backend}" in traces) == present
        assert (proj / backend).exists() == present
    assert (proj / "grafana").exists() == ("grafana" in kept)
    assert ("GRAFANA_PORT" in p.env) == ("grafana" in kept)
    assert ("TEMPO_PORT" in p.env) == ("tempo" in kept)
    # The core always stays.
    assert {"prometheus", "prometheusremotewrite", "mysql"} <= exporters
    marker = tomllib.loads((proj / "stackctl.toml").read_text())
    assert set(marker["stack"]["services"]) == set(CORE) | kept


@pytest.mark.parametrize("args, wants", [
    (["--without", "mariadb"], ["mariadb service cannot be left out", "only tempo, jaeger, grafana and alertmanager are optional"]),
    (["--without", "loki"], ['"loki" is not a service of the stack', "collector, prometheus, mariadb"]),
    (["--port", "grafana=http"], ['"http" is not a port number']),
    (["--port", "graphana=3001"], ['"graphana" is not a port of the stack', "grafana"]),
    (["--port", "grafana"], ["expected NAME=VALUE", "--port grafana=3001"]),
    (["--port", "grafana=9090"], ["PROMETHEUS_PORT and GRAFANA_PORT are both set to port 9090"]),
    (["--name", "My Stack"], ["cannot be a compose project name", "--name my-stack"]),
    (["--image", "grafana= "], ["expected NAME=VALUE"]),
])
def test_errors_are_sentences_that_say_how_to_fix(tmp_path, args, wants):
    proj = tmp_path / "p"
    r = stackctl("init", proj, *args)
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for want in wants:
        assert want in r.stderr
    assert "panicked" not in r.stderr and "Error {" not in r.stderr
    assert not proj.exists(), "a refused init writes nothing"


def test_checked_in_stack_is_the_templates_output(tmp_path):
    """The drift test: compose/, provisioning/ and dashboards/ in the
    repository are exactly `stackctl init --checked-in` (regenerate them with
    `make stack-files`), with no stale extra files."""
    r = stackctl("init", "--checked-in", tmp_path)
    assert r.returncode == 0, r.stderr
    rendered = rel_files(tmp_path)
    checked_in = {str(p.relative_to(REPO_ROOT)) for d in ("compose", "provisioning", "dashboards")
                  for p in (REPO_ROOT / d).rglob("*") if p.is_file()}
    assert checked_in == rendered, f"extra: {checked_in - rendered}, missing: {rendered - checked_in}"
    drifted = [f for f in sorted(rendered) if not filecmp.cmp(tmp_path / f, REPO_ROOT / f, shallow=False)]
    assert not drifted, f"checked-in files differ from the templates (run `make stack-files`): {drifted}"
    # Nothing in the checked-in stack is a generated secret.
    assert Project(tmp_path).env["GRAFANA_ADMIN_PASSWORD"] == "otelstack-dev"


def test_flags_reach_the_files(tmp_path):
    proj = tmp_path / "p"
    init_project(proj, "--name", "team-obs", "--grafana-anonymous", "--port", "otlp-grpc=14317",
                 "--image", "collector=otelstack/collector:dev")
    p = Project(proj)
    env = p.env
    assert env["COMPOSE_PROJECT_NAME"] == "team-obs"
    assert env["GRAFANA_ANONYMOUS_ENABLED"] == "true"
    assert env["OTLP_GRPC_PORT"] == "14317"
    assert env["COLLECTOR_IMAGE"] == "otelstack/collector:dev"
    assert "0.0.0.0:${OTLP_GRPC_PORT:-4317}:4317" in p.compose["services"]["collector"]["ports"]
    readme = (proj / "README.md").read_text()
    assert "# team-obs" in readme and "localhost:14317" in readme
    marker = tomllib.loads((proj / "stackctl.toml").read_text())
    assert marker["stack"]["grafana_anonymous"] is True
    assert marker["images"] == {"collector": "otelstack/collector:dev"}
