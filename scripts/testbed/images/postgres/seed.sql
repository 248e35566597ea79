-- Demo data so pg_dump/backup tests have something real to dump.
CREATE DATABASE shop;
\connect shop
CREATE TABLE orders (
    id       serial PRIMARY KEY,
    customer text        NOT NULL,
    total    numeric(10, 2) NOT NULL,
    created  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO orders (customer, total) VALUES
    ('ada', 12.50), ('grace', 99.00), ('linus', 7.25);
