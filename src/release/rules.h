/*
 * rules.h - rule bundles, the rule check, and installing rules on an
 * endpoint; docs/RELEASES.md ("Rule bundles", "The rule check") is the
 * specification.
 *
 * A rule bundle is one JSON document carrying the YARA sources of a rule
 * release:
 *
 *   {"format":"vigil.rules/v1","version":"7",
 *    "files":[{"name":"eicar.yar","source":"rule ..."},...],
 *    "rule_ids":["Vigil_Test_EICAR",...]}
 *
 * written compactly, members in that order, files sorted by name and rule
 * IDs (the rules' identifiers) sorted, both bytewise. The same sources and
 * version always give the same bytes, so that every key holder who stages
 * a release computes the same hash. An endpoint compiles the sources
 * itself and refuses a bundle whose declared rule IDs are not the ones
 * its sources compile to.
 *
 * The rule check is what must hold before anyone signs a rule release:
 * every file compiles on its own, every rule fires on its positive
 * fixture, and no rule fires on a known-good corpus. Its report is JSON
 * (below, rules_check()).
 *
 * Functions return 0 or a negative VG_E* code (common/err.h) with a
 * message in err that names the file and the rule. Memory: what a
 * function returns is the caller's; a bundle owns its strings.
 */
#ifndef VIGIL_RELEASE_RULES_H
#define VIGIL_RELEASE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define RULES_BUNDLE_FORMAT "vigil.rules/v1"
#define RULES_CHECK_FORMAT  "vigil.rule-check/v1"

/* Limits on a bundle, enforced when one is built and when one is read. */
#define RULES_BUNDLE_MAX  (16u << 20) /* bytes of a bundle file */
#define RULES_SOURCE_MAX  (1u << 20)  /* bytes of one rule file */
#define RULES_FILES_MAX   1024        /* rule files in a bundle */
#define RULES_IDS_MAX     65536       /* rules in a bundle */
#define RULES_NAME_MAX    128         /* bytes of a file name */
#define RULES_VERSION_MAX 64          /* bytes of a version */
/* Largest file the check scans, as a fixture or in the corpus. */
#define RULES_SCAN_FILE_MAX (64u << 20)
/* False positives listed in a report (all are counted). */
#define RULES_FP_LIST_MAX 1000

struct rules_file {
	char *name;   /* [A-Za-z0-9._-]+.yar, not starting with '.' */
	char *source; /* UTF-8, no NUL; NUL-terminated */
	size_t len;   /* bytes of source */
};

struct rules_bundle {
	char *version;
	struct rules_file *files; /* sorted by name, no duplicates */
	size_t n_files;
	char **rule_ids; /* sorted; NULL until known */
	size_t n_ids;
};

/* True if name is a valid rule file name in a bundle. */
bool rules_file_name_ok(const char *name);

/* True if v is a valid version: 1 to RULES_VERSION_MAX bytes of
 * [A-Za-z0-9._-], not starting with '.' (it names a directory). */
bool rules_version_ok(const char *v);

/*
 * Reads the rule files of directory dir (its *.yar and *.yara files, not
 * recursing; subdirectories such as fixtures/ are ignored) into b, with
 * version (which may be NULL here) and no rule IDs. A rule file whose
 * name a bundle cannot carry (a .yara extension, other characters) is
 * refused, not skipped (VG_EFORMAT), as is one that is too large, holds a
 * NUL or is not UTF-8. VG_EIO if dir or a file cannot be read.
 */
int rules_sources_load(const char *dir, const char *version,
		       struct rules_bundle *b, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Compiles every file of b on its own and sets b's rule IDs to the sorted
 * identifiers of all their rules. A file that does not compile is named
 * with YARA's line and message; a rule name defined in two files names
 * both (VG_EFORMAT). `include` is refused: a bundle is self-contained.
 */
int rules_bundle_compile_ids(struct rules_bundle *b, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* rules_sources_load() and rules_bundle_compile_ids() in one: the bundle
 * of directory dir as version (which must be valid). */
int rules_bundle_build(const char *dir, const char *version,
		       struct rules_bundle *b, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The bundle file of b (with its rule IDs) into *out (malloc'd,
 * NUL-terminated, the caller frees it) and *len: byte for byte the same
 * for the same b. VG_ELIMIT beyond RULES_BUNDLE_MAX. */
int rules_bundle_encode(const struct rules_bundle *b, char **out, size_t *len)
	__attribute__((warn_unused_result));

/*
 * Parses and validates the bundle file buf[0..len) into b: at most
 * RULES_BUNDLE_MAX bytes; exactly the four members; the format; a valid
 * version; 1 to RULES_FILES_MAX files with exactly "name" and "source",
 * valid names in strictly ascending order, sources as for
 * rules_sources_load(); rule IDs in strictly ascending order, and exactly
 * those the sources compile to. Anything else is VG_EFORMAT (VG_ELIMIT
 * for a limit) with the reason in err, and b is left empty.
 */
int rules_bundle_parse(const void *buf, size_t len, struct rules_bundle *b,
		       char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Frees what b holds and zeroes it; accepts NULL and a zeroed b. */
void rules_bundle_free(struct rules_bundle *b);

/*
 * The rule check of the sources in b (rule IDs not needed), with the
 * positive fixtures in fixtures_dir (a file <fixtures_dir>/<rule id>, or
 * every regular file in <fixtures_dir>/<rule id>/, each of which the rule
 * must fire on) and the known-good corpus directories corpus[0..n_corpus)
 * (walked without following symbolic links; regular files up to
 * RULES_SCAN_FILE_MAX, larger and unreadable ones counted and skipped).
 * *report is the new JSON report (the caller decrefs it) and *pass whether
 * the check passed. Every failure is named in the report's "failures".
 * The report is the same for the same input apart from "timing":
 *
 *   {"format":"vigil.rule-check/v1","version":V or null,
 *    "pass":bool,"failures":["..."],
 *    "files":[{"name","compiled","error":null|{"line","message"}}],
 *    "rules":[{"id","file","compiled","private","fixture","fixtures":
 *              [{"name","fired"}],"fired_on_fixture","false_positives"}],
 *    "corpus":{"directories":[...],"files_scanned","bytes_scanned",
 *              "skipped_unreadable","skipped_large","scan_errors",
 *              "false_positives":N,"false_positive_list":[{"rule","path"}]},
 *    "timing":{"compile_ms","fixtures_ms","corpus_ms","total_ms"}}
 *
 * Private rules never report a match of their own, so they need no
 * fixture. Returns 0 whether or not the check passed; VG_EIO (with err)
 * when fixtures_dir or a corpus directory cannot be opened at all.
 */
int rules_check(const struct rules_bundle *b, const char *fixtures_dir,
		const char *const *corpus, size_t n_corpus, json_t **report,
		bool *pass, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Installs bundle b under home (an endpoint's $VIGIL_HOME) atomically:
 * writes its sources into a new directory home/rules.d/<version>/ (files
 * and directory fsync'd), compiles them again from the written files, and
 * only then points the symbolic link home/rules at rules.d/<version>
 * (symlink and rename, then fsync of home). The previous version's
 * directory is kept, older ones are removed. On any failure the current
 * rules stay in place and err says why: VG_EFORMAT for sources that do not
 * compile or whose rules are not b's rule IDs, VG_EINVAL for the version
 * already installed or home/rules that is not a link, VG_EIO otherwise.
 * Concurrent installs under one home exclude each other.
 */
int rules_install(const struct rules_bundle *b, const char *home, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

/* The version home/rules points at, into buf; VG_ENOENT if none. */
int rules_installed_version(const char *home, char *buf, size_t len);

#endif
