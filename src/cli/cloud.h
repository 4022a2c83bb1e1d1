/*
 * cloud.h - `vigil scan --cloud`: after the local scan, one batch lookup
 * at the region's node for every object the local scan did not call
 * malicious, and, with --submit and consent, the files the node has never
 * seen.
 */
#ifndef VIGIL_CLI_CLOUD_H
#define VIGIL_CLI_CLOUD_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/report.h"

/* At most this many hashes are looked up for one scan. */
#define CLOUD_MAX_HASHES 1000000

struct cloud;

struct cloud *cloud_new(void);
void cloud_free(struct cloud *c);

/* Records the objects of report r, scanned under path. Not thread-safe:
 * the caller serialises (vigil scan holds its output lock). */
void cloud_add(struct cloud *c, const char *path, const struct report *r);

/*
 * Looks the recorded objects up at the endpoint's node and prints, in
 * clamscan's form with "(cloud)" appended, a line per detection of an
 * object the node calls malicious or suspicious (JSON: one line
 * {"cloud": {...}} per such object). With submit, files the node does not
 * know are shared if the endpoint's consent allows. Sets *found to the
 * number of files the node flagged. Returns 0, or 2 when the node could
 * not be asked (explained on stderr).
 */
int cloud_resolve(struct cloud *c, bool json, bool submit, uint64_t *found);

#endif
