//! The debug exporter: sampling, its refusals, output_paths and what it prints.

use super::*;

#[tokio::test]
async fn without_the_internal_logger_every_batch_goes_to_each_output_path() {
    let dir = std::env::temp_dir().join(format!("otelstack-debug-{}-{}", std::process::id(), fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.log"), dir.join("b.log"));
    let cfg = parse_section::<DebugConfig>(serde_json::json!({
        "use_internal_logger": false, "output_paths": [a.to_str().unwrap(), b.to_str().unwrap()]
    }))
    .unwrap();
    let ctx = BuildContext::new(crate::component::ComponentId::parse("debug").unwrap(), Default::default());
    let built = cfg.build(ctx, Signal::Traces).unwrap();
    for _ in 0..2 {
        let batch = crate::testkit::traces_batch(vec![crate::testkit::spans("svc", "op", 2)]);
        built.consumer.consume(batch).await.unwrap();
    }
    built.running.shutdown(tokio::time::Instant::now() + Duration::from_secs(5)).await;
    for path in [&a, &b] {
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text.matches("\"spans\": 2}").count(), 2, "{text}");
    }
    let bad = parse_section::<DebugConfig>(
        serde_json::json!({"use_internal_logger": false, "output_paths": ["/nonexistent/d/x.log"]}),
    );
    let ctx = BuildContext::new(crate::component::ComponentId::parse("debug").unwrap(), Default::default());
    assert!(bad.unwrap().build(ctx, Signal::Traces).err().unwrap().to_string().contains("/nonexistent/d/x.log"));
}

#[test]
fn samples_per_second_as_otelcols_logger_and_refuses_keys_it_lacks() {
    let mut s = Sampler { initial: 2, thereafter: 3, second: 0, seen: 0 };
    let admitted: Vec<bool> = (0..8).map(|_| s.admit(7)).collect();
    assert_eq!(admitted, [true, true, false, false, true, false, false, true]);
    assert!(s.admit(8), "a new second starts over");
    let cfg = |v| parse_section::<DebugConfig>(v).unwrap().validate().unwrap_err().path;
    assert_eq!(cfg(serde_json::json!({"output_paths": ["stdout"]})), "output_paths");
    assert_eq!(cfg(serde_json::json!({"use_internal_logger": false, "output_paths": [""]})), "output_paths");
    let ok =
        parse_section::<DebugConfig>(serde_json::json!({"use_internal_logger": false, "output_paths": ["stderr"]}));
    assert!(ok.unwrap().validate().is_ok());
    assert_eq!(cfg(serde_json::json!({"output": {"record": {"include": ["a"]}}})), "output");
    assert_eq!(cfg(serde_json::json!({"sampling_thereafter": 0})), "sampling_thereafter");
}

#[test]
fn normal_prints_a_line_per_item_and_detailed_every_field() {
    let d = crate::otlp::data::Decoded::Traces(vec![crate::testkit::spans("svc", "op", 2)]);
    let mut normal = String::new();
    render(&mut normal, &d, false);
    let trace = "01".repeat(16);
    assert_eq!(
        normal,
        format!(
            "ResourceSpans #0 service.name=Str(svc)\nScopeSpans #0 test@1\n\
             op-0 {trace} 0000000000000001 http.method=Str(GET) n=Int(0)\n\
             op-1 {trace} 0000000000000002 http.method=Str(GET) n=Int(1)\n"
        )
    );
    let mut detailed = String::new();
    render(&mut detailed, &d, true);
    for line in [
        "ResourceSpans #0\nResource SchemaURL: \nResource attributes:\n     -> service.name: Str(svc)\n",
        "ScopeSpans #0\nScopeSpans SchemaURL: \nInstrumentationScope test 1\n",
        "Span #1\n    Trace ID       : 01010101010101010101010101010101\n",
        "    Kind           : Server\n    Start time     : 2023-11-14T22:13:20.000000000Z\n",
        "Attributes:\n     -> http.method: Str(GET)\n     -> n: Int(1)\n",
    ] {
        assert!(detailed.contains(line), "{line:?} not in\n{detailed}");
    }
    let logs = crate::otlp::data::Decoded::Logs(vec![crate::testkit::logs("svc", &["boom"])]);
    let mut out = String::new();
    render(&mut out, &logs, false);
    assert_eq!(out, "ResourceLog #0 service.name=Str(svc)\nScopeLogs #0 @\nStr(boom) k=Str(v)\n");
    let mut out = String::new();
    render(&mut out, &logs, true);
    let epoch = "1970-01-01T00:00:00.000000000Z";
    assert!(
        out.ends_with(&format!(
            "LogRecord #0\nObservedTimestamp: {epoch}\nTimestamp: {epoch}\nSeverityText: ERROR\nSeverityNumber: 17\n\
             Body: Str(boom)\nAttributes:\n     -> k: Str(v)\nTrace ID: \nSpan ID: \nFlags: 0\n"
        )),
        "{out}"
    );
    let metrics =
        crate::otlp::data::Decoded::Metrics(vec![crate::testkit::metrics("svc", vec![crate::testkit::gauge("g", 2)])]);
    let mut out = String::new();
    render(&mut out, &metrics, false);
    assert!(out.ends_with("g Gauge {i=Int(0)} 0 {i=Int(1)} 1\n"), "{out}");
    use opentelemetry_proto::tonic::metrics::v1::{metric::Data, Histogram, HistogramDataPoint, Metric};
    let point = HistogramDataPoint { count: 3, sum: Some(1.5), ..Default::default() };
    let histogram = Data::Histogram(Histogram { data_points: vec![point], ..Default::default() });
    let m = Metric { name: "h".into(), unit: "s".into(), data: Some(histogram), ..Default::default() };
    let metrics = crate::otlp::data::Decoded::Metrics(vec![crate::testkit::metrics("svc", vec![m])]);
    let mut out = String::new();
    render(&mut out, &metrics, true);
    assert!(
        out.ends_with(
            "Metric #0\nDescriptor:\n     -> Name: h\n     -> Description: \n     -> Unit: s\n     -> DataType: Histogram\n\
             DataPoint #0: {} count=3 sum=1.5\n"
        ),
        "{out}"
    );
}
