//! The workshop's compose project for `stackctl init --with-workshop`: the
//! demo apps of examples/workshop (embedded in the binary) under `workshop/`
//! next to a new stack, wired to it: the stack's network, its OTLP host
//! ports, its own compose project name and a MariaDB password for the
//! workshop's least-privilege user.
//!
//! The web front and the orders API/pipeline image build from the sources
//! written here. The payments service is a cargo example of this repository,
//! so it cannot build outside a clone: its service has no `build:` here and
//! runs the image named by `WORKSHOP_PAYMENTS_IMAGE` (build it once from a
//! clone with `docker compose build payments` in examples/workshop, or point
//! the variable at an image you pushed).

use std::path::PathBuf;

use super::marker::sha256;
use super::options::StackOptions;
use super::rendered_file::RenderedFile;

/// Where the workshop goes inside the stack project.
pub const WORKSHOP_DIR: &str = "workshop";

macro_rules! example {
    ($path:literal) => {
        ($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/workshop/", $path)))
    };
}

/// The app sources copied verbatim (paths relative to examples/workshop).
const SOURCES: [(&str, &str); 17] = [
    example!("control/.gitignore"),
    example!("mariadb/workshop.sql"),
    example!("python/Dockerfile"),
    example!("python/orders.py"),
    example!("python/pipeline.py"),
    example!("python/requirements.txt"),
    example!("python/scenario.py"),
    example!("python/telemetry.py"),
    example!("web/.dockerignore"),
    example!("web/.gitignore"),
    example!("web/Dockerfile"),
    example!("web/package-lock.json"),
    example!("web/package.json"),
    example!("web/scenario.js"),
    example!("web/server.js"),
    example!("web/tracing.js"),
    ("README.md", README),
];

const COMPOSE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/workshop/docker-compose.yml"));

/// The payments build in the repository's compose file (its context is the clone).
const PAYMENTS_BUILD: &str = "    build: &payments-build
      context: ../..
      dockerfile: examples/workshop/payments/Dockerfile
      args: {RUST_IMAGE: \"${RUST_IMAGE}\", RUNTIME_IMAGE: \"${RUNTIME_IMAGE}\"}
";
const PAYMENTS_NO_BUILD: &str = "    # built only from a clone of otelstack (a cargo example of the repository):
    # `docker compose build payments` in its examples/workshop, or set
    # WORKSHOP_PAYMENTS_IMAGE in .env to an image you pushed
";

const README: &str = "# The workshop's demo apps

Written by `stackctl init --with-workshop`: a compose project of its own
that sends to the stack one directory up. From the stack's directory:

    stackctl up
    stackctl workshop up --workshop-dir workshop --project-dir .
    stackctl workshop load --workshop-dir workshop --project-dir .

The payments image is not built here (it is a cargo example of the otelstack
repository): build it from a clone (`docker compose build payments` in
examples/workshop) or set WORKSHOP_PAYMENTS_IMAGE in .env. The guide is
docs/workshop/ in the repository.
";

/// The files of `DIR/workshop/` for a stack rendered with `opts`.
pub fn render(opts: &StackOptions) -> Vec<RenderedFile> {
    let dir = PathBuf::from(WORKSHOP_DIR);
    let mut out: Vec<RenderedFile> = SOURCES
        .iter()
        .map(|(path, text)| RenderedFile { path: dir.join(path), contents: (*text).to_owned(), mode: 0o644 })
        .collect();
    out.push(RenderedFile { path: dir.join("docker-compose.yml"), contents: compose(), mode: 0o644 });
    out.push(RenderedFile { path: dir.join(".env"), contents: env(opts), mode: 0o600 });
    out
}

fn compose() -> String {
    assert!(COMPOSE.contains(PAYMENTS_BUILD), "examples/workshop/docker-compose.yml changed its payments build");
    COMPOSE.replace(PAYMENTS_BUILD, PAYMENTS_NO_BUILD)
}

fn env(opts: &StackOptions) -> String {
    // Derived from the stack's root password: stable across re-runs of init,
    // and `stackctl workshop up` sets it on the workshop user every time.
    let db_password = &sha256(&format!("workshop:{}", opts.secrets.mariadb_root_password))[..24];
    format!(
        "# The workshop's compose project, written by `stackctl init --with-workshop`
# for the stack `{name}` one directory up.
COMPOSE_PROJECT_NAME={name}-workshop

# Public base images, pinned; overridable from the environment.
NODE_IMAGE=node:20.18.1-bookworm-slim
PYTHON_IMAGE=python:3.12.8-slim-bookworm
RUST_IMAGE=rust:1.88.0-slim-bookworm
RUNTIME_IMAGE=debian:bookworm-slim

# The demo apps' own images. web and python build from ./web and ./python;
# payments must exist already (see README.md).
WORKSHOP_WEB_IMAGE=otelstack-workshop/web:1.0.0
WORKSHOP_PYTHON_IMAGE=otelstack-workshop/python:1.0.0
WORKSHOP_PAYMENTS_IMAGE=otelstack-workshop/payments:1.0.0

# The stack's network (MariaDB) and its OTLP ports on the host.
STACK_NETWORK={name}_default
OTLP_GRPC_PORT={grpc}
OTLP_HTTP_PORT={http}

# The workshop's own MariaDB user (least privilege, schema `workshop`).
WORKSHOP_DB_PASSWORD={db_password}

# Where a browser and `stackctl workshop load` reach the web front.
WORKSHOP_WEB_PORT=8070

# One pipeline run every this many seconds.
PIPELINE_INTERVAL=60
",
        name = opts.project_name,
        grpc = opts.port("OTLP_GRPC_PORT"),
        http = opts.port("OTLP_HTTP_PORT"),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::super::marker::Marker;
    use super::super::options::{Layout, StackOptions};
    use super::super::render::render;
    use super::super::secrets::Secrets;

    fn rendered(with_workshop: bool) -> Vec<super::RenderedFile> {
        let mut opts = StackOptions::new("demo", Secrets::dev());
        opts.ports.insert("OTLP_GRPC_PORT".into(), 14317);
        opts.with_workshop = with_workshop;
        render(&opts).unwrap()
    }

    fn file<'a>(files: &'a [super::RenderedFile], path: &str) -> &'a str {
        &files.iter().find(|f| f.path == Path::new(path)).unwrap_or_else(|| panic!("{path} not written")).contents
    }

    #[test]
    fn without_the_flag_no_workshop_file_is_written() {
        assert!(rendered(false).iter().all(|f| !f.path.starts_with("workshop")));
    }

    #[test]
    fn the_workshop_is_wired_to_its_stack() {
        let files = rendered(true);
        let env = file(&files, "workshop/.env");
        for line in [
            "COMPOSE_PROJECT_NAME=demo-workshop",
            "STACK_NETWORK=demo_default",
            "OTLP_GRPC_PORT=14317",
            "OTLP_HTTP_PORT=4318",
            "WORKSHOP_PAYMENTS_IMAGE=otelstack-workshop/payments:1.0.0",
        ] {
            assert!(env.lines().any(|l| l == line), "{line} missing from\n{env}");
        }
        let password = env.lines().find_map(|l| l.strip_prefix("WORKSHOP_DB_PASSWORD=")).unwrap();
        assert_eq!(password.len(), 24);
        assert!(!password.contains(&Secrets::dev().mariadb_root_password));
        // stable across re-runs, so a second init leaves the file unchanged
        assert_eq!(env, file(&rendered(true), "workshop/.env"));

        let compose = file(&files, "workshop/docker-compose.yml");
        assert!(!compose.contains("context: ../.."), "the payments build needs the clone:\n{compose}");
        assert!(compose.contains("image: ${WORKSHOP_PAYMENTS_IMAGE:-otelstack-workshop/payments:1.0.0}"));
        assert!(compose.contains("context: web") && compose.contains("context: python"));
        assert!(compose.contains("http://host.docker.internal:${OTLP_GRPC_PORT:-4317}"));
        // the marker lists the workshop's files, so a re-run knows them as init's own
        let marker = Marker::path(Layout::Project);
        assert!(file(&files, &marker.to_string_lossy()).contains("\"workshop/web/server.js\""));
    }

    #[test]
    fn every_app_source_of_the_example_is_written() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/workshop");
        let mut want = BTreeSet::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let rel = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
                if rel == "payments" || rel.ends_with("node_modules") || rel == "control/scenario.json" {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else {
                    want.insert(format!("workshop/{rel}"));
                }
            }
        }
        let written: BTreeSet<String> = rendered(true)
            .iter()
            .filter(|f| f.path.starts_with("workshop"))
            .map(|f| f.path.to_string_lossy().into_owned())
            .collect();
        let missing: Vec<&String> = want.difference(&written).collect();
        assert!(missing.is_empty(), "examples/workshop files not written by --with-workshop: {missing:?}");
    }
}
