/*
 * engine.h - the analysis engine: decompose a file, analyse every object,
 * give a verdict.
 *
 * The engine is shared by the endpoint (`vigil scan`) and the regional
 * node's workers. It has two halves:
 *
 *   struct engine   built once, immutable afterwards, shared by all
 *                   threads: the libclamav engine used for decomposition,
 *                   the compiled YARA rules, the hash signatures, limits.
 *   struct scanner  one per thread: a YARA scanner, a libmagic cookie and
 *                   scratch state. Never shared.
 *
 * Scanning a file produces a struct report (report.h) that the caller owns.
 * The report format and the verdict policy are specified in docs/REPORT.md.
 */
#ifndef VIGIL_ENGINE_ENGINE_H
#define VIGIL_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/limits.h"
#include "engine/report.h"

struct engine;
struct scanner;
struct rule_quarantine; /* rules.h */

struct engine_config {
	struct vg_limits limits;
	/* YARA rule files or directories of *.yar / *.yara files. */
	const char *const *rule_paths;
	size_t n_rule_paths;
	/* ClamAV-format hash signature files (.hdb, .hsb). */
	const char *const *hash_paths;
	size_t n_hash_paths;
	/* Directory for libclamav's extracted members; NULL: $TMPDIR or /tmp.
	 */
	const char *tmpdir;
	/* Compute ssdeep for every object (the default). */
	bool fuzzy;
	/* Only what rule matching needs (a retro-hunt): each object is still
	 * decomposed and matched, but gets no MD5, SHA-1, entropy, ssdeep or
	 * type, and no hash signature lookup; the file itself gets its
	 * SHA-256, which names it. Off by default. */
	bool match_only;
};

/* Fills *cfg with default limits and no rules or hashes. */
void engine_config_default(struct engine_config *cfg);

/*
 * Builds an engine: compiles every rule file, loads every hash file, and
 * prepares libclamav. A rule file that does not compile is quarantined,
 * not an error (engine_rules_quarantined()). On failure returns a negative
 * VG_E* code and writes a message naming the file and line into err (errlen
 * bytes). On success *out is owned by the caller; free it with engine_free()
 * after every scanner built from it is freed.
 */
int engine_new(const struct engine_config *cfg, struct engine **out, char *err,
	       size_t errlen);
void engine_free(struct engine *e);

/* Number of YARA rules and hash signatures loaded. */
size_t engine_rule_count(const struct engine *e);
size_t engine_hash_count(const struct engine *e);

/* Number of rule files left out because they did not compile or could
 * not be read; *q points at them (file, reason), owned by e. */
size_t engine_rules_quarantined(const struct engine *e,
				const struct rule_quarantine **q);
/*
 * Replaces the YARA rules of e with those compiled from the source
 * text[0..len) (includes refused; rules.h ruleset_compile_text) and
 * binds s, which must be the only scanner of e, to them. For a retro-
 * hunt's worker, which builds its engine before the sandbox and gets the
 * rule after. Returns 0, or VG_EFORMAT (VG_EINVAL for a NUL) with the
 * compiler's messages in err; on error e and s keep their old rules.
 */
int engine_load_rules_text(struct engine *e, struct scanner *s,
			   const char *text, size_t len, char *err,
			   size_t errlen);

/* Creates a per-thread scanner. Returns 0 or a negative VG_E* code. */
int scanner_new(struct engine *e, struct scanner **out);
void scanner_free(struct scanner *s);

/*
 * Analyses the file open on fd; display_name names it in the report (may be
 * NULL). On success returns 0 and *out is a report the caller frees with
 * report_free(). A file that cannot be read at all gives a negative VG_E*
 * code and no report. Hitting a limit is not an error: it is in the report.
 */
int engine_scan_fd(struct scanner *s, int fd, const char *display_name,
		   struct report **out);

/* As engine_scan_fd(), for len bytes at buf (not copied, not kept). */
int engine_scan_buffer(struct scanner *s, const void *buf, size_t len,
		       const char *display_name, struct report **out);

/* Initialises the libraries the engine uses. Call once, before any thread
 * starts. Returns 0 or VG_ELIB. */
int engine_global_init(void);

#endif
