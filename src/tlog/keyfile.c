/*
 * keyfile.c - see keyfile.h.
 */
#include "tlog/keyfile.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/secretfile.h"

int
note_signer_file_write(const char *path, const struct note_signer *s, char *err,
		       size_t errlen)
{
	char key[NOTE_KEY_MAX + 1];
	size_t len;
	int rc;

	note_signer_format(s, key);
	len = strlen(key);
	if (len == 0)
		return vg_fail(err, errlen, VG_EINVAL,
			       "%s: a remote key has no key file", path);
	key[len++] = '\n';
	rc = secret_file_create(path, key, len, err, errlen);
	sodium_memzero(key, sizeof(key));
	return rc;
}

/* Writes a new key named name into path. */
static int
create(const char *path, const char *name, uint8_t type,
       struct note_signer **out, char *err, size_t errlen)
{
	char why[256];
	int rc;

	if ((rc = note_signer_generate(name, type, out, why, sizeof(why))) !=
	    0) {
		snprintf(err, errlen, "%s: %s", name, why);
		return rc;
	}
	rc = note_signer_file_write(path, *out, err, errlen);
	if (rc != 0) {
		note_signer_free(*out);
		*out = NULL;
	}
	return rc;
}

int
note_signer_file(const char *path, const char *name, uint8_t type,
		 struct note_signer **out, bool *created, char *err,
		 size_t errlen)
{
	struct note_verifier v;
	char *text = NULL, why[256];
	size_t len;
	int rc;

	*out = NULL;
	*created = false;
	rc = secret_file_read(path, NOTE_KEY_MAX, &text, &len, err, errlen);
	if (rc == VG_ENOENT && name != NULL) {
		if ((rc = create(path, name, type, out, err, errlen)) == 0)
			*created = true;
		return rc;
	}
	if (rc != 0)
		return rc;
	while (len > 0 && text[len - 1] == '\n')
		len--;
	rc = note_signer_parse(text, len, out, why, sizeof(why));
	sodium_memzero(text, len);
	free(text);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		return rc;
	}
	note_signer_verifier(*out, &v);
	if (v.type != type) {
		snprintf(err, errlen, "%s: not a %s key (type 0x%02x)", path,
			 type == NOTE_COSIGNATURE ? "cosigner" : "log",
			 (unsigned)type);
		note_signer_free(*out);
		*out = NULL;
		return VG_EINVAL;
	}
	return 0;
}
