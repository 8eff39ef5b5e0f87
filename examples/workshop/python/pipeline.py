"""Scheduled pipeline job, standing in for an Airflow DAG run or a NiFi flow.

Every PIPELINE_INTERVAL seconds (60 by default) one run: a `pipeline run`
span with one child span per task, extract -> transform -> load. A failing
task is retried up to MAX_ATTEMPTS times, one span per attempt
(`task.attempt`), with the exception recorded, so retries are visible in the
trace. Under `pipeline-stuck` the transform task fails every attempt and the
run ends in error. `pipeline.runs` counts runs by status and
`pipeline.task.retries` counts retries by task.
"""

import os
import time
import uuid

import pymysql
from opentelemetry.trace import Status, StatusCode

import scenario
import telemetry

tracer, meter, log = telemetry.setup("workshop.pipeline")
telemetry.instrument_pymysql()
runs = meter.create_counter("pipeline.runs", unit="{run}", description="Pipeline runs, by status")
retries = meter.create_counter("pipeline.task.retries", unit="{retry}", description="Task retries, by task")

PIPELINE = "orders_hourly"
INTERVAL = float(os.environ.get("PIPELINE_INTERVAL", "60"))
MAX_ATTEMPTS = 3
RETRY_DELAY = 1.0


class TaskFailed(Exception):
    pass


def db():
    return pymysql.connect(
        host=os.environ.get("WORKSHOP_DB_HOST", "mariadb"),
        port=int(os.environ.get("WORKSHOP_DB_PORT", "3306")),
        user=os.environ.get("WORKSHOP_DB_USER", "workshop"),
        password=os.environ["WORKSHOP_DB_PASSWORD"],
        database=os.environ.get("WORKSHOP_DB_NAME", "workshop"),
        autocommit=True,
        connect_timeout=3,
    )


def extract(_):
    with db() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT status, COUNT(*), COALESCE(SUM(amount_cents), 0) FROM orders "
            "WHERE created_at >= UTC_TIMESTAMP() - INTERVAL 1 HOUR GROUP BY status"
        )
        return cur.fetchall()


def transform(rows):
    if scenario.active() == "pipeline-stuck":
        raise TaskFailed("transform: upstream extract file is locked by another run (pipeline-stuck)")
    by_status = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    return {
        "paid": by_status.get("paid", (0, 0))[0],
        "failed": by_status.get("failed", (0, 0))[0],
        "revenue_cents": by_status.get("paid", (0, 0))[1],
    }


def load(summary):
    with db() as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO order_stats (paid, failed, revenue_cents) VALUES (%s, %s, %s)",
            (summary["paid"], summary["failed"], summary["revenue_cents"]),
        )
    return summary


def run_task(name, fn, arg):
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with tracer.start_as_current_span(name, attributes={"task.name": name, "task.attempt": attempt}) as span:
            try:
                return fn(arg)
            except Exception as e:  # a task may fail in any way; the run decides
                span.record_exception(e)
                span.set_status(Status(StatusCode.ERROR, str(e)))
                if attempt == MAX_ATTEMPTS:
                    log.error("task %s failed after %d attempts: %s", name, attempt, e)
                    raise TaskFailed(f"{name} failed after {attempt} attempts: {e}") from e
                retries.add(1, {"task": name, "pipeline": PIPELINE})
                log.warning("task %s attempt %d failed, retrying: %s", name, attempt, e)
        time.sleep(RETRY_DELAY)


def run_once():
    run_id = uuid.uuid4().hex[:12]
    attrs = {"pipeline.name": PIPELINE, "pipeline.run_id": run_id}
    with tracer.start_as_current_span("pipeline run", attributes=attrs) as span:
        try:
            summary = run_task("load", load, run_task("transform", transform, run_task("extract", extract, None)))
        except Exception as e:
            span.set_status(Status(StatusCode.ERROR, str(e)))
            runs.add(1, {"pipeline": PIPELINE, "status": "failed"})
            log.error("pipeline run %s failed: %s", run_id, e)
            return
        runs.add(1, {"pipeline": PIPELINE, "status": "success"})
        log.info("pipeline run %s loaded %s", run_id, summary)


def main():
    # every series exists from the start at 0, so the first failure shows in increase()
    for status in ("success", "failed"):
        runs.add(0, {"pipeline": PIPELINE, "status": status})
    for task in ("extract", "transform", "load"):
        retries.add(0, {"task": task, "pipeline": PIPELINE})
    log.info("pipeline %s: one run every %.0f s", PIPELINE, INTERVAL)
    while True:
        started = time.monotonic()
        run_once()
        time.sleep(max(1.0, INTERVAL - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
