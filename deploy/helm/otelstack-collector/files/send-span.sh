# Sends one span over OTLP/HTTP JSON to $OTLP_HTTP_URL and waits until the
# collector's self metrics at $METRICS_URL count it. POSIX sh + curl + od.
set -eu
accepted() {
  curl -fsS --max-time 5 "$METRICS_URL" \
    | awk '/^otelcol_receiver_accepted_spans_total[{ ]/ { s += $(NF) } END { printf "%d\n", s }'
}
before=$(accepted)
trace=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
span=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
now=$(date +%s)
body='{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"helm-test"}}]},"scopeSpans":[{"spans":[{"traceId":"'$trace'","spanId":"'$span'","name":"helm test","kind":1,"startTimeUnixNano":"'$now'000000000","endTimeUnixNano":"'$now'001000000"}]}]}]}'
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "$body" "$OTLP_HTTP_URL/v1/traces")
if [ "$code" != 200 ]; then
  echo "FAIL: POST $OTLP_HTTP_URL/v1/traces answered $code, expected 200"
  exit 1
fi
i=0
while [ "$i" -lt 30 ]; do
  after=$(accepted)
  if [ "$after" -gt "$before" ]; then
    echo "OK: span $trace/$span accepted; otelcol_receiver_accepted_spans_total went from $before to $after"
    exit 0
  fi
  i=$((i + 1))
  sleep 1
done
echo "FAIL: otelcol_receiver_accepted_spans_total at $METRICS_URL stayed at $before after sending span $trace"
exit 1
