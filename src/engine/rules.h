/*
 * rules.h - YARA rules: compiled once, shared read-only by every thread.
 *
 * Rule files are compiled together into one YR_RULES. Each rule's meta
 * (id, severity or score, category, description) is read once at compile
 * time into a table indexed like the rules, so that reporting a match does
 * not walk the meta list. docs/REPORT.md gives the severity-to-score map.
 */
#ifndef VIGIL_ENGINE_RULES_H
#define VIGIL_ENGINE_RULES_H

#include <stddef.h>
#include <yara.h>

#define RULES_MAX_FILES 4096 /* rule files in one engine */

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
};

/*
 * Compiles every path (a rule file, or a directory whose *.yar and *.yara
 * files are taken in name order, not recursing) into *out. On a compile
 * error returns VG_EFORMAT with every error as "file:line: message" in err
 * (the first ones that fit); nothing is kept. Returns VG_EIO when a path
 * cannot be read. Zero paths give an empty, valid ruleset.
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
void ruleset_free(struct ruleset *rs);

/* Returns the info of the matched rule r. */
const struct rule_info *ruleset_info(const struct ruleset *rs,
				     const YR_RULE *r);

/* Maps a severity word to a score: info 0, low 25, medium 50, high 80,
 * critical 100; -1 for anything else. */
int rules_severity_score(const char *severity);

#endif
