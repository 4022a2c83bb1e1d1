/*
 * activerules.h - the rules the node's workers load, and the rule files
 * the node has quarantined.
 *
 * The workers never load the operator's rule directory directly. At start
 * and on every reload (SIGHUP) the node compiles the operator's files one
 * by one (engine/rules.h) and writes an "active" directory inside its data
 * directory, DATA/rules-active (mode 0700, files 0600): every file that
 * compiles as it is, and for each one that does not, the version that was
 * last active, if there is one; a broken file with no earlier good version
 * is left out. The new directory is written beside the old one and
 * swapped in with one rename, so a worker sees the old set or the new one.
 * The active directory stays across restarts, and with it each file's
 * last good version.
 *
 * A file can also be quarantined while the node runs: when the analysis
 * supervisor finds that one file makes a sample crash or hang the worker
 * (analysis.c), activerules_quarantine() takes it out of the active
 * directory. It stays out, across reloads, until the operator's text of
 * it changes. docs/RULES.md describes both; /healthz and /metrics show
 * the list (docs/API.md).
 *
 * Every function is safe from any thread.
 */
#ifndef VIGIL_NODE_ACTIVERULES_H
#define VIGIL_NODE_ACTIVERULES_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/rules.h"

#define ACTIVERULES_NAME_MAX 255                /* a rule file's name */
#define ACTIVERULES_FILE_MAX (16 * 1024 * 1024) /* a rule file's size */

struct activerules;

/* One quarantined rule file. */
struct activerules_entry {
	char file[ACTIVERULES_NAME_MAX + 1]; /* its name in the rules dir */
	char reason[RULES_REASON_MAX];       /* the compiler's, or the crash */
	bool kept;  /* its last good version is still active */
	bool crash; /* it crashed or hung analysis; not a compile error */
};

/*
 * Builds DATA/rules-active from the rule files of src_dir (*.yar, *.yara,
 * not recursing) and logs event=rule_quarantined for each file left out.
 * On success *out is the caller's, freed with activerules_free(). Fails
 * (VG_EIO, VG_ELIMIT, VG_ENOMEM, with a message in err) only when src_dir
 * cannot be listed or the active directory cannot be written; broken
 * rule files are never an error.
 */
int activerules_open(const char *src_dir, const char *data_dir,
		     struct activerules **out, char *err, size_t errlen);

/* Rebuilds the active directory from src_dir as it is now (SIGHUP), as
 * activerules_open() does; on failure the old one stays active. */
int activerules_reload(struct activerules *ar, char *err, size_t errlen);

/* The active directory's path, for `vigil-worker --rules`; owned by ar. */
const char *activerules_dir(const struct activerules *ar);

/* The active rule files' paths, in name order, into *paths (n of them;
 * the caller frees each and the array). 0 or VG_EIO. */
int activerules_files(struct activerules *ar, char ***paths, size_t *n);

/* Quarantines the active file named name (a name, or a path whose last
 * component is the name) for reason: removed from the active directory
 * and kept out until its source text changes. VG_ENOENT if it is not
 * active. */
int activerules_quarantine(struct activerules *ar, const char *name,
			   const char *reason);

/* The generation of the active rules, as 64 lowercase hex digits into
 * out: the SHA-256 over the active rule files in name order, each as its
 * name, a NUL, its size (8 bytes, big endian) and its contents. Equal
 * active rules give equal generations across restarts; a quarantine
 * changes it. The store keeps the generation its verdicts were made with
 * (store.h, rescan_queue). 0 or VG_EIO. */
int activerules_generation(struct activerules *ar, char out[65]);

/* A copy of the quarantine list into *out (the caller frees it; NULL when
 * empty); returns its length. */
size_t activerules_quarantined(struct activerules *ar,
			       struct activerules_entry **out);

/* Frees ar; the active directory stays on disk. NULL is accepted. */
void activerules_free(struct activerules *ar);

#endif
