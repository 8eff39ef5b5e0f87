//! The debug exporter: sampling, its refusals and output_paths.

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
