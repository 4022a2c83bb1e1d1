/*
 * keyfile.h - a signer's key kept in a file: a signed-note signer key
 * string on one line, mode 0600 (common/secretfile.h), as vigild keeps
 * its log key and `vigil witness` its cosigner key.
 */
#ifndef VIGIL_TLOG_KEYFILE_H
#define VIGIL_TLOG_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tlog/note.h"

/*
 * Loads the signer key at path into a new *out (note_signer_free). A
 * missing file is created holding a new key named name, when name is not
 * NULL (*created is then true); with name NULL it is VG_ENOENT. The key
 * must be of the given type (NOTE_ED25519 or NOTE_COSIGNATURE): another
 * is VG_EINVAL. Other failures as secret_file_read() and
 * note_signer_parse(); err names the file.
 */
int note_signer_file(const char *path, const char *name, uint8_t type,
		     struct note_signer **out, bool *created, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* Writes the key s into a new file path (mode 0600, as above; an existing
 * file is VG_EINVAL). Returns 0 or secret_file_create()'s error. */
int note_signer_file_write(const char *path, const struct note_signer *s,
			   char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
