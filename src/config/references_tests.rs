//! Reference checks between components and extensions, on the typed
//! configs of every registered factory.

use crate::component::Capability;
use crate::config::load_str;
use crate::registry::registry;

fn errors_of(yaml: &str) -> Vec<String> {
    match load_str(yaml, &registry()) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

/// One exporter `id` of a type with `settings`, in a pipeline of its first
/// signal, with a file_storage and a bearertokenauth extension enabled.
fn with_exporter(type_name: &str, signal: &str, settings: &str) -> String {
    format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  {type_name}:\n{settings}extensions:\n  file_storage/q:\n    directory: /tmp\n  bearertokenauth:\n    token: tok\nservice:\n  extensions: [file_storage/q, bearertokenauth]\n  pipelines:\n    {signal}:\n      receivers: [otlp]\n      exporters: [{type_name}]\n"
    )
}

#[test]
fn every_exporter_with_a_sending_queue_accepts_a_storage_and_the_others_refuse_it() {
    let reg = registry();
    let mut with_queue = Vec::new();
    for f in &reg.exporters {
        let cfg = (f.parse)(serde_json::Value::Null).expect("defaults parse");
        let signal = f.signals[0].as_str();
        let errs =
            errors_of(&with_exporter(f.type_name, signal, "    sending_queue:\n      storage: file_storage/q\n"));
        let at_queue: Vec<&String> =
            errs.iter().filter(|e| e.starts_with(&format!("exporters.{}.sending_queue", f.type_name))).collect();
        if cfg.has_sending_queue() {
            with_queue.push(f.type_name);
            assert!(at_queue.is_empty(), "{}: {at_queue:?}", f.type_name);
        } else {
            assert_eq!(at_queue.len(), 1, "{}: {errs:?}", f.type_name);
        }
    }
    for t in ["otlp", "otlphttp", "mysql", "mariadb"] {
        assert!(with_queue.contains(&t), "{t} has a sending queue: {with_queue:?}");
    }
}

#[test]
fn an_authenticator_reference_naming_a_storage_extension_is_refused() {
    let yaml = with_exporter("otlp", "traces", "    endpoint: b:4317\n    auth: {authenticator: file_storage/q}\n");
    assert_eq!(
        errors_of(&yaml)[0].split(" (at ").next().unwrap(),
        "exporters.otlp.auth.authenticator: extension \"file_storage/q\" is not an authenticator; use basicauth or bearertokenauth"
    );
}

#[test]
fn a_storage_reference_naming_an_authenticator_is_refused() {
    let yaml = with_exporter(
        "mysql",
        "traces",
        "    endpoint: mysql://u:p@h:3306\n    sending_queue: {storage: bearertokenauth}\n",
    );
    assert_eq!(
        errors_of(&yaml)[0].split(" (at ").next().unwrap(),
        "exporters.mysql.sending_queue.storage: extension \"bearertokenauth\" is not a storage extension; use a file_storage extension"
    );
}

#[test]
fn a_disabled_queue_names_no_storage() {
    let yaml = with_exporter(
        "otlp",
        "traces",
        "    endpoint: b:4317\n    sending_queue: {enabled: false, storage: file_storage/none}\n",
    );
    assert_eq!(errors_of(&yaml), Vec::<String>::new());
}

#[test]
fn what_an_extension_offers_agrees_with_what_it_gives_the_host() {
    for f in &registry().extensions {
        let cfg = (f.parse)(serde_json::Value::Null).expect("defaults parse");
        let offers = cfg.offers();
        assert_eq!(cfg.storage().is_some(), offers.contains(&Capability::Storage), "{}", f.type_name);
        let authenticates = cfg.authenticator().map(|a| a.is_some()).unwrap_or(true);
        assert_eq!(authenticates, offers.contains(&Capability::Authenticator), "{}", f.type_name);
    }
}

mod storage {
    use crate::registry::registry;

    fn errors(extensions: &str, enabled: &str, storage: &str) -> Vec<String> {
        let yaml = format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  otlp:\n    endpoint: localhost:4317\n    sending_queue:\n      storage: {storage}\nextensions:\n{extensions}service:\n  extensions: [{enabled}]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp]\n"
        );
        match crate::config::load_str(&yaml, &registry()) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_mysql_exporter_keeps_its_sending_queue_in_file_storage() {
        // the mysql exporter is built with the shared queue helper, so it takes a storage like otlp
        let yaml = "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  mysql:\n    endpoint: mysql://otel:pw@127.0.0.1:3306\n    sending_queue:\n      storage: file_storage/q\nextensions:\n  file_storage/q:\n    directory: /tmp\nservice:\n  extensions: [file_storage/q]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [mysql]\n";
        let errs = match crate::config::load_str(yaml, &registry()) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        };
        assert_eq!(errs, Vec::<String>::new());
    }

    #[test]
    fn storage_must_name_an_enabled_file_storage_extension() {
        let fs = "  file_storage/q:\n    directory: /tmp\n  health_check:\n";
        assert!(errors(fs, "file_storage/q", "file_storage/q").is_empty());
        let e = errors(fs, "health_check", "file_storage/q");
        assert!(e[0].contains("exporters.otlp.sending_queue.storage"), "{e:?}");
        assert!(e[0].contains("not listed in service.extensions"), "{e:?}");
        let e = errors(fs, "file_storage/q", "file_storage/other");
        assert!(e[0].contains("not configured"), "{e:?}");
        let e = errors(fs, "file_storage/q, health_check", "health_check");
        assert!(e[0].contains("not a storage extension"), "{e:?}");
    }
}

mod authenticator {
    use crate::config::load_str;
    use crate::registry::registry;

    fn errors(yaml: &str) -> Vec<String> {
        match load_str(yaml, &registry()) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    const PIPELINE: &str =
        "exporters:\n  otlp:\n    endpoint: b:4317\n    auth: {authenticator: bearertokenauth/out}\nservice:\n  extensions: [bearertokenauth/out, basicauth]\n  pipelines:\n    traces: {receivers: [otlp], exporters: [otlp]}\n";

    #[test]
    fn authenticators_must_be_declared_enabled_and_of_an_auth_type() {
        let head = "receivers:\n  otlp:\n    protocols:\n      grpc:\n        auth: {authenticator: basicauth}\n      http:\n        auth: {authenticator: health_check}\nextensions:\n  health_check:\n  basicauth: {htpasswd: {inline: 'u:p'}}\n  bearertokenauth/out: {token: tok-secret}\n  bearertokenauth/idle: {token: tok-secret}\n";
        assert!(errors(&format!("{head}{PIPELINE}")).iter().any(|e| e.contains("is not an authenticator")));
        let ok = format!("{}{PIPELINE}", head.replace("authenticator: health_check", "authenticator: basicauth"));
        assert_eq!(errors(&ok), Vec::<String>::new());
        let idle =
            ok.replace("auth: {authenticator: bearertokenauth/out}", "auth: {authenticator: bearertokenauth/idle}");
        let errs = errors(&idle);
        assert!(errs[0].starts_with("exporters.otlp.auth.authenticator: extension \"bearertokenauth/idle\" is not listed in service.extensions"), "{errs:?}");
        let missing = ok.replace("authenticator: basicauth}", "authenticator: basicauth/nowhere}");
        let errs = errors(&missing);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("receivers.otlp.protocols.grpc.auth.authenticator: references extension \"basicauth/nowhere\" which is not configured"), "{errs:?}");
        assert!(errs.iter().all(|e| !e.contains("tok-secret")));
    }

    #[test]
    fn receiver_tls_is_typed_and_checked() {
        let yaml = "receivers:\n  otlp:\n    protocols:\n      http:\n        tls: {cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem, min_version: '1.3'}\n      grpc:\n        tls: {cert_file: /nonexistent/c.pem, key_fle: x}\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug]}\n";
        let errs = errors(yaml);
        assert!(
            errs.iter().any(|e| e.starts_with("receivers.otlp.protocols.grpc.tls.key_fle: unknown field")),
            "{errs:?}"
        );
        let yaml = yaml.replace(", key_fle: x", "");
        let errs = errors(&yaml);
        assert!(
            errs.iter().any(|e| e.starts_with("receivers.otlp.protocols.grpc.tls: cert_file and key_file go together")),
            "{errs:?}"
        );
        // a missing certificate is the deployment's business: a warning here, an error at start
        let cfg =
            load_str(&yaml.replace("tls: {cert_file: /nonexistent/c.pem}", "endpoint: localhost:4317"), &registry())
                .expect("missing files do not fail validation");
        assert!(
            cfg.warnings.iter().any(|w| w.starts_with("receivers.otlp.protocols.http.tls.cert_file: cannot read")),
            "{:?}",
            cfg.warnings
        );
        let errs = cfg.check_files().unwrap_err().to_string();
        assert!(errs.starts_with("receivers.otlp.protocols.http.tls.cert_file: cannot read"), "{errs}");
    }
}
