/*
 * cloud.h - `vigil scan --cloud`: after the local scan, one batch lookup
 * at the region's node for every object scanned, and, with --submit and
 * consent, the files the node has never seen (and the local scan did not
 * call malicious).
 *
 * The node's answer adds detections to files the local scan did not
 * find, and takes back local detections the operator retracted as false
 * positives (docs/API.md, "False positives"): an object whose every
 * local detection is among those its answer retracts is printed as
 * `PATH: NAME RETRACTED (log N)`, and a file whose every detecting
 * object is retracted does not count as found.
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

/* Records the objects of report r, scanned under path, and the local
 * detections of a file found malicious or suspicious, whose `FOUND`
 * lines the caller then leaves to cloud_resolve(). Returns false if it
 * recorded nothing (no object, or over CLOUD_MAX_HASHES): the caller
 * prints them itself. Not thread-safe: the caller serialises (vigil scan
 * holds its output lock). */
bool cloud_add(struct cloud *c, const char *path, const struct report *r);

/* What the node changed of a scan's result. */
struct cloud_result {
	uint64_t found; /* files the local scan did not find, the node did */
	/* files found locally whose every detection the node retracted */
	uint64_t retracted_malicious, retracted_suspicious;
};

/*
 * Looks the recorded objects up at the endpoint's node and prints, in
 * clamscan's form with "(cloud)" appended, a line per detection of an
 * object the local scan did not detect and the node calls malicious or
 * suspicious (JSON: one line {"cloud": {...}} per such object); then the
 * local detections: `PATH: NAME FOUND`, or `PATH: NAME RETRACTED (log
 * N)` (JSON: a {"cloud": {...}} line with "retracted") for a retracted
 * object. With submit, files the node does not know are shared if the
 * endpoint's consent allows. Fills *res. Returns 0, or 2 when the node
 * could not be asked (explained on stderr; every local detection is then
 * printed as FOUND).
 */
int cloud_resolve(struct cloud *c, bool json, bool submit,
		  struct cloud_result *res);

#endif
