/*
 * rules.h - YARA rules: compiled once, shared read-only by every thread.
 *
 * Rule files are compiled together into one YR_RULES, each file added on
 * its own: a file that does not compile (or cannot be read, or declares a
 * rule identifier an earlier file declared) is quarantined, left out with
 * the compiler's reason, and every other file still loads. docs/RULES.md
 * says what a quarantine means on the endpoint and on the node. Each
 * rule's meta
 * (id, severity or score, category, description) is read once at compile
 * time into a table indexed like the rules, so that reporting a match does
 * not walk the meta list. docs/REPORT.md gives the severity-to-score map.
 */
#ifndef VIGIL_ENGINE_RULES_H
#define VIGIL_ENGINE_RULES_H

#include <stddef.h>
#include <yara.h>

#define RULES_MAX_FILES  4096 /* rule files in one engine */
#define RULES_REASON_MAX 512  /* a quarantine's reason, with its NUL */

/* A rule file left out of a ruleset. */
struct rule_quarantine {
	char *file;   /* its path, as collected (dir/name) */
	char *reason; /* "line N: compiler message", or why it is unreadable */
};

struct rule_info {
	const char *name;        /* the rule identifier, owned by YR_RULES */
	const char *id;          /* meta "id"; may be NULL */
	const char *category;    /* meta "category"; may be NULL */
	const char *description; /* meta "description"; may be NULL */
	int score;               /* from meta "score" or "severity" */
};

struct ruleset {
	YR_RULES *rules;
	struct rule_info *info; /* one per rule, same order as rules_table */
	size_t n_rules;
	/* Files left out, in the order they were met. */
	struct rule_quarantine *quarantined;
	size_t n_quarantined;
};

/*
 * Compiles every path (a rule file, or a directory whose *.yar and *.yara
 * files are taken in name order, not recursing) into *out. A file that
 * does not compile, cannot be opened, or reuses an earlier file's rule
 * identifier is quarantined: listed in out->quarantined with the
 * compiler's first error, the rest compiled without it. Returns 0 then
 * too, even if every file was quarantined. Returns VG_EIO (VG_ELIMIT past
 * RULES_MAX_FILES) with a message in err when a path given cannot be
 * listed; nothing is kept. Zero paths give an empty, valid ruleset.
 * libyara must be initialised (yr_initialize()). Free with
 * ruleset_free().
 */
int ruleset_compile(const char *const *paths, size_t n, struct ruleset *out,
		    char *err, size_t errlen);
/*
 * Compiles the rule source text[0..len) (operator input: it may hold a
 * NUL or be malformed) into *out, with includes refused. On a compile
 * error returns VG_EFORMAT with every error as "(rule):line: message" in
 * err; VG_EINVAL for a NUL in the text. Nothing is kept on error.
 */
int ruleset_compile_text(const char *text, size_t len, struct ruleset *out,
			 char *err, size_t errlen);

/* Frees what *rs holds (rules, meta, quarantine list); NULL is accepted. */
void ruleset_free(struct ruleset *rs);

/* Returns the info of the matched rule r. */
const struct rule_info *ruleset_info(const struct ruleset *rs,
				     const YR_RULE *r);

/* Maps a severity word to a score: info 0, low 25, medium 50, high 80,
 * critical 100; -1 for anything else. */
int rules_severity_score(const char *severity);

#endif
