/*
 * releases.h - the node's release repository (docs/RELEASES.md, "The
 * node"): it takes signed releases from the operator, checks them as an
 * endpoint would, logs them, signs the snapshot and timestamp manifests
 * with its online key, and serves every manifest, artifact and proof:
 * the current targets' artifacts by name, and those of every release by
 * their hash.
 *
 * On disk, under <data>/releases/ (every file written to a temporary
 * name, synced, renamed, and its directory synced):
 *   root/<N>.root.json     every root, as published
 *   targets.json, snapshot.json, timestamp.json   the current manifests
 *   artifacts/<sha256>     every artifact, by the hex of its SHA-256
 *   index.json             the releases: targets version, time, signers,
 *                          artifacts and their log entries, rule diff
 * and the online key in <data>/release-online.key (mode 0600) with its
 * key object in <data>/release-online.pub, which the key holder loads
 * (keyholder.h) and signs with: this process never reads the key.
 *
 * Threads: every function may be called from any event loop; the state is
 * behind one mutex, and one publish runs at a time.
 */
#ifndef VIGIL_NODE_RELEASES_H
#define VIGIL_NODE_RELEASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>
#include <jansson.h>

#include "node/keyholder.h"
#include "node/node.h"

/* Lifetimes of the manifests the node signs, and when it signs again. */
#define RELEASES_TIMESTAMP_LIFETIME (24 * 3600)
#define RELEASES_SNAPSHOT_LIFETIME  (7 * 24 * 3600)
/* A snapshot is signed again once it is this old (with no release). */
#define RELEASES_SNAPSHOT_REFRESH (24 * 3600)

/*
 * Opens the repository of cfg's data directory, signing with kh's online
 * key (kh must outlive it): loads the current manifests and the index,
 * and signs a new snapshot and timestamp if a crash left them behind
 * targets.json. Returns 0 or a VG_E* code with a message in err.
 */
int releases_open(const struct node_config *cfg, struct keyholder *kh,
		  struct releases **out, char *err, size_t errlen);

/* The online key's ID (64 hex digits). */
const char *releases_online_key_id(const struct releases *rs);

/* Frees rs; accepts NULL. */
void releases_close(struct releases *rs);

/*
 * Answers a request for route ROUTE_RELEASES (/v1/releases and below) or
 * ROUTE_ADMIN_RELEASES (the publish), path[0..len) being the normalised
 * path; port is the calling event loop's. Always answers, or (publish)
 * answers once the log entries are durable.
 */
int releases_handle(struct node *node, unsigned port, h2o_req_t *req,
		    enum route r, const char *path, size_t len);

/* A deep copy of every release record of the index, newest first, as
 * GET /v1/releases lists them (the caller's, to json_decref). Any
 * thread. */
json_t *releases_list(struct releases *rs);

/* Signs a new timestamp (and snapshot) if the current one is older than
 * the configured refresh; cheap when it is not. Any thread. */
void releases_refresh(struct releases *rs);

#endif
