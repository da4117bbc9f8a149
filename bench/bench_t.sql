-- The benchmark table of bench/run, bench/postgres/run.sh and
-- bench/iceberg/run.sh: 9 columns (bigint key, timestamptz filter column,
-- int, numeric(12,2), a 4-value text, a unique 43-byte text, bool, date,
-- float8), :rows rows, with an index on the filter column.
--   psql -v name=bench_t -v rows=5000000 -f bench/bench_t.sql
DROP TABLE IF EXISTS :"name";
CREATE TABLE :"name" (
  id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, customer_id int NOT NULL,
  amount numeric(12,2), status text, note text, flag bool, created date, score float8);
INSERT INTO :"name"
SELECT g, timestamptz '2020-01-01 00:00:00+00' + g * interval '10 ms', ((g::bigint * 7919) % 100000)::int,
       ((g::bigint * 31) % 1000000) / 100.0, (ARRAY['new','paid','shipped','cancelled'])[g % 4 + 1],
       'order note ' || md5(g::text), g % 3 = 0, date '2020-01-01' + (g % 1500), g / 13.0
FROM generate_series(1, :rows) g;
CREATE INDEX ON :"name" (updated_at);
VACUUM ANALYZE :"name";
