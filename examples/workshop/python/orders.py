"""Orders API (FastAPI): products, carts and orders in the `workshop` schema
on the stack's MariaDB, charging each order through the payments service.

Scenarios (see scenario.py): `slow-db` makes the product and order queries
slow inside MariaDB; `downstream-down` sends charges to an address where
nothing listens, so the HTTP client span fails with a connection error.
Traces, the HTTP server duration histogram (`http.server.request.duration`,
stable semconv) and logs come from the instrumentation; `orders.placed`
counts orders by outcome.
"""

import os
import random

import pymysql
import requests
from fastapi import FastAPI, HTTPException
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.trace import Status, StatusCode
from pydantic import BaseModel

import scenario
import telemetry

tracer, meter, log = telemetry.setup("workshop.orders")
telemetry.instrument_pymysql()
RequestsInstrumentor().instrument()

placed = meter.create_counter("orders.placed", unit="{order}", description="Orders placed, by outcome")
for _outcome in ("paid", "failed"):
    placed.add(0, {"outcome": _outcome})  # series exist at 0, so the first order shows in increase()
PAYMENTS = [u for u in os.environ.get("PAYMENTS_URLS", "http://payments:8080").split(",") if u]
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens on the discard port in the container
SLOW_ROW_SECONDS = 0.15

app = FastAPI(title="workshop orders")
FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz")


class Item(BaseModel):
    product_id: int
    quantity: int = 1


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


def delay() -> float:
    return SLOW_ROW_SECONDS if scenario.active() == "slow-db" else 0.0


@app.get("/healthz")
def healthz():
    return {"status": "ok", "scenario": scenario.active()}


@app.get("/products")
def products():
    with db() as conn, conn.cursor() as cur:
        # SLEEP per row: under slow-db the query itself is slow inside MariaDB
        cur.execute("SELECT id, name, price_cents FROM products WHERE SLEEP(%s) = 0 ORDER BY id", (delay(),))
        rows = cur.fetchall()
    return [{"id": r[0], "name": r[1], "price_cents": r[2]} for r in rows]


def price_of(cur, product_id: int) -> int:
    cur.execute("SELECT price_cents FROM products WHERE id = %s AND SLEEP(%s) = 0", (product_id, delay()))
    row = cur.fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail=f"no product {product_id}")
    return row[0]


@app.post("/cart")
def cart(item: Item):
    with db() as conn, conn.cursor() as cur:
        total = price_of(cur, item.product_id) * item.quantity
    return {"product_id": item.product_id, "quantity": item.quantity, "total_cents": total}


@app.post("/orders", status_code=201)
def place_order(item: Item):
    with db() as conn, conn.cursor() as cur:
        amount = price_of(cur, item.product_id) * item.quantity
        cur.execute(
            "INSERT INTO orders (product_id, quantity, amount_cents, status) VALUES (%s, %s, %s, 'pending')",
            (item.product_id, item.quantity, amount),
        )
        order_id = cur.lastrowid
        base = UNREACHABLE if scenario.active() == "downstream-down" else random.choice(PAYMENTS)
        try:
            r = requests.post(f"{base}/charge", json={"order_id": order_id, "amount_cents": amount}, timeout=3)
            ok = r.status_code < 400
            reason = "" if ok else f"payments answered {r.status_code}: {r.text[:200]}"
        except requests.RequestException as e:
            ok, reason = False, f"payments unreachable at {base}: {e}"
            trace.get_current_span().record_exception(e)
        cur.execute("UPDATE orders SET status = %s WHERE id = %s", ("paid" if ok else "failed", order_id))
    placed.add(1, {"outcome": "paid" if ok else "failed"})
    if not ok:
        log.error("order %s failed: %s", order_id, reason)
        trace.get_current_span().set_status(Status(StatusCode.ERROR, reason))
        raise HTTPException(status_code=502, detail=reason)
    log.info("order %s paid (%s cents)", order_id, amount)
    return {"order_id": order_id, "amount_cents": amount, "status": "paid"}
