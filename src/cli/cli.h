/*
 * cli.h - the subcommands of vigil, one file each.
 */
#ifndef VIGIL_CLI_CLI_H
#define VIGIL_CLI_CLI_H

#include <jansson.h>

struct userconf;

/* Each takes argv with argv[0] the subcommand's name; returns the exit
 * status. */
int cmd_admin(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_lookup(int argc, char **argv);
int cmd_report_fp(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_consent(int argc, char **argv);
int cmd_mydata(int argc, char **argv);
int cmd_witness(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_update(int argc, char **argv);

/* The subcommands of `vigil release` written in their own files. */
int cmd_release_check_rules(int argc, char **argv);
int cmd_release_provenance(int argc, char **argv);
int cmd_release_verify_build(int argc, char **argv);

/* `vigil admin ... fp ...` (cmd_admin_fp.c): argv[0] is "fp"; server
 * and token are the node's and the operator's. Returns the exit status. */
int cmd_admin_fp(const char *server, const char *token, int argc, char **argv);

/* Longest operator token. */
#define ADMIN_TOKEN_MAX 256

/* Reads a node's operator token: one line, from a file only its owner
 * can read. Returns 0, or 2 after saying why on stderr. */
int admin_read_token(const char *path, char out[ADMIN_TOKEN_MAX]);

/* One POST /v1/lookup of up to 10,000 hashes (a JSON array); *results is
 * the answer's array (caller decrefs). Returns 0, or 2 after explaining
 * the failure on stderr. */
int cli_lookup_batch(struct userconf *u, json_t *hashes, json_t **results);

/* Submits one file, waiting up to wait seconds for its verdict. Returns 0,
 * 1 (malicious or suspicious) or 2 (an error, explained on stderr). */
int cli_submit_file(struct userconf *u, const char *file, long wait);

#endif
