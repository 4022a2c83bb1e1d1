/*
 * config.h - vigild's configuration: the INI file (docs/CONFIG.md), then
 * command-line overrides, then validation.
 *
 * Every request limit of the node has its name and default here.
 */
#ifndef VIGIL_NODE_CONFIG_H
#define VIGIL_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define NODE_LISTEN_DEFAULT "127.0.0.1:8440"
#define NODE_DATA_DEFAULT   "./var"
#define NODE_REGION_DEFAULT "eu"
#define NODE_SITE_DEFAULT   "zrh1"

/* Request limits (docs/API.md). */
#define NODE_MAX_SAMPLE_BODY_DEFAULT  (64u * 1024 * 1024)  /* submissions */
#define NODE_MAX_JSON_BODY_DEFAULT    (2u * 1024 * 1024)   /* other POSTs */
#define NODE_MAX_RELEASE_BODY_DEFAULT (256u * 1024 * 1024) /* publishes */
/* Request bodies held in memory by the whole node at once (edge.h). */
#define NODE_MAX_BODY_MEMORY_DEFAULT (512u * 1024 * 1024)
/* Seconds before the release timestamp is signed again (docs/RELEASES.md). */
#define NODE_TIMESTAMP_REFRESH_DEFAULT  3600u
#define NODE_MAX_BATCH_DEFAULT          10000u /* hashes per lookup */
#define NODE_REQUEST_TIMEOUT_MS_DEFAULT 30000u
#define NODE_MAX_SCAN_MS_DEFAULT        120000u /* the engine's own default */
#define NODE_MAX_CONNECTIONS_DEFAULT    4096u
#define NODE_RATE_PER_SEC_DEFAULT       200u /* requests per client */
#define NODE_RATE_BURST_DEFAULT         400u
/* Submissions per second above which analyses yield to ingest. */
#define NODE_ANALYSIS_YIELD_RATE_DEFAULT 4000
#define NODE_JOB_LEASE_MS_DEFAULT        30000
/* [stats] (docs/STATS.md): the fewest distinct clients a published count
 * comes from, and the privacy budget of one day's statistics. */
#define NODE_STATS_K_DEFAULT       10u
#define NODE_STATS_K_MIN           2u
#define NODE_STATS_K_MAX           1000000u
#define NODE_STATS_EPSILON_DEFAULT 1.0
#define NODE_STATS_EPSILON_MIN     0.01
#define NODE_STATS_EPSILON_MAX     100.0
/* [retention] (docs/CONFIG.md): days a sample's bytes and a submission's
 * metadata are kept; 0 in the file means the default. */
#define NODE_SAMPLE_DAYS_DEFAULT   90u
#define NODE_METADATA_DAYS_DEFAULT 365u
#define NODE_RETENTION_DAYS_MAX    3650u
/* Enrolments per client address: a burst, then a few a minute. */
#define NODE_ENROLL_BURST   30u
#define NODE_ENROLL_PER_MIN 20u
#define NODE_MAX_REGIONS    32
#define NODE_MAX_LOOPS      64
#define NOTE_ORIGIN_MAX     200

struct region_endpoint {
	char name[33];
	char url[256];
};

#define NODE_MAX_WITNESSES 16

/* A witness the node asks to cosign its checkpoints (tlog-witness). */
struct witness_endpoint {
	char name[33];  /* the configuration's label */
	char vkey[384]; /* its cosignature verifier key (checked at start) */
	char url[256];  /* its submission prefix */
};

struct node_config {
	char listen_host[256];
	uint16_t listen_port;
	char data_dir[1024];
	char region[33];
	char site[33];
	char rules_dir[1024]; /* empty: the default rules */
	uint32_t workers;     /* analysis worker processes; 0: one per core */
	uint32_t loops;       /* HTTP event loop threads; 0: one per core */
	uint32_t analysis_yield_rate; /* submissions/s above which analyses
					 wait (analysis.h); 0: never */
	/* The transparency log's origin line (and key name); empty: the
	 * default, vigil.local/<region>/<log key ID> (config_log_origin). */
	char log_origin[NOTE_ORIGIN_MAX + 1];
	uint32_t max_sample_body, max_json_body, max_batch;
	uint32_t max_release_body;          /* POST /v1/admin/releases */
	uint32_t max_body_memory;           /* every body held, node-wide */
	uint32_t release_timestamp_refresh; /* seconds */
	uint32_t request_timeout_ms, max_connections;
	uint32_t max_scan_ms; /* analysis time per sample */
	uint32_t rate_per_sec, rate_burst;
	struct region_endpoint regions[NODE_MAX_REGIONS];
	size_t n_regions;
	struct witness_endpoint witnesses[NODE_MAX_WITNESSES];
	size_t n_witnesses;
	/* [store]: where the region's data lives. sqlite (the default): in
	 * the data directory, this node alone. postgres: in the PostgreSQL
	 * cluster store_dsn names (libpq's DSN, multi-host), shared by every
	 * node of the region (docs/OPERATING.md); job_lease_ms is how long a
	 * node's claim on an analysis lasts without renewal. */
	enum store_backend store_backend;
	char store_dsn[1024];
	uint32_t job_lease_ms;
	/* [sandbox] allow_without_landlock: start analysis workers on a
	 * kernel without Landlock (workerproc.h); false: refuse to. */
	bool allow_without_landlock;
	/* [stats]: a count from fewer than stats_k distinct clients is
	 * suppressed; a day's published counts spend stats_epsilon of
	 * differential privacy between them (docs/STATS.md). */
	uint32_t stats_k;
	double stats_epsilon;
	/* [retention]: the sweep (retention.h) erases the bytes of a sample
	 * last submitted more than sample_days ago and deletes submissions
	 * older than metadata_days; 1..NODE_RETENTION_DAYS_MAX each. */
	uint32_t sample_days, metadata_days;
};

/* The store c names, for store_open(): the SQLite file in the data
 * directory, or the PostgreSQL DSN with this process's name for job
 * leases, "<site>/<host name>/<pid>". */
void store_spec_of(const struct node_config *c, struct store_spec *sp);

/* Fills *c with the defaults above. */
void config_default(struct node_config *c);

/* Reads the INI file at path into *c. Returns 0, or VG_EIO / VG_EFORMAT
 * with "file:line: reason" in err. */
int config_load(struct node_config *c, const char *path, char *err,
		size_t errlen);

/* Reads the len bytes at buf (not NUL-terminated; the text of an INI file
 * that messages call name) into *c, as config_load() does a file's.
 * Returns 0, or VG_EFORMAT with "name:line: reason" in err; keys read
 * before the error stay set. */
int config_parse_buffer(struct node_config *c, const char *buf, size_t len,
			const char *name, char *err, size_t errlen);

/* Sets "host:port" (IPv4, [IPv6] or a name) as the listen address.
 * Returns 0 or VG_EINVAL. */
int config_set_listen(struct node_config *c, const char *addr);

/* Checks the whole configuration; VG_EINVAL with a reason in err. */
int config_check(const struct node_config *c, char *err, size_t errlen);

/* The origin of a new log whose key has the Ed25519 public key log_pub:
 * the configured one, or vigil.local/<region>/<key ID> written into buf,
 * the key ID being the first 16 hex digits of SHA-256(log_pub). (A log
 * keeps the origin it was created with: nodelog.h.) */
const char *config_log_origin(const struct node_config *c,
			      const uint8_t log_pub[32], char *buf, size_t len);

/* The longest name (of a region, a site, or a role or person in the
 * log's sample-access entries). */
#define CONFIG_NAME_MAX 32

/* True if s[0..len) is such a name: 1 to CONFIG_NAME_MAX of a-z, 0-9, -. */
bool config_name_ok(const char *s, size_t len);

/* Returns the endpoint URL configured for region, or NULL. */
const char *config_region_url(const struct node_config *c, const char *region);

#endif
