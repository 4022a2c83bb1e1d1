/*
 * admin.h - what the files of `vigil admin` share (cmd_admin.c dispatches
 * and describes the commands; each command with its own file has its
 * entry point here).
 */
#ifndef VIGIL_CLI_ADMIN_H
#define VIGIL_CLI_ADMIN_H

/*
 * `vigil admin ... retrohunt RULEFILE --reason TEXT --who NAME [--role
 * ROLE]` (cmd_admin_retrohunt.c): argv[0] is "retrohunt". Runs the rule
 * over every sample the node stores, after the node logged a retrohunt
 * entry; prints each matching sample's SHA-256 on a line of its own as
 * the hunt finds it, and a summary on stderr. Returns 0 when the hunt
 * went through every sample, 1 when the node refused it, the rule did
 * not compile or some samples could not be hunted through, 2 for a usage
 * or input error or no answer.
 */
int admin_retrohunt(const char *server, const char *token, int argc,
		    char **argv);

#endif
