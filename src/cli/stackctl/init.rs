//! `stackctl init [DIR]`: writes a ready stack project (see src/stack/).
//!
//! Safe to re-run: files identical to what would be written are left alone,
//! files `init` wrote before and nobody touched since (their sha256 is in the
//! marker) are rewritten, and anything else already there (edited, or not
//! written by stackctl) is kept unless `--force`. Re-running keeps the
//! passwords of an existing `.env`, since the data volumes were created with them.
//!
//! Exit codes: 0 written (or nothing to do, or `--dry-run`); 1 bad options
//! or a write failed; 2 command-line usage; 3 refused to overwrite edited files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};

use crate::stack::{self, Layout, Marker, RenderedFile, Secrets, Service, StackOptions, MARKER_FILE, PORTS};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write the project into; created if missing.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Compose project name [default: the directory's name].
    #[arg(long)]
    pub name: Option<String>,
    /// Optional services to leave out, comma-separated: tempo, jaeger, grafana.
    #[arg(long, value_delimiter = ',', value_name = "SERVICES")]
    pub without: Vec<String>,
    /// Optional services that are off by default, comma-separated: alertmanager
    /// (the collector's `alert` exporter then sends failed operations to it).
    #[arg(long, value_delimiter = ',', value_name = "SERVICES")]
    pub with: Vec<String>,
    /// A host port, e.g. `--port grafana=3001` (repeatable). Names: otlp-grpc,
    /// otlp-http, collector-metrics, collector-prom, collector-health,
    /// prometheus, mariadb, tempo, jaeger-ui, grafana, alertmanager.
    #[arg(long = "port", value_name = "NAME=PORT")]
    pub ports: Vec<String>,
    /// The image of a service, e.g. `--image collector=otelstack/collector:dev` (repeatable).
    #[arg(long = "image", value_name = "SERVICE=IMAGE")]
    pub images: Vec<String>,
    /// Let anyone who reaches Grafana view dashboards without logging in.
    #[arg(long)]
    pub grafana_anonymous: bool,
    /// Also write the workshop's demo apps (examples/workshop) into DIR/workshop/,
    /// wired to this stack; `stackctl workshop up --workshop-dir DIR/workshop` starts them.
    #[arg(long)]
    pub with_workshop: bool,
    /// Print what would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also overwrite files that were edited since `init` wrote them, or that it did not write.
    #[arg(long)]
    pub force: bool,
    /// Write the repository's checked-in stack (compose/, provisioning/,
    /// dashboards/, with public dev passwords) into DIR, the repository root.
    #[arg(long, hide = true)]
    pub checked_in: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Update,
    Unchanged,
    /// Exists and differs, and is not known to be `init`'s own unedited output.
    Conflict,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
            Action::Conflict => "keep (edited)",
        }
    }
}

pub fn run(args: Args) -> ExitCode {
    match init(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init(args: &Args) -> Result<ExitCode> {
    let opts = options(args)?;
    let files = stack::render(&opts)?;
    let old = old_marker(&args.dir, opts.layout);
    let plan: Vec<(Action, &RenderedFile)> =
        files.iter().map(|f| Ok((action(&args.dir, f, old.as_ref())?, f))).collect::<Result<_>>()?;
    let conflicts: Vec<String> =
        plan.iter().filter(|(a, _)| *a == Action::Conflict).map(|(_, f)| f.path.display().to_string()).collect();

    if args.dry_run {
        println!("stackctl init {} would write (--dry-run: nothing written):", args.dir.display());
        for (a, f) in &plan {
            let a = if *a == Action::Conflict && args.force { "overwrite (edited, --force)" } else { a.verb() };
            println!("  {a:<28} {:<52} {:o} {} bytes", f.path.display(), f.mode, f.contents.len());
        }
        if !conflicts.is_empty() && !args.force {
            println!(
                "{} file(s) differ from what init wrote before and would be kept; --force overwrites them",
                conflicts.len()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !conflicts.is_empty() && !args.force {
        eprintln!(
            "error: refusing to overwrite {} file(s) in {} that were edited since `stackctl init` wrote them, \
             or that it did not write: {}. Nothing was written. Move them aside, or re-run with --force to \
             replace them (your edits will be lost).",
            conflicts.len(),
            args.dir.display(),
            conflicts.join(", ")
        );
        return Ok(ExitCode::from(3));
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (a, f) in &plan {
        if *a != Action::Unchanged {
            write(&args.dir, f)?;
        }
        *counts.entry(a.verb()).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(verb, n)| format!("{n} {verb}")).collect();
    println!("wrote the {} stack in {} ({})", opts.project_name, args.dir.display(), summary.join(", "));
    // Files of services dropped since the last init stay (they may hold edits); say so.
    if let Some(old) = &old {
        let now: Vec<String> = files.iter().map(|f| f.path.to_string_lossy().into_owned()).collect();
        let unused: Vec<&String> = old.files.keys().filter(|p| !now.contains(p) && args.dir.join(p).exists()).collect();
        if !unused.is_empty() {
            println!(
                "no longer used by this selection (kept; delete them if you like): {}",
                unused.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
    }
    if opts.layout == Layout::Project {
        next_steps(&args.dir, &opts);
    }
    Ok(ExitCode::SUCCESS)
}

fn options(args: &Args) -> Result<StackOptions> {
    let mut opts = if args.checked_in {
        StackOptions::checked_in()
    } else {
        let name = match &args.name {
            Some(n) => n.clone(),
            None => default_name(&args.dir),
        };
        StackOptions::new(&name, Secrets::dev())
    };
    if !args.checked_in {
        // Keep the passwords of an existing project: its volumes were initialised with them.
        let env = args.dir.join(".env");
        let kept = match std::fs::read_to_string(&env) {
            Ok(text) => Secrets::from_env_file(&text).map_err(|e| {
                anyhow!(
                    "{}, {e}: stackctl keeps the passwords of an existing .env and cannot read this one; \
                     fix that line or remove the file to get new passwords",
                    env.display()
                )
            })?,
            Err(_) => None,
        };
        opts.secrets = match kept {
            Some(s) => s,
            None => Secrets::generate()?,
        };
    }
    let without: Vec<Service> =
        args.without.iter().filter(|s| !s.trim().is_empty()).map(|s| Service::parse(s)).collect::<Result<_>>()?;
    opts.without(&without)?;
    let with: Vec<Service> =
        args.with.iter().filter(|s| !s.trim().is_empty()).map(|s| Service::parse(s)).collect::<Result<_>>()?;
    opts.with(&with);
    for kv in &args.ports {
        let (name, value) = split_kv(kv, "--port", "grafana=3001")?;
        let spec = stack::port_spec(name).ok_or_else(|| {
            anyhow!(
                "--port {kv}: \"{name}\" is not a port of the stack; the names are {}",
                PORTS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
            )
        })?;
        let port: u16 =
            value.parse().map_err(|_| anyhow!("--port {kv}: \"{value}\" is not a port number (1-65535)"))?;
        opts.ports.insert(spec.env.to_owned(), port);
    }
    for kv in &args.images {
        let (name, image) = split_kv(kv, "--image", "collector=otelstack/collector:dev")?;
        opts.images.insert(Service::parse(name)?, image.to_owned());
    }
    opts.grafana_anonymous = args.grafana_anonymous;
    if args.with_workshop && args.checked_in {
        bail!("--with-workshop writes a copy of examples/workshop; a clone has it already, drop --with-workshop");
    }
    opts.with_workshop = args.with_workshop;
    Ok(opts)
}

fn split_kv<'a>(kv: &'a str, flag: &str, example: &str) -> Result<(&'a str, &'a str)> {
    match kv.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => Ok((k.trim(), v.trim())),
        _ => bail!("{flag} {kv}: expected NAME=VALUE, for example {flag} {example}"),
    }
}

/// The directory's name made into a compose project name.
fn default_name(dir: &Path) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let base = abs.components().next_back().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
    let mut name: String = base
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .collect();
    name = name.trim_start_matches(['-', '_']).to_owned();
    if name.is_empty() {
        "otelstack".into()
    } else {
        name
    }
}

fn old_marker(dir: &Path, layout: Layout) -> Option<Marker> {
    let text = std::fs::read_to_string(dir.join(Marker::path(layout))).ok()?;
    toml::from_str(&text).ok()
}

fn action(dir: &Path, f: &RenderedFile, old: Option<&Marker>) -> Result<Action> {
    let path = dir.join(&f.path);
    let current = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Action::Create),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if current == f.contents.as_bytes() {
        return Ok(Action::Unchanged);
    }
    let is_marker = f.path.file_name() == Some(std::ffi::OsStr::new(MARKER_FILE));
    let ours = match (old, std::str::from_utf8(&current)) {
        // The marker is ours whenever it parses as one.
        (Some(_), Ok(_)) if is_marker => true,
        (Some(m), Ok(text)) => m.files.get(&f.path.to_string_lossy().into_owned()) == Some(&stack::sha256(text)),
        _ => false,
    };
    Ok(if ours { Action::Update } else { Action::Conflict })
}

/// Writes through a temporary file and a rename, so a crash never leaves half a config.
fn write(dir: &Path, f: &RenderedFile) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = dir.join(&f.path);
    let parent = path.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).with_context(|| format!("cannot create the directory {}", parent.display()))?;
    let tmp = path.with_extension("stackctl-tmp");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(f.mode)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    out.write_all(f.contents.as_bytes()).with_context(|| format!("cannot write {}", tmp.display()))?;
    out.set_permissions(std::fs::Permissions::from_mode(f.mode))?;
    drop(out);
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot replace {}", path.display()))
}

fn next_steps(dir: &Path, opts: &StackOptions) {
    println!();
    println!("next:");
    if dir != Path::new(".") {
        println!("  cd {}", dir.display());
    }
    println!("  stackctl image build   # the collector image, from this stackctl's release");
    println!("  stackctl up            # start it and wait until every service is healthy");
    println!();
    if opts.has(Service::Grafana) {
        println!(
            "  Grafana     http://localhost:{}  (admin / GRAFANA_ADMIN_PASSWORD in .env)",
            opts.port("GRAFANA_PORT")
        );
    }
    if opts.has(Service::Jaeger) {
        println!("  Jaeger      http://localhost:{}", opts.port("JAEGER_UI_PORT"));
    }
    println!("  Prometheus  http://localhost:{}", opts.port("PROMETHEUS_PORT"));
    if opts.with_workshop {
        println!(
            "  workshop    stackctl workshop up --workshop-dir workshop --project-dir .   (see workshop/README.md)"
        );
    }
    println!(
        "  OTLP        localhost:{} (gRPC), localhost:{} (HTTP); from other compose projects host.docker.internal:{}",
        opts.port("OTLP_GRPC_PORT"),
        opts.port("OTLP_HTTP_PORT"),
        opts.port("OTLP_GRPC_PORT")
    );
}
