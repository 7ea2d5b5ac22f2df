-- Deterministic demo data: 4 categories, 40 products, 20 customers, 60 orders, reviews.
INSERT INTO categories (id, name, slug) VALUES
  (1, 'Coffee', 'coffee'), (2, 'Tea', 'tea'), (3, 'Mugs', 'mugs'), (4, 'Grinders', 'grinders');

INSERT INTO customers (id, email, full_name, created_at)
SELECT i, 'customer' || i || '@shop.test', 'Customer ' || i, '2024-01-01'::timestamptz + (i || ' days')::interval
FROM generate_series(1, 20) AS i;

INSERT INTO products (id, name, description, price, stock, tags, category_id, created_at)
SELECT i,
  (ARRAY['Coffee', 'Tea', 'Mug', 'Grinder'])[1 + (i - 1) % 4] || ' ' || i,
  'Description of product ' || i,
  (5 + i * 1.25)::numeric(10, 2),
  (i * 7) % 30,
  CASE WHEN i % 3 = 0 THEN ARRAY['organic', 'sale'] WHEN i % 3 = 1 THEN ARRAY['organic'] ELSE ARRAY['new'] END,
  1 + (i - 1) % 4,
  '2024-02-01'::timestamptz + (i || ' hours')::interval
FROM generate_series(1, 40) AS i;

INSERT INTO orders (id, customer_id, status, created_at)
SELECT i, 1 + (i - 1) % 20, (ARRAY['pending', 'paid', 'shipped'])[1 + i % 3],
  '2024-03-01'::timestamptz + (i || ' hours')::interval
FROM generate_series(1, 60) AS i;

INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT o, 1 + ((o * 3 + k) % 40), 1 + (o + k) % 3, (5 + (1 + ((o * 3 + k) % 40)) * 1.25)::numeric(10, 2)
FROM generate_series(1, 60) AS o, generate_series(0, 1) AS k;

INSERT INTO reviews (product_id, customer_id, rating, body, created_at)
SELECT 1 + (i % 40), 1 + (i % 20), 1 + (i % 5), 'Review ' || i,
  '2024-04-01'::timestamptz + (i || ' hours')::interval
FROM generate_series(1, 120) AS i;

SELECT setval('categories_id_seq', 4), setval('customers_id_seq', 20), setval('products_id_seq', 40),
  setval('orders_id_seq', 60);
