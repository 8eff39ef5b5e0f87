"""Exponential histograms through `prometheusremotewrite` into a real Prometheus.

The Python SDK records into two exponential histograms (the SDK's own
`ExponentialBucketHistogramAggregation`): a wide one whose scale the SDK keeps
at or below 8, with a zero, and a narrow one the SDK keeps at scale 20, which
the exporter must merge down to schema 8 as otelcol-contrib does. The SDK's
histograms take no negative values, so a hand-built OTLP/HTTP request adds a
point with negative buckets, a zero count and scale 9. Debian's Prometheus 2.42 receives them as native
histograms over remote write (`--enable-feature=native-histograms`) and the
test reads them back through the query API: `histogram_count`,
`histogram_sum`, and every bucket, whose count must equal the number of
recorded values inside its bounds.
"""

from __future__ import annotations

import math
import time

import requests
from conftest import config_yaml, pipeline
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from test_prometheus_exporter import Prometheus

WIDE = [0.0, 0.3, 1.5, 3.0, 3.0, 7.0, 40.0]
NARROW = [3.0, 3.0005, 3.001, 3.002]


def send(grpc_port: int):
    resource = Resource.create({"service.name": "rpc-api", "service.namespace": "shop", "host.name": "node-a"})
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True),
                                           export_interval_millis=60_000)
    view = View(instrument_name="rpc.*", aggregation=ExponentialBucketHistogramAggregation(max_scale=20))
    provider = MeterProvider(resource=resource, metric_readers=[reader], views=[view])
    meter = provider.get_meter("it.native")
    wide = meter.create_histogram("rpc.server.duration", unit="s")
    narrow = meter.create_histogram("rpc.client.size", unit="By")
    for v in WIDE:
        wide.record(v, {"rpc.method": "Get"})
    for v in NARROW:
        narrow.record(v, {"rpc.method": "Put"})
    provider.force_flush()
    provider.shutdown()


def send_signed(http_port: int) -> list[tuple[float, float, int]]:
    """One point at scale 9 with negative buckets, as OTLP/HTTP protobuf; returns
    the buckets Prometheus must hold at schema 8: (lower, upper, count)."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as m

    point = m.ExponentialHistogramDataPoint(
        time_unix_nano=time.time_ns(), start_time_unix_nano=time.time_ns() - 10**9, count=9, sum=-1.5, scale=9,
        zero_count=2, positive=m.ExponentialHistogramDataPoint.Buckets(offset=511, bucket_counts=[1, 1, 0, 2]),
        negative=m.ExponentialHistogramDataPoint.Buckets(offset=-3, bucket_counts=[3]),
        attributes=[KeyValue(key="rpc.method", value=AnyValue(string_value="Sign"))])
    metric = m.Metric(name="rpc.signed", unit="1", exponential_histogram=m.ExponentialHistogram(
        data_points=[point], aggregation_temporality=m.AGGREGATION_TEMPORALITY_CUMULATIVE))
    rm = m.ResourceMetrics(scope_metrics=[m.ScopeMetrics(metrics=[metric])])
    rm.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="rpc-api")))
    body = ExportMetricsServiceRequest(resource_metrics=[rm]).SerializeToString()
    r = requests.post(f"http://127.0.0.1:{http_port}/v1/metrics", data=body,
                      headers={"Content-Type": "application/x-protobuf"}, timeout=5)
    assert r.status_code == 200, r.text
    # scale 9 buckets i (2^(i/512), 2^((i+1)/512)] merge in pairs into schema 8 bucket (i >> 1) + 1:
    # 511 -> 256 (2^(255/256), 2]; 512, 513 -> 257 (2, 2^(257/256)]; 514 (0), 515 (2) -> 258;
    # negative -3 -> (-3 >> 1) + 1 = -1: [-2^(-1/256), -2^(-2/256))
    b = lambda i: 2 ** (i / 256)
    return [(-b(-1), -b(-2), 3), (b(255), b(256), 1), (b(256), b(257), 1), (b(257), b(258), 2)]


def inside(bucket: list, v: float) -> bool:
    """Prometheus' bucket boundary rules: 0 (l, u], 1 [l, u), 2 (l, u), 3 [l, u]."""
    rule, lower, upper = bucket[0], float(bucket[1]), float(bucket[2])
    above = v >= lower if rule in (1, 3) else v > lower
    below = v <= upper if rule in (0, 3) else v < upper
    return above and below


def check_buckets(histogram: dict, values: list[float]):
    buckets = histogram["buckets"]
    assert buckets, histogram
    for b in buckets:
        want = sum(1 for v in values if inside(b, v))
        assert float(b[3]) == want, f"bucket {b}: {want} recorded values inside, Prometheus has {b[3]}"
    # every value is counted in exactly one returned bucket
    for v in values:
        assert sum(1 for b in buckets if inside(b, v)) == 1, (v, buckets)


def test_exponential_histograms_arrive_as_native_histograms(collector, ports, tmp_path):
    server = Prometheus(tmp_path / "prom-native", "127.0.0.1:9", features=("native-histograms", "exemplar-storage"))
    try:
        exporter = {"endpoint": f"http://127.0.0.1:{server.port}/api/v1/write",
                    "retry_on_failure": {"initial_interval": "100ms"}}
        cfg = config_yaml(ports, exporters={"prometheusremotewrite": exporter},
                          pipelines={"metrics": pipeline(["prometheusremotewrite"])})
        collector(cfg)
        send(ports.grpc)

        count = server.wait_query('histogram_count(rpc_server_duration_seconds{rpc_method="Get"})')
        assert float(count[0]["value"][1]) == len(WIDE)
        assert count[0]["metric"]["job"] == "shop/rpc-api"
        total = server.query('histogram_sum(rpc_server_duration_seconds{rpc_method="Get"})')
        assert math.isclose(float(total[0]["value"][1]), sum(WIDE))

        wide = server.query('rpc_server_duration_seconds{rpc_method="Get"}')
        assert len(wide) == 1 and "histogram" in wide[0], wide
        h = wide[0]["histogram"][1]
        assert (float(h["count"]), float(h["sum"])) == (len(WIDE), sum(WIDE))
        check_buckets(h, WIDE)
        zero = [b for b in h["buckets"] if b[0] == 3]
        assert len(zero) == 1 and float(zero[0][3]) == 1, h["buckets"]

        narrow = server.wait_query('rpc_client_size_bytes{rpc_method="Put"}')
        h = narrow[0]["histogram"][1]
        assert float(h["count"]) == len(NARROW)
        assert math.isclose(float(h["sum"]), sum(NARROW))
        check_buckets(h, NARROW)
        # schema 8: each bucket's upper bound is 2^(1/256) times its lower bound
        for b in h["buckets"]:
            assert math.isclose(float(b[2]) / float(b[1]), 2 ** (1 / 256), rel_tol=1e-9), b

        want = send_signed(ports.http)
        signed = server.wait_query('rpc_signed{rpc_method="Sign"}')
        h = signed[0]["histogram"][1]
        assert (float(h["count"]), float(h["sum"])) == (9, -1.5)
        zero = [b for b in h["buckets"] if b[0] == 3]
        assert len(zero) == 1 and float(zero[0][3]) == 2, h["buckets"]
        got = sorted((float(b[1]), float(b[2]), int(b[3])) for b in h["buckets"] if b[0] != 3 and float(b[3]) > 0)
        assert len(got) == len(want), (got, want)
        for (gl, gu, gc), (wl, wu, wc) in zip(got, sorted(want)):
            assert math.isclose(gl, wl, rel_tol=1e-12) and math.isclose(gu, wu, rel_tol=1e-12) and gc == wc, (got, want)

        info = server.wait_query('target_info{job="shop/rpc-api"}')
        assert info[0]["metric"]["host_name"] == "node-a"
    finally:
        server.stop()


def test_prometheus_without_the_feature_gets_a_refusal_that_names_the_fix(collector, ports, tmp_path):
    """Prometheus 2.42 without `--enable-feature=native-histograms` answers 500 to the
    whole request; retrying cannot help, so the batch is dropped at once with the fix
    in the log, and later batches without exponential histograms still arrive."""
    server = Prometheus(tmp_path / "prom-plain", "127.0.0.1:9")
    try:
        exporter = {"endpoint": f"http://127.0.0.1:{server.port}/api/v1/write",
                    "retry_on_failure": {"initial_interval": "100ms"}}
        cfg = config_yaml(ports, exporters={"prometheusremotewrite": exporter},
                          pipelines={"metrics": pipeline(["prometheusremotewrite"])})
        c = collector(cfg)
        send(ports.grpc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "--enable-feature=native-histograms" not in c.stderr():
            time.sleep(0.2)
        log = c.stderr()
        assert "native histograms are disabled" in log and "--enable-feature=native-histograms" in log, log[-3000:]
        assert "will retry" not in log, log[-3000:]
        assert server.query("rpc_server_duration_seconds") == []

        resource = Resource.create({"service.name": "rpc-api"})
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"127.0.0.1:{ports.grpc}", insecure=True),
                                               export_interval_millis=60_000)
        provider = MeterProvider(resource=resource, metric_readers=[reader])
        provider.get_meter("it.plain").create_counter("rpc.calls").add(4)
        provider.force_flush()
        provider.shutdown()
        got = server.wait_query("rpc_calls_total")
        assert float(got[0]["value"][1]) == 4
    finally:
        server.stop()
