//! `stackctl env [--lang L] [--context C]`: the `OTEL_*` settings an app
//! needs to send to this stack's collector, and a short snippet per language.
//! Contexts: `host` (app on this machine: published ports on localhost),
//! `compose` (app in the stack's compose network: service name `collector`),
//! `external` (app in another compose project: `host.docker.internal` plus
//! the `extra_hosts` line Linux needs). All use OTLP/gRPC.

use clap::ValueEnum;

use super::engine::{finish, Failure, Project, ProjectArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Python,
    Java,
    Node,
    Go,
    Dotnet,
    Rust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Context {
    Host,
    Compose,
    External,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Add a snippet for this language.
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// Where the app runs.
    #[arg(long, value_enum, default_value = "host")]
    pub context: Context,
    /// The app's service.name.
    #[arg(long, default_value = "my-service")]
    pub service_name: String,
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(env(&args))
}

fn env(args: &Args) -> Result<(), Failure> {
    // Outside a project the documented default ports apply.
    let grpc_port = match Project::open(&args.project.project_dir) {
        Ok(p) => p.port("OTLP_GRPC_PORT", 4317),
        Err(_) => 4317,
    };
    print!("{}", render(args.context, args.lang, grpc_port, &args.service_name));
    Ok(())
}

/// The collector's OTLP/gRPC endpoint as seen from a context.
pub fn endpoint(context: Context, host_port: u16) -> String {
    match context {
        Context::Host => format!("http://localhost:{host_port}"),
        Context::Compose => "http://collector:4317".into(),
        Context::External => format!("http://host.docker.internal:{host_port}"),
    }
}

pub fn variables(context: Context, host_port: u16, service: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_SERVICE_NAME", service.to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(context, host_port)),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
        ("OTEL_TRACES_EXPORTER", "otlp".into()),
        ("OTEL_METRICS_EXPORTER", "otlp".into()),
        ("OTEL_LOGS_EXPORTER", "otlp".into()),
    ]
}

pub fn render(context: Context, lang: Option<Lang>, host_port: u16, service: &str) -> String {
    let vars = variables(context, host_port, service);
    let mut out = String::new();
    match context {
        Context::Host => {
            out.push_str("# for an app on this host (shell):\n");
            for (k, v) in &vars {
                out.push_str(&format!("export {k}={v}\n"));
            }
        }
        Context::Compose | Context::External => {
            out.push_str(if context == Context::Compose {
                "# for a service in this stack's compose file (docker-compose.yml):\n"
            } else {
                "# for a service in another compose project (its docker-compose.yml):\n"
            });
            out.push_str("    environment:\n");
            for (k, v) in &vars {
                out.push_str(&format!("      {k}: \"{v}\"\n"));
            }
            if context == Context::External {
                out.push_str("    extra_hosts:\n      - \"host.docker.internal:host-gateway\"\n");
            }
        }
    }
    if let Some(lang) = lang {
        out.push('\n');
        out.push_str(snippet(lang));
    }
    out
}

/// A short way to use the variables above in each language.
pub fn snippet(lang: Lang) -> &'static str {
    match lang {
        Lang::Python => "# Python: zero-code instrumentation reads the OTEL_* variables\npip install opentelemetry-distro opentelemetry-exporter-otlp\nopentelemetry-bootstrap -a install\nopentelemetry-instrument python app.py\n",
        Lang::Java => "# Java: the agent reads the OTEL_* variables\njava -javaagent:opentelemetry-javaagent.jar -jar app.jar\n",
        Lang::Node => "# Node.js: auto-instrumentation reads the OTEL_* variables\nnpm install @opentelemetry/api @opentelemetry/auto-instrumentations-node\nnode --require @opentelemetry/auto-instrumentations-node/register app.js\n",
        Lang::Go => "// Go: the OTLP/gRPC exporters read OTEL_EXPORTER_OTLP_ENDPOINT\n// go get go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc\nexp, err := otlptracegrpc.New(ctx)\ntp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))\notel.SetTracerProvider(tp)\n",
        Lang::Dotnet => "// .NET: dotnet add package OpenTelemetry.Extensions.Hosting OpenTelemetry.Exporter.OpenTelemetryProtocol\nbuilder.Services.AddOpenTelemetry()\n    .WithTracing(t => t.AddAspNetCoreInstrumentation().AddOtlpExporter())\n    .WithMetrics(m => m.AddAspNetCoreInstrumentation().AddOtlpExporter());\n",
        Lang::Rust => "// Rust: cargo add opentelemetry opentelemetry_sdk opentelemetry-otlp --features opentelemetry-otlp/grpc-tonic\n// the exporter reads OTEL_EXPORTER_OTLP_ENDPOINT\nlet exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?;\nlet provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().with_batch_exporter(exporter).build();\nopentelemetry::global::set_tracer_provider(provider);\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_per_context() {
        assert_eq!(endpoint(Context::Host, 4317), "http://localhost:4317");
        assert_eq!(endpoint(Context::Host, 14317), "http://localhost:14317");
        assert_eq!(endpoint(Context::Compose, 14317), "http://collector:4317");
        assert_eq!(endpoint(Context::External, 4317), "http://host.docker.internal:4317");
    }

    #[test]
    fn host_context_is_shell_exports() {
        let out = render(Context::Host, None, 4317, "shop");
        assert!(out.contains("export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317\n"));
        assert!(out.contains("export OTEL_SERVICE_NAME=shop\n"));
        assert!(out.contains("export OTEL_EXPORTER_OTLP_PROTOCOL=grpc\n"));
        assert!(!out.contains("extra_hosts"));
    }

    #[test]
    fn external_context_adds_extra_hosts() {
        let out = render(Context::External, Some(Lang::Python), 4317, "etl");
        assert!(out.contains("      OTEL_EXPORTER_OTLP_ENDPOINT: \"http://host.docker.internal:4317\"\n"));
        assert!(out.contains("    extra_hosts:\n      - \"host.docker.internal:host-gateway\"\n"));
        assert!(out.contains("opentelemetry-instrument python app.py"));
        let compose = render(Context::Compose, None, 4317, "etl");
        assert!(compose.contains("OTEL_EXPORTER_OTLP_ENDPOINT: \"http://collector:4317\""));
        assert!(!compose.contains("extra_hosts"));
    }

    #[test]
    fn every_language_has_its_own_snippet() {
        let all = [Lang::Python, Lang::Java, Lang::Node, Lang::Go, Lang::Dotnet, Lang::Rust];
        let marks = [
            "opentelemetry-instrument",
            "-javaagent:",
            "auto-instrumentations-node/register",
            "otlptracegrpc.New",
            "AddOtlpExporter",
            "with_tonic()",
        ];
        for (lang, mark) in all.iter().zip(marks) {
            let out = render(Context::Host, Some(*lang), 4317, "s");
            assert!(out.contains(mark), "{lang:?} snippet lacks {mark}");
            for other in marks.iter().filter(|m| **m != mark) {
                assert!(!out.contains(other), "{lang:?} snippet contains {other}");
            }
        }
    }
}
