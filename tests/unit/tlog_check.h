/*
 * tlog_check.h - what the tests of the tiled log (src/tlog/log.c) check
 * on any backend: a model of what the log holds, and check_log(), which
 * compares every tile, bundle, entry, checkpoint and proof the log serves
 * with it (and with the files of its directory, for the file backend).
 *
 * Included by test_tlog_log.c and test_tlog_pg.c, after they define
 * ORIGIN (the log's origin) and a `static struct note_verifier verifier`
 * (the signer's key).
 */
#ifndef VIGIL_TESTS_TLOG_CHECK_H
#define VIGIL_TESTS_TLOG_CHECK_H

/* The test's own record of what the log holds. */
struct model {
	uint8_t **data;
	size_t *len;
	struct merkle_hash *leaves;
	uint64_t n, cap;
};

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Entry index of generation gen: 0..63 bytes, unique for (index, gen)
 * when at least 16 bytes long, sometimes empty. */
static size_t
entry_bytes(uint64_t index, uint64_t gen, uint8_t *out)
{
	uint64_t r = mix(index * 0x9e3779b97f4a7c15ULL + gen);
	size_t len = r % 9 == 0 ? 0 : 16 + (size_t)(r >> 8) % 48;

	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)mix(r + i);
	if (len >= 16) {
		memcpy(out, &index, 8);
		memcpy(out + 8, &gen, 8);
	}
	return len;
}

static void
model_add(struct model *m, const uint8_t *data, size_t len)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->data = realloc(m->data, m->cap * sizeof(*m->data));
		m->len = realloc(m->len, m->cap * sizeof(*m->len));
		m->leaves = realloc(m->leaves, m->cap * sizeof(*m->leaves));
		assert_non_null(m->data);
		assert_non_null(m->len);
		assert_non_null(m->leaves);
	}
	m->data[m->n] = malloc(len ? len : 1);
	assert_non_null(m->data[m->n]);
	if (len > 0)
		memcpy(m->data[m->n], data, len);
	m->len[m->n] = len;
	assert_int_equal(merkle_hash_leaf(data, len, &m->leaves[m->n]), 0);
	m->n++;
}

static void
model_free(struct model *m)
{
	for (uint64_t i = 0; i < m->n; i++)
		free(m->data[i]);
	free(m->data);
	free(m->len);
	free(m->leaves);
	memset(m, 0, sizeof(*m));
}

static bool
read_path(const char *dir, const char *rel, uint8_t **data, size_t *len)
{
	char path[256];
	struct stat st;
	uint8_t *buf;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if ((fp = fopen(path, "rb")) == NULL)
		return false;
	assert_int_equal(fstat(fileno(fp), &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)st.st_size, fp),
			 (size_t)st.st_size);
	fclose(fp);
	*data = buf;
	*len = (size_t)st.st_size;
	return true;
}

/* Appends count entries of generation gen in batches of the given sizes
 * (cycled), recording them in m. */
static void
append_batches(struct tlog_log *l, struct model *m, uint64_t count,
	       uint64_t gen, const size_t *sizes, size_t nsizes)
{
	static uint8_t bufs[1024][64];
	struct tile_entry e[1024];
	char err[512] = "";

	for (size_t k = 0; count > 0; k++) {
		size_t n = sizes[k % nsizes];
		uint64_t first = UINT64_MAX;
		int rc;

		if (n > count)
			n = (size_t)count;
		assert_true(n <= 1024);
		for (size_t i = 0; i < n; i++) {
			e[i].len = entry_bytes(m->n + i, gen, bufs[i]);
			e[i].data = bufs[i];
		}
		rc = tlog_log_append(l, e, n, &first, err, sizeof(err));
		if (rc != 0)
			fail_msg("append: %s: %s", vg_strerror(rc), err);
		assert_true(first == m->n);
		for (size_t i = 0; i < n; i++)
			model_add(m, e[i].data, e[i].len);
		assert_true(tlog_log_size(l) == m->n);
		count -= n;
	}
}

/* The tile t of the tree the model holds, computed from its leaves. */
static uint8_t *
expected_tile(const struct model *m, const struct tile *t, size_t *len)
{
	uint8_t *out;

	if (t->level == TILE_ENTRIES) {
		struct tile_entry e[TILE_WIDTH];

		for (unsigned i = 0; i < t->width; i++) {
			uint64_t j = t->index * TILE_WIDTH + i;

			e[i].data = m->data[j];
			e[i].len = m->len[j];
		}
		*len = tile_bundle_size(e, t->width);
		assert_true(*len > 0);
		out = malloc(*len);
		assert_non_null(out);
		assert_int_equal(tile_bundle_encode(e, t->width, out), 0);
		return out;
	}
	uint64_t span = (uint64_t)1 << (TILE_HEIGHT * t->level);

	*len = (size_t)t->width * MERKLE_HASH_LEN;
	out = malloc(*len);
	assert_non_null(out);
	for (unsigned i = 0; i < t->width; i++) {
		uint64_t first = (t->index * TILE_WIDTH + i) * span;

		assert_true(first + span <= m->n);
		assert_int_equal(merkle_root(m->leaves + first, span,
					     (struct merkle_hash *)out + i),
				 0);
	}
	return out;
}

struct walk {
	struct tlog_log *l;
	const struct model *m;
	const char *dir;
	unsigned count;
};

static int
check_one_tile(const struct tile *t, void *ud)
{
	struct walk *w = ud;
	char path[TILE_PATH_MAX];
	uint8_t *want, *got, *file = NULL;
	size_t want_len, got_len, file_len = 0;

	assert_int_equal(tile_path(t, path), 0);
	want = expected_tile(w->m, t, &want_len);
	/* The file itself, as the node would serve it. */
	if (w->dir != NULL) {
		if (!read_path(w->dir, path, &file, &file_len))
			fail_msg("%s is missing", path);
		if (file_len != want_len || memcmp(file, want, want_len) != 0)
			fail_msg("%s differs from the model", path);
		free(file);
	}
	if (tlog_log_read(w->l, path, &got, &got_len) != 0)
		fail_msg("tlog_log_read(%s) refused", path);
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	free(got);
	/* Narrower widths are the published tile's prefix. */
	for (unsigned nw = 1; nw < t->width; nw += 1 + nw * 3) {
		struct tile p = *t;
		size_t plen;

		p.width = nw;
		assert_int_equal(tile_path(&p, path), 0);
		free(want);
		want = expected_tile(w->m, &p, &want_len);
		if (tlog_log_read(w->l, path, &got, &plen) != 0)
			fail_msg("tlog_log_read(%s) refused", path);
		assert_int_equal(plen, want_len);
		assert_memory_equal(got, want, want_len);
		free(got);
	}
	free(want);
	w->count++;
	return 0;
}

static void
read_refused(struct tlog_log *l, const char *path)
{
	uint8_t *data = (uint8_t *)"x";
	size_t len = 1;
	int rc = tlog_log_read(l, path, &data, &len);

	if (rc != VG_ENOENT)
		fail_msg("tlog_log_read(\"%s\") gave %s, not VG_ENOENT", path,
			 vg_strerror(rc));
	assert_null(data);
	assert_int_equal(len, 0);
}

static void
check_bogus_paths(struct tlog_log *l, uint64_t size)
{
	static const char *const bogus[] = {
		"",
		"/",
		"state",
		".state.tmp",
		".checkpoint.tmp",
		"../state",
		"/checkpoint",
		"checkpoint/",
		"./checkpoint",
		"checkpoint\n",
		"CHECKPOINT",
		"tile",
		"tile/",
		"tile/0",
		"tile/0/",
		"tile/../state",
		"tile/0/../../state",
		"tile/0/000/../../../state",
		"tile/0/0",
		"tile/0/00",
		"tile/0/0000",
		"tile/00/000",
		"tile/+0/000",
		"tile/0/x000/000",
		"tile/0/001/000",
		"tile/0/x001",
		"tile/0/x001/",
		"tile/0/000/",
		"tile/0/000.p/0",
		"tile/0/000.p/256",
		"tile/0/000.p/01",
		"tile/0/000.p/",
		"tile/0/000.p",
		"tile/0/000.p/1/",
		"tile/0/.000.tmp",
		"tile/0/000.p/.1.tmp",
		"tile/8/000.p/1",
		"tile/64/000",
		"tile/entries/x000/000",
		"tile/entries/0",
		"tile/entries/000.p/0",
		"tile/entries/.000.tmp",
		"tile/entries/000.p/1/../../../state",
		"tile/0/x001/x000/000.p/1",
	};
	char path[TILE_PATH_MAX];

	for (size_t i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++)
		read_refused(l, bogus[i]);
	/* Per level: one wider than the partial tile, the partial tile as
	 * if full, the next tile, and a level the tree does not reach. */
	for (int level = TILE_ENTRIES; level <= 3; level++) {
		unsigned lv = level == TILE_ENTRIES ? 0 : (unsigned)level;
		uint64_t full;
		unsigned w;
		struct tile t;

		tile_count(size, lv, &full, &w);
		t = (struct tile){level, full, w + 1};
		if (w + 1 < TILE_WIDTH) {
			assert_int_equal(tile_path(&t, path), 0);
			read_refused(l, path);
		}
		t.width = TILE_WIDTH;
		assert_int_equal(tile_path(&t, path), 0);
		read_refused(l, path);
		t = (struct tile){level, full + 1, 1};
		assert_int_equal(tile_path(&t, path), 0);
		read_refused(l, path);
	}
}

/* Parses l's checkpoint, which must verify with the signer's key. */
static void
get_checkpoint(struct tlog_log *l, struct checkpoint *c)
{
	char *text, err[512] = "";
	size_t len;
	int rc;

	assert_int_equal(tlog_log_checkpoint(l, &text, &len, NULL), 0);
	assert_int_equal(strlen(text), len);
	rc = checkpoint_open(text, len, ORIGIN, &verifier, NULL, 0, 0, c, err,
			     sizeof(err));
	if (rc != 0)
		fail_msg("checkpoint does not verify: %s", err);
	free(text);
}

/* Everything about the log agrees with the model (and, dir not NULL,
 * with the files of its directory). */
static void
check_log(struct tlog_log *l, const struct model *m, const char *dir)
{
	struct merkle_hash root, proof[MERKLE_PROOF_MAX];
	struct walk w = {l, m, dir, 0};
	struct checkpoint c;
	uint8_t *data, *file;
	size_t len, flen, n;
	char err[256];

	assert_true(tlog_log_size(l) == m->n);
	get_checkpoint(l, &c);
	assert_true(c.size == m->n);
	assert_int_equal(merkle_root(m->leaves, m->n, &root), 0);
	assert_memory_equal(c.root.b, root.b, MERKLE_HASH_LEN);
	checkpoint_clear(&c);
	/* The checkpoint file is what is served. */
	assert_int_equal(tlog_log_read(l, "checkpoint", &data, &len), 0);
	if (dir != NULL) {
		assert_true(read_path(dir, "checkpoint", &file, &flen));
		assert_int_equal(len, flen);
		assert_memory_equal(data, file, len);
		free(file);
	}
	free(data);

	/* Every tile and bundle the tree has. */
	assert_int_equal(tile_walk(0, m->n, false, check_one_tile, &w), 0);
	assert_int_equal(tile_walk(0, m->n, true, check_one_tile, &w), 0);
	check_bogus_paths(l, m->n);

	for (uint64_t i = 0; i < m->n; i++) {
		uint64_t at = UINT64_MAX;

		/* Inclusion in the whole tree. */
		assert_int_equal(
			tlog_log_prove_inclusion(l, i, m->n, proof, &n), 0);
		if (merkle_verify_inclusion(i, m->n, &m->leaves[i], proof, n,
					    &root, err, sizeof(err)) != 0)
			fail_msg("inclusion of %" PRIu64 ": %s", i, err);
		/* The entry itself, and finding it by its hash. */
		assert_int_equal(tlog_log_entry(l, i, &data, &len), 0);
		assert_int_equal(len, m->len[i]);
		assert_memory_equal(data, m->data[i], len);
		free(data);
		if (i % 61 == 0 || i + 1 == m->n) {
			uint64_t j = 0;

			/* Empty entries repeat: the first one is found. */
			while (memcmp(m->leaves[j].b, m->leaves[i].b, 32))
				j++;
			assert_int_equal(tlog_log_find(l, &m->leaves[i], &at),
					 0);
			assert_true(at == j);
		}
	}
	assert_int_equal(tlog_log_entry(l, m->n, &data, &len), VG_ENOENT);
	assert_int_equal(tlog_log_prove_inclusion(l, m->n, m->n, proof, &n),
			 VG_EINVAL);
	assert_int_equal(tlog_log_prove_inclusion(l, 0, m->n + 1, proof, &n),
			 VG_EINVAL);

	/* Inclusion in smaller trees, and consistency between many pairs. */
	for (uint64_t s2 = 1; s2 <= m->n; s2 += 1 + s2 / 3) {
		struct merkle_hash r2;

		assert_int_equal(merkle_root(m->leaves, s2, &r2), 0);
		for (uint64_t i = 0; i < s2; i += 1 + s2 / 5) {
			assert_int_equal(
				tlog_log_prove_inclusion(l, i, s2, proof, &n),
				0);
			assert_int_equal(merkle_verify_inclusion(
						 i, s2, &m->leaves[i], proof, n,
						 &r2, err, sizeof(err)),
					 0);
		}
		for (uint64_t s1 = 1; s1 <= s2; s1 += 1 + s1 / 2) {
			struct merkle_hash r1;

			assert_int_equal(merkle_root(m->leaves, s1, &r1), 0);
			assert_int_equal(tlog_log_prove_consistency(l, s1, s2,
								    proof, &n),
					 0);
			if (merkle_verify_consistency(s1, s2, &r1, &r2, proof,
						      n, err, sizeof(err)))
				fail_msg("consistency %" PRIu64 " -> %" PRIu64
					 ": %s",
					 s1, s2, err);
		}
	}
	if (m->n > 0) {
		assert_int_equal(
			tlog_log_prove_consistency(l, 0, m->n, proof, &n),
			VG_EINVAL);
		assert_int_equal(
			tlog_log_prove_consistency(l, 1, m->n + 1, proof, &n),
			VG_EINVAL);
	}
}

#endif
