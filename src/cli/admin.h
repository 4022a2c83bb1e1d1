/*
 * admin.h - what the files of `vigil admin` share (cmd_admin.c dispatches
 * and describes the commands; each command with its own file has its
 * entry point here; admin.c holds the parts they have in common).
 */
#ifndef VIGIL_CLI_ADMIN_H
#define VIGIL_CLI_ADMIN_H

/*
 * Why the operator acts, sent with a request the node logs before it
 * answers (docs/API.md): the X-Vigil-Reason and X-Vigil-Role headers.
 * Who acts is not sent: the node names the operator whose token
 * authenticated the request.
 */
struct admin_why {
	const char *reason;
	const char *role;       /* NULL: not sent */
	char *lines[2];         /* owned; freed by admin_why_clear() */
	const char *headers[3]; /* NULL-terminated, for http_request_*hdrs() */
};

/* What --who, no longer taken, is answered with (exit status 2). */
#define ADMIN_WHO_REFUSED                                                      \
	"vigil: --who is not taken: log entries name the operator whose "      \
	"token authenticated the request (vigil admin ... operator add NAME "  \
	"gives each operator a token of their own)\n"

/* Builds w->headers from w->reason and w->role. Returns 0, or
 * VG_EINVAL, with nothing built, when a value holds a control byte (a
 * newline would break the request itself); the caller says so. */
int admin_why_headers(struct admin_why *w);

/* Frees what admin_why_headers() built; accepts NULL, and a w it
 * refused. */
void admin_why_clear(struct admin_why *w);

/*
 * `vigil admin ... operator add NAME | list [--json] | revoke NAME`
 * (cmd_admin_operator.c): argv[0] is "operator". Returns 0 done, 1 the
 * node refused or failed, 2 a usage error or no answer.
 */
int admin_operator(const char *server, const char *token, int argc,
		   char **argv);

/*
 * `vigil admin ... retrohunt RULEFILE --reason TEXT [--role ROLE]`
 * (cmd_admin_retrohunt.c): argv[0] is "retrohunt". Runs the rule over every
 * sample the node stores, after the node logged a retrohunt entry; prints each
 * matching sample's SHA-256 on a line of its own as the hunt finds it, and a
 * summary on stderr. Returns 0 when the hunt went through every sample, 1 when
 * the node refused it, the rule did not compile or some samples could not be
 * hunted through, 2 for a usage or input error or no answer.
 */
int admin_retrohunt(const char *server, const char *token, int argc,
		    char **argv);

/*
 * `vigil admin ... hold SHA256 --case ID --reason TEXT` and `release-hold
 * SHA256 --case ID` (cmd_admin_hold.c): argv[0] is "hold" or
 * "release-hold". Returns 0 done, 1 the node refused or failed, 2 a
 * usage error or no answer.
 */
int admin_hold(const char *server, const char *token, int argc, char **argv);

#endif
