-- bench/floor-rows.sql: the store's three statements of src/store/store_pg.c
-- (SQL_SUBS_UPSERT, SQL_SUBS_CLIENT, SQL_SUBS_INSERT) for the same 64
-- submissions as floor-bytes.sql, each a new sample, one COMMIT. The
-- arrays vigild sends as parameters are made here by generate_series;
-- the rows, indexes, constraints and foreign keys are the same.
\set seg random(1000000000000000, 9000000000000000)
BEGIN;
WITH g AS (SELECT g, encode(sha256((:seg || '-' || g)::bytea), 'hex') h FROM generate_series(1, 64) g)
INSERT INTO samples AS x (sha256, md5, sha1, size, verdict, score, detections, mime, first_seen, last_seen, prevalence, analysed_at, analysis_ms, blob_segment, blob_offset, blob_length)
 SELECT h, md5(h), left(h, 40), 4096, 'unknown', 0, '[]', NULL, 1, 1, 0, 0, 0, :seg, (g - 1) * 4185, 4185 FROM g ORDER BY g
 ON CONFLICT (sha256) DO UPDATE SET first_seen = least(x.first_seen, excluded.first_seen), last_seen = greatest(x.last_seen, excluded.last_seen), blob_segment = coalesce(x.blob_segment, excluded.blob_segment), blob_offset = coalesce(x.blob_offset, excluded.blob_offset), blob_length = coalesce(x.blob_length, excluded.blob_length)
 WHERE x.md5 = excluded.md5 AND x.sha1 = excluded.sha1 AND x.size = excluded.size
 RETURNING md5, sha1, sha256, verdict, score, detections, size, mime, first_seen, last_seen, prevalence;
WITH u AS (SELECT encode(sha256((:seg || '-' || g)::bytea), 'hex') sha256, g i FROM generate_series(1, 64) g),
 c AS (INSERT INTO sample_clients (sample, client_id)
  SELECT (SELECT n FROM samples WHERE samples.sha256 = u.sha256), (SELECT id FROM clients ORDER BY id LIMIT 1) FROM u ORDER BY u.i
  ON CONFLICT DO NOTHING RETURNING sample)
 UPDATE samples SET prevalence = prevalence + 1 WHERE n = ANY (ARRAY(SELECT sample FROM c)) RETURNING sha256;
WITH u AS (SELECT gen_random_uuid()::text id, (SELECT id FROM clients ORDER BY id LIMIT 1) client_id, s.sha256, '{}' metadata, 1::bigint created, s.n, g i
  FROM generate_series(1, 64) g JOIN samples s ON s.sha256 = encode(sha256((:seg || '-' || g)::bytea), 'hex')),
 j AS (INSERT INTO jobs (id, state, attempts, updated)
  SELECT u.n, 0, 0, 1 FROM u WHERE (SELECT id FROM jobs WHERE jobs.id = u.n) IS NULL ORDER BY u.i
  ON CONFLICT (id) DO NOTHING RETURNING id),
 s AS (INSERT INTO submissions (id, client_id, sha256, metadata, created)
  SELECT id, client_id, sha256, metadata, created FROM u ORDER BY u.i)
 SELECT u.i, (j.id IS NOT NULL)::int FROM u LEFT JOIN j ON j.id = u.n ORDER BY u.i;
COMMIT;
