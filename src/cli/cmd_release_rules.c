/*
 * cmd_release_rules.c - `vigil release check-rules RULESDIR [--fixtures
 * DIR] [--corpus DIR]... [--report FILE]`: the rule check of
 * docs/RELEASES.md ("The rule check") on a rules directory, as `vigil
 * release stage` runs it before a rule release is signed.
 *
 * Prints a summary and every failure, and writes the full JSON report
 * (release/rules.h) to --report. Exit status: 0 the check passed, 1 it
 * failed, 2 usage or I/O error.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/xmalloc.h"
#include "release/rules.h"

#define CORPUS_MAX 64

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: vigil release check-rules RULESDIR [--fixtures DIR] "
		"[--corpus DIR]... [--report FILE]\n"
		"\n"
		"Checks the rule files of RULESDIR: each compiles on its own,\n"
		"each rule fires on its fixture (DIR/<rule id>, a file, or "
		"the\n"
		"files of DIR/<rule id>/; default RULESDIR/fixtures), and no\n"
		"rule fires on the known-good corpus (default /usr/bin and\n"
		"/usr/lib; regular files up to 64 MiB, links not followed).\n"
		"\n"
		"  --report FILE  write the full JSON report to FILE\n"
		"\n"
		"Exit status: 0 passed, 1 failed, 2 usage or I/O error.\n");
}

/* Replaces path with text and a newline, whole or not at all. */
static int
write_report(const char *path, const char *text)
{
	char *line = xasprintf("%s\n", text);
	int rc = io_write_file(path, line, strlen(line), 0644);

	if (rc != 0)
		fprintf(stderr, "vigil release check-rules: %s: %s\n", path,
			strerror(errno));
	free(line);
	return rc;
}

static json_int_t
jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void
summary(const json_t *rep, const char *dir)
{
	const json_t *files = json_object_get(rep, "files");
	const json_t *rules = json_object_get(rep, "rules");
	const json_t *co = json_object_get(rep, "corpus");
	const json_t *timing = json_object_get(rep, "timing");
	const json_t *v, *fails = json_object_get(rep, "failures");
	size_t i, compiled = 0, fired = 0, need = 0;

	json_array_foreach(files, i, v) compiled +=
		json_is_true(json_object_get(v, "compiled"));
	json_array_foreach(rules, i, v)
	{
		if (json_is_true(json_object_get(v, "private")))
			continue;
		need++;
		fired += json_is_true(json_object_get(v, "fired_on_fixture"));
	}
	printf("rule check of %s\n", dir);
	printf("  compiled:  %zu of %zu files\n", compiled,
	       json_array_size(files));
	printf("  fixtures:  %zu of %zu rules fire on their fixtures\n", fired,
	       need);
	printf("  corpus:   ");
	json_array_foreach(json_object_get(co, "directories"), i, v)
		printf(" %s", json_string_value(v));
	printf("\n");
	printf("             %lld files, %.1f MiB in %.1f s; %lld skipped "
	       "(unreadable), %lld skipped (over 64 MiB), %lld scan errors\n",
	       (long long)jint(co, "files_scanned"),
	       (double)jint(co, "bytes_scanned") / (1024.0 * 1024.0),
	       (double)jint(timing, "corpus_ms") / 1000.0,
	       (long long)jint(co, "skipped_unreadable"),
	       (long long)jint(co, "skipped_large"),
	       (long long)jint(co, "scan_errors"));
	printf("             %lld false positives\n",
	       (long long)jint(co, "false_positives"));
	json_array_foreach(json_object_get(co, "false_positive_list"), i, v)
		printf("    %s fires on %s\n",
		       json_string_value(json_object_get(v, "rule")),
		       json_string_value(json_object_get(v, "path")));
	json_array_foreach(fails, i, v)
		printf("FAIL %s\n", json_string_value(v));
	if (json_array_size(fails) == 0)
		printf("rule check passed (%.1f s)\n",
		       (double)jint(timing, "total_ms") / 1000.0);
	else
		printf("rule check FAILED: %zu failure(s)\n",
		       json_array_size(fails));
}

enum { OPT_FIXTURES = 256, OPT_CORPUS, OPT_REPORT };

int
cmd_release_check_rules(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"fixtures", required_argument, NULL, OPT_FIXTURES},
		{"corpus", required_argument, NULL, OPT_CORPUS},
		{"report", required_argument, NULL, OPT_REPORT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const char *const default_corpus[] = {"/usr/bin", "/usr/lib"};
	const char *corpus[CORPUS_MAX], *fixtures = NULL, *report_path = NULL;
	const char *const *cp = default_corpus;
	size_t ncorpus = 0, ncp = 2;
	struct rules_bundle b = {0};
	json_t *report = NULL;
	char err[1024], *fx = NULL, *text = NULL;
	bool pass = false;
	int c, rc, status = 2;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FIXTURES: fixtures = optarg; break;
		case OPT_CORPUS:
			if (ncorpus >= CORPUS_MAX) {
				fprintf(stderr,
					"vigil release check-rules: at most %d "
					"--corpus\n",
					CORPUS_MAX);
				goto out;
			}
			corpus[ncorpus++] = optarg;
			break;
		case OPT_REPORT: report_path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); goto out;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		goto out;
	}
	if (ncorpus > 0) {
		cp = corpus;
		ncp = ncorpus;
	}
	fx = fixtures ? xstrdup(fixtures)
		      : xasprintf("%s/fixtures", argv[optind]);
	rc = rules_sources_load(argv[optind], NULL, &b, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "vigil release check-rules: %s\n", err);
		/* Rule files a bundle cannot carry fail the check; a
		 * directory that cannot be read is an I/O error. */
		status = rc == VG_EIO ? 2 : 1;
		goto out;
	}
	printf("checking %zu rule files of %s (fixtures %s; corpus:", b.n_files,
	       argv[optind], fx);
	for (size_t i = 0; i < ncp; i++)
		printf(" %s", cp[i]);
	printf(")\n");
	fflush(stdout);
	rc = rules_check(&b, fx, cp, ncp, &report, &pass, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "vigil release check-rules: %s\n", err);
		goto out;
	}
	summary(report, argv[optind]);
	if (report_path != NULL) {
		text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (text == NULL || write_report(report_path, text) != 0)
			goto out;
	}
	status = pass ? 0 : 1;
out:
	fflush(stdout);
	rules_bundle_free(&b);
	json_decref(report);
	free(text);
	free(fx);
	return status;
}
