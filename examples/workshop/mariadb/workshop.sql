-- The workshop's own schema on the stack's MariaDB, and its least-privilege
-- user. Applied by `stackctl workshop up` as MariaDB's root user (from the
-- stack's .env); idempotent. `stackctl` sets the user's password from
-- WORKSHOP_DB_PASSWORD in examples/workshop/.env in a separate statement.
CREATE DATABASE IF NOT EXISTS workshop;
CREATE TABLE IF NOT EXISTS workshop.products (
    id INT PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    price_cents INT NOT NULL
);
INSERT IGNORE INTO workshop.products (id, name, price_cents) VALUES
    (1, 'Trace-shaped mug', 1200),
    (2, 'Span sticker pack', 400),
    (3, 'Collector hoodie', 4500),
    (4, 'Histogram socks', 900),
    (5, 'Exemplar poster', 1500),
    (6, 'Baggage tag', 300);
CREATE TABLE IF NOT EXISTS workshop.orders (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    product_id INT NOT NULL,
    quantity INT NOT NULL,
    amount_cents INT NOT NULL,
    status VARCHAR(16) NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    KEY created_at (created_at)
);
CREATE TABLE IF NOT EXISTS workshop.order_stats (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    run_at DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    paid INT NOT NULL,
    failed INT NOT NULL,
    revenue_cents BIGINT NOT NULL
);
CREATE USER IF NOT EXISTS 'workshop'@'%';
-- only what the apps do: read products, write orders, append stats
GRANT SELECT ON workshop.products TO 'workshop'@'%';
GRANT SELECT, INSERT, UPDATE ON workshop.orders TO 'workshop'@'%';
GRANT SELECT, INSERT ON workshop.order_stats TO 'workshop'@'%';
