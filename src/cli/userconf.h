/*
 * userconf.h - the endpoint's own settings: which node it talks to and its
 * enrolment, in $VIGIL_HOME/config (default ~/.config/vigil/config).
 *
 * The file holds a bearer token, so it is written with mode 0600 in a
 * directory of mode 0700, atomically (temporary file, fsync, rename).
 */
#ifndef VIGIL_CLI_USERCONF_H
#define VIGIL_CLI_USERCONF_H

#include <stddef.h>

struct userconf {
	char server[512];
	char client_id[64];
	char token[160];
	char consent[16];
	char region[40];
};

/* Writes the directory's path into buf. Returns 0 or VG_EINVAL when
 * neither $VIGIL_HOME nor $HOME is set. */
int userconf_dir(char *buf, size_t len);

/* Loads the file into *u (zeroed first). VG_ENOENT when there is none;
 * VG_EFORMAT with a reason in err for a damaged one. */
int userconf_load(struct userconf *u, char *err, size_t errlen);

/* Loads the file into *u, or explains on stderr, as command cmd, why it
 * cannot and that the endpoint must enrol first. Returns 0 or 2. */
int userconf_require(struct userconf *u, const char *cmd);

/* Saves *u. Returns 0 or a VG_E* code with a reason in err. */
int userconf_save(const struct userconf *u, char *err, size_t errlen);

#endif
