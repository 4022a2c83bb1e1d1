/*
 * test_engine.c - the engine end to end on buffers and descriptors: rule
 * and hash matches, broken rule files quarantined, limits reported,
 * special files refused; every member of a gzip, bzip2 or xz file and the
 * bytes after a zip's end analysed, cut or corrupt streams and bombs never
 * clean.
 */
#include <bzlib.h>
#include <lzma.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/err.h"
#include "engine/engine.h"
#include "engine/report.h"
#include "engine/rules.h"

static char dir[] = "/tmp/vigil-test-engine-XXXXXX";
static char rules_path[512], hashes_path[512], bad_rules_path[512];

static const char marker[] = "vigil-unit-test-marker-7f3a";

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL || engine_global_init() != 0)
		return -1;
	snprintf(rules_path, sizeof(rules_path), "%s/t.yar", dir);
	snprintf(hashes_path, sizeof(hashes_path), "%s/t.hsb", dir);
	snprintf(bad_rules_path, sizeof(bad_rules_path), "%s/bad.yar", dir);
	write_file(
		rules_path,
		"rule Test_Marker {\n"
		"  meta: id = \"T-1\" severity = \"high\" category = \"test\"\n"
		"        description = \"unit test marker\"\n"
		"  strings: $m = \"vigil-unit-test-marker-7f3a\"\n"
		"  condition: $m\n}\n");
	/* sha256("abc") */
	write_file(hashes_path, "ba7816bf8f01cfea414140de5dae2223b00361a396177a"
				"9cb410ff61f20015ad"
				":3:Test.Hash.Abc\n");
	write_file(bad_rules_path, "rule ok { condition: true }\n"
				   "rule broken { condition: $nope }\n");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct engine *
make_engine(const struct vg_limits *limits)
{
	const char *rules[] = {rules_path};
	const char *hashes[] = {hashes_path};
	struct engine_config cfg;
	struct engine *e;
	char err[512];

	engine_config_default(&cfg);
	if (limits)
		cfg.limits = *limits;
	cfg.rule_paths = rules;
	cfg.n_rule_paths = 1;
	cfg.hash_paths = hashes;
	cfg.n_hash_paths = 1;
	cfg.tmpdir = dir;
	if (engine_new(&cfg, &e, err, sizeof(err)) != 0)
		fail_msg("engine_new: %s", err);
	return e;
}

static struct report *
scan(struct engine *e, const void *buf, size_t len)
{
	struct scanner *s;
	struct report *r;

	assert_int_equal(scanner_new(e, &s), 0);
	assert_int_equal(engine_scan_buffer(s, buf, len, "buf", &r), 0);
	scanner_free(s);
	return r;
}

static void
test_rule_match_carries_meta(void **state)
{
	struct engine *e = make_engine(NULL);
	char buf[256];
	struct report *r;

	(void)state;
	snprintf(buf, sizeof(buf), "some text %s more text", marker);
	r = scan(e, buf, strlen(buf));
	assert_int_equal(r->verdict, VERDICT_MALICIOUS);
	assert_int_equal(r->n_objects, 1);
	assert_int_equal(r->objects[0].n_matches, 1);
	assert_string_equal(r->objects[0].matches[0].name, "Test_Marker");
	assert_string_equal(r->objects[0].matches[0].rule_id, "T-1");
	assert_string_equal(r->objects[0].matches[0].category, "test");
	assert_int_equal(r->objects[0].matches[0].score, 80);
	assert_string_equal(r->objects[0].mime, "text/plain");
	report_free(r);
	engine_free(e);
}

static void
test_clean_buffer_is_clean(void **state)
{
	struct engine *e = make_engine(NULL);
	const char text[] = "nothing to see here\n";
	struct report *r = scan(e, text, sizeof(text) - 1);

	(void)state;
	assert_int_equal(r->verdict, VERDICT_CLEAN);
	assert_int_equal(r->n_detections, 0);
	assert_non_null(r->objects[0].ssdeep);
	report_free(r);
	engine_free(e);
}

static void
test_empty_file_is_clean_with_empty_digests(void **state)
{
	struct engine *e = make_engine(NULL);
	struct scanner *s;
	struct report *r;
	char path[600];
	FILE *f;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/empty", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(scanner_new(e, &s), 0);
	assert_int_equal(engine_scan_fd(s, fd, path, &r), 0);
	assert_int_equal(r->verdict, VERDICT_CLEAN);
	assert_int_equal(r->n_objects, 1);
	assert_int_equal(r->objects[0].size, 0);
	assert_int_equal(r->objects[0].sha256[0], 0xe3);
	report_free(r);
	close(fd);
	scanner_free(s);
	engine_free(e);
}

static void
test_hash_signature_matches(void **state)
{
	struct engine *e = make_engine(NULL);
	struct report *r = scan(e, "abc", 3);

	(void)state;
	assert_int_equal(r->verdict, VERDICT_MALICIOUS);
	assert_string_equal(r->detections[0], "Test.Hash.Abc");
	report_free(r);
	engine_free(e);
}

static void
test_file_over_size_limit_is_suspicious(void **state)
{
	struct vg_limits l;
	struct engine *e;
	struct report *r;
	char buf[100] = {0};

	(void)state;
	limits_default(&l);
	l.max_file_size = 10;
	e = make_engine(&l);
	r = scan(e, buf, sizeof(buf));
	assert_int_equal(r->verdict, VERDICT_SUSPICIOUS);
	assert_true(r->limits_hit & VG_LIMIT_FILE_SIZE);
	assert_string_equal(r->detections[0], "Limits.Exceeded.FileSize");
	report_free(r);
	engine_free(e);
}

static void
test_broken_rule_file_is_quarantined(void **state)
{
	const char *rules[] = {rules_path, bad_rules_path};
	const struct rule_quarantine *q;
	struct engine_config cfg;
	struct engine *e = NULL;
	struct scanner *s;
	struct report *r = NULL;
	char err[512];

	(void)state;
	engine_config_default(&cfg);
	cfg.rule_paths = rules;
	cfg.n_rule_paths = 2;
	assert_int_equal(engine_new(&cfg, &e, err, sizeof(err)), 0);
	assert_int_equal(engine_rule_count(e), 1);
	assert_int_equal(engine_rules_quarantined(e, &q), 1);
	assert_string_equal(q[0].file, bad_rules_path);
	assert_non_null(strstr(q[0].reason, "line 2: "));
	/* The good file's rule still matches. */
	assert_int_equal(scanner_new(e, &s), 0);
	assert_int_equal(engine_scan_buffer(s, marker, strlen(marker), "m", &r),
			 0);
	assert_int_equal(r->verdict, VERDICT_MALICIOUS);
	report_free(r);
	scanner_free(s);
	engine_free(e);
}

static void
test_fifo_is_refused(void **state)
{
	struct engine *e = make_engine(NULL);
	struct scanner *s;
	struct report *r = NULL;
	char path[600];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	fd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(fd >= 0);
	assert_int_equal(scanner_new(e, &s), 0);
	assert_int_equal(engine_scan_fd(s, fd, path, &r), VG_ETYPE);
	assert_null(r);
	close(fd);
	scanner_free(s);
	engine_free(e);
}

/* A growing byte string for building test inputs. */
struct bytes {
	uint8_t *p;
	size_t len;
};

static void
bytes_add(struct bytes *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->len + n + 1);
	assert_non_null(b->p);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* Appends one gzip member (one complete gzip file) of n bytes of p. */
static void
add_gzip(struct bytes *b, const void *p, size_t n)
{
	z_stream z;
	uint8_t out[1 << 16];

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY),
			 Z_OK);
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	for (;;) {
		int rc;

		z.next_out = out;
		z.avail_out = sizeof(out);
		rc = deflate(&z, Z_FINISH);
		bytes_add(b, out, sizeof(out) - z.avail_out);
		if (rc == Z_STREAM_END)
			break;
		assert_int_equal(rc, Z_OK);
	}
	deflateEnd(&z);
}

/* Appends a gzip member of n zero bytes, made without holding them. */
static void
add_gzip_zeros(struct bytes *b, size_t n)
{
	static const uint8_t zeros[1 << 16];
	uint8_t out[1 << 16];
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY),
			 Z_OK);
	for (size_t left = n;;) {
		size_t k = left < sizeof(zeros) ? left : sizeof(zeros);
		int flush = left == k ? Z_FINISH : Z_NO_FLUSH, rc;

		z.next_in = (Bytef *)(uintptr_t)zeros;
		z.avail_in = (uInt)k;
		left -= k;
		do {
			z.next_out = out;
			z.avail_out = sizeof(out);
			rc = deflate(&z, flush);
			bytes_add(b, out, sizeof(out) - z.avail_out);
		} while (z.avail_out == 0);
		if (flush == Z_FINISH) {
			assert_int_equal(rc, Z_STREAM_END);
			break;
		}
	}
	deflateEnd(&z);
}

static void
add_bzip2(struct bytes *b, const void *p, size_t n)
{
	unsigned int cap = (unsigned int)(n + n / 100 + 600);
	char *out = malloc(cap);

	assert_non_null(out);
	assert_int_equal(BZ2_bzBuffToBuffCompress(out, &cap, (char *)p,
						  (unsigned int)n, 9, 0, 0),
			 BZ_OK);
	bytes_add(b, out, cap);
	free(out);
}

static void
add_xz(struct bytes *b, const void *p, size_t n)
{
	size_t cap = lzma_stream_buffer_bound(n), pos = 0;
	uint8_t *out = malloc(cap);

	assert_non_null(out);
	assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, p,
						 n, out, &pos, cap),
			 LZMA_OK);
	bytes_add(b, out, pos);
	free(out);
}

static void
put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

/* Appends a zip file with one stored member, name holding p. */
static void
add_zip_stored(struct bytes *b, const char *name, const void *p, size_t n)
{
	uint8_t lh[30] = {'P', 'K', 3, 4}, cd[46] = {'P', 'K', 1, 2};
	uint8_t eocd[22] = {'P', 'K', 5, 6};
	uint32_t crc = (uint32_t)crc32(0, p, (uInt)n);
	size_t nl = strlen(name), start = b->len, cd_off;

	put16(lh + 4, 10);
	put32(lh + 14, crc);
	put32(lh + 18, (uint32_t)n);
	put32(lh + 22, (uint32_t)n);
	put16(lh + 26, (uint32_t)nl);
	bytes_add(b, lh, sizeof(lh));
	bytes_add(b, name, nl);
	bytes_add(b, p, n);
	cd_off = b->len - start;
	put16(cd + 4, 20);
	put16(cd + 6, 10);
	put32(cd + 16, crc);
	put32(cd + 20, (uint32_t)n);
	put32(cd + 24, (uint32_t)n);
	put16(cd + 28, (uint32_t)nl);
	bytes_add(b, cd, sizeof(cd));
	bytes_add(b, name, nl);
	put16(eocd + 8, 1);
	put16(eocd + 10, 1);
	put32(eocd + 12, (uint32_t)(sizeof(cd) + nl));
	put32(eocd + 16, (uint32_t)cd_off);
	bytes_add(b, eocd, sizeof(eocd));
}

static bool
has_detection(const struct report *r, const char *name)
{
	for (size_t i = 0; i < r->n_detections; i++)
		if (strcmp(r->detections[i], name) == 0)
			return true;
	return false;
}

static const char harmless[] = "a harmless first member, long enough to "
			       "be handed over by libclamav\n";

static void
test_gzip_second_member_is_analysed(void **state)
{
	struct engine *e = make_engine(NULL);
	struct bytes b = {0};
	char text[128];
	struct report *r;

	(void)state;
	snprintf(text, sizeof(text), "second member: %s\n", marker);
	add_gzip(&b, harmless, strlen(harmless));
	add_gzip(&b, text, strlen(text));
	r = scan(e, b.p, b.len);
	assert_int_equal(r->verdict, VERDICT_MALICIOUS);
	assert_true(has_detection(r, "Test_Marker"));
	assert_int_equal(r->n_problems, 0);
	assert_int_equal(r->n_objects, 3);
	assert_int_equal(r->objects[2].parent, 0);
	assert_int_equal(r->objects[2].depth, 1);
	assert_string_equal(r->objects[2].name, "#member2");
	report_free(r);
	free(b.p);
	engine_free(e);
}

static void
test_bzip2_and_xz_second_stream_is_analysed(void **state)
{
	struct engine *e = make_engine(NULL);
	char text[128];

	(void)state;
	snprintf(text, sizeof(text), "second stream: %s\n", marker);
	for (int xz = 0; xz < 2; xz++) {
		struct bytes b = {0};
		struct report *r;

		(xz ? add_xz : add_bzip2)(&b, harmless, strlen(harmless));
		(xz ? add_xz : add_bzip2)(&b, text, strlen(text));
		r = scan(e, b.p, b.len);
		assert_int_equal(r->verdict, VERDICT_MALICIOUS);
		assert_string_equal(r->objects[0].cl_type,
				    xz ? "CL_TYPE_XZ" : "CL_TYPE_BZ");
		assert_int_equal(r->n_problems, 0);
		report_free(r);
		free(b.p);
	}
	engine_free(e);
}

static void
test_truncated_gzip_is_incomplete_on_its_object(void **state)
{
	struct engine *e = make_engine(NULL);
	struct bytes b = {0};
	struct report *r;

	(void)state;
	add_gzip(&b, harmless, strlen(harmless));
	r = scan(e, b.p, 30);
	assert_int_equal(r->verdict, VERDICT_SUSPICIOUS);
	assert_true(has_detection(r, "Decompose.Incomplete"));
	assert_int_equal(r->objects[0].n_problems, 1);
	assert_non_null(strstr(r->objects[0].problems[0], "truncated"));
	report_free(r);
	free(b.p);
	engine_free(e);
}

static void
test_gzip_with_wrong_crc_is_incomplete(void **state)
{
	struct engine *e = make_engine(NULL);
	struct bytes b = {0};
	struct report *r;

	(void)state;
	add_gzip(&b, harmless, strlen(harmless));
	b.p[b.len - 8] ^= 0x01; /* the CRC32 trailer */
	r = scan(e, b.p, b.len);
	assert_int_equal(r->verdict, VERDICT_SUSPICIOUS);
	assert_true(has_detection(r, "Decompose.Incomplete"));
	assert_int_equal(r->objects[0].n_problems, 1);
	report_free(r);
	free(b.p);
	engine_free(e);
}

static void
test_bytes_after_zip_end_are_analysed(void **state)
{
	struct engine *e = make_engine(NULL);
	struct bytes b = {0};
	char text[128];
	struct report *r;

	(void)state;
	snprintf(text, sizeof(text), "appended: %s\n", marker);
	add_zip_stored(&b, "readme.txt", harmless, strlen(harmless));
	bytes_add(&b, text, strlen(text));
	r = scan(e, b.p, b.len);
	assert_int_equal(r->verdict, VERDICT_MALICIOUS);
	assert_string_equal(r->objects[r->n_objects - 1].name, "#appended");
	assert_int_equal(r->objects[r->n_objects - 1].parent, 0);
	assert_int_equal(r->objects[r->n_objects - 1].size, strlen(text));
	report_free(r);
	free(b.p);
	engine_free(e);
}

/* A gzip declaring more than --max-filesize in its trailer is refused
 * before it is inflated; the limit is on the gzip object. */
static void
test_gzip_bomb_refused_from_declared_size(void **state)
{
	struct vg_limits l;
	struct engine *e;
	struct bytes b = {0};
	struct report *r;

	(void)state;
	limits_default(&l);
	l.max_file_size = 1024 * 1024;
	e = make_engine(&l);
	add_gzip_zeros(&b, 8 * 1024 * 1024);
	r = scan(e, b.p, b.len);
	assert_int_equal(r->verdict, VERDICT_SUSPICIOUS);
	assert_true(has_detection(r, "Limits.Exceeded.FileSize"));
	assert_true(r->objects[0].limits_hit & VG_LIMIT_FILE_SIZE);
	assert_int_equal(r->n_objects, 1);
	assert_int_equal(r->bytes_scanned, b.len);
	report_free(r);
	free(b.p);
	engine_free(e);
}

/* bzip2 declares no size: inflation stops at the ratio limit, 16 MiB in,
 * not at the 400 MiB size limit. */
static void
test_bzip2_bomb_stopped_by_ratio(void **state)
{
	struct engine *e = make_engine(NULL);
	size_t n = 64 * 1024 * 1024;
	uint8_t *zeros = calloc(1, n);
	struct bytes b = {0};
	struct report *r;

	(void)state;
	assert_non_null(zeros);
	add_bzip2(&b, zeros, n);
	free(zeros);
	r = scan(e, b.p, b.len);
	assert_int_equal(r->verdict, VERDICT_SUSPICIOUS);
	assert_true(has_detection(r, "Limits.Exceeded.Ratio"));
	assert_true(r->objects[0].limits_hit & VG_LIMIT_RATIO);
	assert_true(r->bytes_scanned < 32 * 1024 * 1024);
	report_free(r);
	free(b.p);
	engine_free(e);
}

/* A hunt's engine: built without rules, given a rule's text later. */
static void
test_rules_from_text_match_only(void **state)
{
	struct engine_config cfg;
	struct engine *e;
	struct scanner *s;
	struct report *r;
	char err[512], buf[256];
	const char *rule = "rule Hunt { strings: $m = \"vigil-unit-test-marker"
			   "-7f3a\" condition: $m }";
	uint8_t zero[16] = {0};

	(void)state;
	engine_config_default(&cfg);
	cfg.tmpdir = dir;
	cfg.fuzzy = false;
	cfg.match_only = true;
	if (engine_new(&cfg, &e, err, sizeof(err)) != 0)
		fail_msg("engine_new: %s", err);
	assert_int_equal(scanner_new(e, &s), 0);
	assert_int_equal(engine_rule_count(e), 0);

	/* What does not compile leaves the engine as it was. */
	assert_int_equal(engine_load_rules_text(e, s,
						"rule X { condition: $a }", 24,
						err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "(rules):1:"));
	assert_int_equal(engine_load_rules_text(e, s,
						"include \"/etc/passwd\"\n", 22,
						err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "includes are disabled"));
	assert_int_equal(
		engine_load_rules_text(e, s, "rule A\0{}", 9, err, sizeof(err)),
		VG_EINVAL);
	assert_int_equal(engine_rule_count(e), 0);

	assert_int_equal(engine_load_rules_text(e, s, rule, strlen(rule), err,
						sizeof(err)),
			 0);
	assert_int_equal(engine_rule_count(e), 1);
	snprintf(buf, sizeof(buf), "some text %s more text", marker);
	assert_int_equal(engine_scan_buffer(s, buf, strlen(buf), "buf", &r), 0);
	assert_int_equal(r->n_detections, 1);
	assert_string_equal(r->detections[0], "Hunt");
	/* The file's SHA-256 names it; nothing else is computed. */
	assert_memory_not_equal(r->objects[0].sha256, zero, 16);
	assert_memory_equal(r->objects[0].md5, zero, 16);
	assert_null(r->objects[0].mime);
	report_free(r);
	scanner_free(s);
	engine_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_match_carries_meta),
		cmocka_unit_test(test_clean_buffer_is_clean),
		cmocka_unit_test(test_empty_file_is_clean_with_empty_digests),
		cmocka_unit_test(test_hash_signature_matches),
		cmocka_unit_test(test_file_over_size_limit_is_suspicious),
		cmocka_unit_test(test_broken_rule_file_is_quarantined),
		cmocka_unit_test(test_fifo_is_refused),
		cmocka_unit_test(test_gzip_second_member_is_analysed),
		cmocka_unit_test(test_bzip2_and_xz_second_stream_is_analysed),
		cmocka_unit_test(
			test_truncated_gzip_is_incomplete_on_its_object),
		cmocka_unit_test(test_gzip_with_wrong_crc_is_incomplete),
		cmocka_unit_test(test_bytes_after_zip_end_are_analysed),
		cmocka_unit_test(test_gzip_bomb_refused_from_declared_size),
		cmocka_unit_test(test_bzip2_bomb_stopped_by_ratio),
		cmocka_unit_test(test_rules_from_text_match_only),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
