-- bench/floor-bytes.sql: the sealed records of a batch of 64 submissions
-- of new 4 KiB samples as vigild writes them in a region on PostgreSQL
-- (samples_pg.c: one row of 4,185 bytes each, from the table blob), one
-- COMMIT, replayed by pgbench with no vigild running (bench/region.sh,
-- "the database's floor"). bench/region.sh also runs this and
-- floor-rows.sql as one transaction, the whole batch.
\set seg random(1000000000000000, 9000000000000000)
BEGIN;
INSERT INTO sample_chunks (segment, off, seq, data)
 SELECT :seg, (g - 1) * 4185, 0, b.data FROM generate_series(1, 64) g, blob b;
COMMIT;
