/*
 * test_config.c - vigild's configuration: the INI reader's accepted forms
 * and refusals (with line numbers), and the node's keys and limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/ini.h"
#include "node/config.h"

static const uint8_t zero[32];

static int
load_text(struct node_config *c, const char *text, char *err)
{
	char path[] = "/tmp/vigil-test-config-XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	config_default(c);
	rc = config_load(c, path, err, 512);
	unlink(path);
	return rc;
}

static void
test_defaults_are_the_documented_ones(void **state)
{
	struct node_config c;
	char err[512], buf[256];

	(void)state;
	config_default(&c);
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 8440);
	assert_string_equal(c.region, "eu");
	assert_string_equal(c.site, "zrh1");
	assert_string_equal(c.data_dir, "./var");
	assert_int_equal(c.max_sample_body, 64u * 1024 * 1024);
	assert_int_equal(c.max_batch, 10000);
	assert_int_equal(c.loops, 0);
	assert_int_equal(c.analysis_yield_rate, 4000);
	/* SHA-256 of 32 zero bytes is 66687aadf862bd77... */
	assert_string_equal(config_log_origin(&c, zero, buf, sizeof(buf)),
			    "vigil.local/eu/66687aadf862bd77");
	assert_int_equal(config_check(&c, err, sizeof(err)), 0);
}

static void
test_full_file_is_read(void **state)
{
	struct node_config c;
	char err[512], buf[256];

	(void)state;
	assert_int_equal(load_text(&c,
				   "# vigild\n"
				   "[node]\n"
				   "listen = [::1]:9000\n"
				   "data = \"/srv/vigil data\"  \n"
				   "region = us ; not a comment marker here\n",
				   err),
			 VG_EFORMAT); /* "us ; ..." is not a region name */
	assert_int_equal(load_text(&c,
				   "[node]\n"
				   "listen = [::1]:9000\n"
				   "data = \"/srv/vigil data\"\n"
				   "region = us  # trailing comment\n"
				   "site = nyc2\n"
				   "loops = 3\n"
				   "analysis_yield_rate = 0\n"
				   "[log]\n"
				   "origin = vigil.example/us\n"
				   "[limits]\n"
				   "max_batch = 500\n"
				   "[regions]\n"
				   "eu = https://eu.vigil.example:8440\n",
				   err),
			 0);
	assert_string_equal(c.listen_host, "::1");
	assert_int_equal(c.listen_port, 9000);
	assert_string_equal(c.data_dir, "/srv/vigil data");
	assert_string_equal(c.region, "us");
	assert_string_equal(c.site, "nyc2");
	assert_int_equal(c.loops, 3);
	assert_int_equal(c.analysis_yield_rate, 0);
	assert_string_equal(config_log_origin(&c, zero, buf, sizeof(buf)),
			    "vigil.example/us");
	assert_int_equal(c.max_batch, 500);
	assert_string_equal(config_region_url(&c, "eu"),
			    "https://eu.vigil.example:8440");
	assert_null(config_region_url(&c, "ap"));
}

static void
expect_refused(const char *text, const char *want)
{
	struct node_config c;
	char err[512];

	assert_int_equal(load_text(&c, text, err), VG_EFORMAT);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void
test_bad_lines_are_refused_with_their_number(void **state)
{
	(void)state;
	expect_refused("[node]\nlisten 127.0.0.1:1\n",
		       ":2: expected key = value");
	expect_refused("listen = 1.2.3.4:5\n", ":1: key outside any [section]");
	expect_refused("[node\n", ":1: a section header is [name]");
	expect_refused("[no de]\n", ":1: bad character in section name");
	expect_refused("[node]\nbogus = 1\n",
		       ":2: unknown key 'bogus' in [node]");
	expect_refused("[nodes]\nx = 1\n", ":2: unknown section [nodes]");
	expect_refused("[node]\nlisten = nowhere\n",
		       ":2: bad value for listen");
	expect_refused("[node]\nlisten = h:99999\n",
		       ":2: bad value for listen");
	expect_refused("[limits]\nmax_batch = -1\n", ":2: max_batch must be");
	expect_refused("[limits]\nmax_batch = 0\n", ":2: max_batch must be");
	expect_refused("[limits]\nmax_batch = 12abc\n",
		       ":2: max_batch must be");
	expect_refused("[regions]\nus = ftp://x\n", ":2: region us: endpoint");
	expect_refused("[regions]\nU$ = https://x\n",
		       ":2: bad character in key");
	expect_refused("[node]\ndata = \"unterminated\n", ":2: unterminated");
	expect_refused("[node]\nloops = 65\n", ":2: bad value for loops");
	expect_refused("[node]\nanalysis_yield_rate = -5\n",
		       ":2: bad value for analysis_yield_rate");
	expect_refused("[log]\norigin = a b\n", ":2: bad value for origin");
	expect_refused("[log]\norigin = a+b\n", ":2: bad value for origin");
	expect_refused("[log]\nwitness = x\n", ":2: unknown key 'witness'");
	expect_refused("[node]\nloops = -1\n", ":2: bad value for loops");
}

static void
test_nul_and_long_lines_are_refused(void **state)
{
	char buf[INI_MAX_LINE + 64], err[256];
	const char nul[] = "[node]\nsite = a\0b\n";

	(void)state;
	memset(buf, 'a', sizeof(buf));
	assert_int_equal(ini_parse(buf, sizeof(buf), "long.ini", NULL, NULL,
				   err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "long.ini:1: line too long"));
	assert_int_equal(ini_parse(nul, sizeof(nul) - 1, "nul.ini", NULL, NULL,
				   err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "nul.ini:2: NUL byte"));
}

static void
test_missing_file_is_io_error(void **state)
{
	struct node_config c;
	char err[512];

	(void)state;
	config_default(&c);
	assert_int_equal(
		config_load(&c, "/nonexistent/vigild.conf", err, sizeof(err)),
		VG_EIO);
	assert_non_null(strstr(err, "/nonexistent/vigild.conf"));
}

static void
test_listen_override_forms(void **state)
{
	struct node_config c;

	(void)state;
	config_default(&c);
	assert_int_equal(config_set_listen(&c, "0.0.0.0:0"), 0);
	assert_int_equal(c.listen_port, 0);
	assert_int_equal(config_set_listen(&c, "localhost:8441"), 0);
	assert_string_equal(c.listen_host, "localhost");
	assert_int_equal(config_set_listen(&c, ":80"), VG_EINVAL);
	assert_int_equal(config_set_listen(&c, "[::1:80"), VG_EINVAL);
	assert_int_equal(config_set_listen(&c, "host:"), VG_EINVAL);
}

/* [sandbox] allow_without_landlock: off unless it says true; anything
 * but true or false is refused. */
static void
test_sandbox_allow_without_landlock(void **state)
{
	struct node_config c;
	char err[512];

	(void)state;
	config_default(&c);
	assert_false(c.allow_without_landlock);
	assert_int_equal(load_text(&c,
				   "[sandbox]\nallow_without_landlock = true\n",
				   err),
			 0);
	assert_true(c.allow_without_landlock);
	assert_int_equal(
		load_text(&c, "[sandbox]\nallow_without_landlock = false\n",
			  err),
		0);
	assert_false(c.allow_without_landlock);
	assert_int_not_equal(
		load_text(&c, "[sandbox]\nallow_without_landlock = yes\n", err),
		0);
	assert_int_not_equal(load_text(&c, "[sandbox]\nlandlock = off\n", err),
			     0);
}

/* [retention]: days, 90 and 365 by default, 0 meaning the default, at
 * most 3650; anything else is refused with the range. */
static void
test_retention_section(void **state)
{
	struct node_config c;
	char err[512];

	(void)state;
	config_default(&c);
	assert_int_equal(c.sample_days, 90);
	assert_int_equal(c.metadata_days, 365);
	assert_int_equal(load_text(&c,
				   "[retention]\nsample_days = 7\n"
				   "metadata_days = 3650\n",
				   err),
			 0);
	assert_int_equal(c.sample_days, 7);
	assert_int_equal(c.metadata_days, 3650);
	assert_int_equal(load_text(&c,
				   "[retention]\nsample_days = 0\n"
				   "metadata_days = 0\n",
				   err),
			 0);
	assert_int_equal(c.sample_days, 90);
	assert_int_equal(c.metadata_days, 365);
	static const char *const bad[] = {
		"[retention]\nsample_days = 3651\n",
		"[retention]\nsample_days = -1\n",
		"[retention]\nmetadata_days = 1y\n",
		"[retention]\nmetadata_days = \n",
		"[retention]\nmetadata_days = 99999999999999999999\n",
		"[retention]\nhold_days = 1\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(load_text(&c, bad[i], err), 0);
		assert_non_null(strstr(err, i < 5 ? "0..3650" : "unknown key"));
	}
}

static void
test_store_section(void **state)
{
	struct node_config c;
	char err[512];

	(void)state;
	config_default(&c);
	assert_int_equal(c.store_backend, STORE_SQLITE);
	assert_string_equal(c.store_dsn, "");
	assert_int_equal(c.job_lease_ms, 30000);
	/* The issue's own example, comment and multi-host DSN included. */
	assert_int_equal(
		load_text(&c,
			  "[store]\n"
			  "backend = postgres          # or sqlite (the "
			  "default)\n"
			  "dsn = host=10.0.1.5,10.0.2.5 port=5432 dbname=vigil "
			  "user=vigil target_session_attrs=read-write\n"
			  "job_lease_ms = 5000\n",
			  err),
		0);
	assert_int_equal(c.store_backend, STORE_POSTGRES);
	assert_string_equal(c.store_dsn,
			    "host=10.0.1.5,10.0.2.5 port=5432 dbname=vigil "
			    "user=vigil target_session_attrs=read-write");
	assert_int_equal(c.job_lease_ms, 5000);
	assert_int_equal(config_check(&c, err, sizeof(err)), 0);
	/* postgres without a DSN, a DSN for sqlite: refused by the check. */
	assert_int_equal(load_text(&c, "[store]\nbackend = postgres\n", err),
			 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), VG_EINVAL);
	assert_non_null(strstr(err, "needs dsn"));
	assert_int_equal(load_text(&c, "[store]\ndsn = host=x\n", err), 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), VG_EINVAL);
	/* Unknown backends and keys, leases out of range. */
	assert_int_not_equal(load_text(&c, "[store]\nbackend = mysql\n", err),
			     0);
	assert_non_null(strstr(err, "sqlite or postgres"));
	assert_int_not_equal(load_text(&c, "[store]\nhost = x\n", err), 0);
	assert_int_not_equal(load_text(&c, "[store]\njob_lease_ms = 10\n", err),
			     0);
}

static void
test_stats_section(void **state)
{
	struct node_config c;
	char err[512];
	const char *bad[] = {
		"[stats]\nk = 1\n",           "[stats]\nk = 0\n",
		"[stats]\nk = -5\n",          "[stats]\nk = ten\n",
		"[stats]\nk = 1000001\n",     "[stats]\nepsilon = 0\n",
		"[stats]\nepsilon = -1\n",    "[stats]\nepsilon = nan\n",
		"[stats]\nepsilon = inf\n",   "[stats]\nepsilon = 1e3\n",
		"[stats]\nepsilon = 100.5\n", "[stats]\nepsilon = 0.001\n",
		"[stats]\nepsilon = 1.\n",    "[stats]\nepsilon = 1.2.3\n",
		"[stats]\ndelta = 1\n",
	};

	(void)state;
	config_default(&c);
	assert_int_equal(c.stats_k, 10);
	assert_true(c.stats_epsilon == 1.0);
	assert_int_equal(load_text(&c, "[stats]\nk = 25\nepsilon = 0.5\n", err),
			 0);
	assert_int_equal(c.stats_k, 25);
	assert_true(c.stats_epsilon == 0.5);
	assert_int_equal(config_check(&c, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_default(&c);
		assert_int_not_equal(load_text(&c, bad[i], err), 0);
		assert_int_equal(c.stats_k, 10);
		assert_true(c.stats_epsilon == 1.0);
	}
	assert_int_not_equal(load_text(&c, "[stats]\nepsilon = 0\n", err), 0);
	assert_non_null(strstr(err, "epsilon"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_the_documented_ones),
		cmocka_unit_test(test_full_file_is_read),
		cmocka_unit_test(test_bad_lines_are_refused_with_their_number),
		cmocka_unit_test(test_nul_and_long_lines_are_refused),
		cmocka_unit_test(test_missing_file_is_io_error),
		cmocka_unit_test(test_listen_override_forms),
		cmocka_unit_test(test_sandbox_allow_without_landlock),
		cmocka_unit_test(test_retention_section),
		cmocka_unit_test(test_store_section),
		cmocka_unit_test(test_stats_section),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
