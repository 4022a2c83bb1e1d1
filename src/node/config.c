/*
 * config.c - reading and checking vigild's configuration; see config.h.
 */
#include "node/config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/net.h"
#include "common/ini.h"
#include "common/xmalloc.h"

#define CONFIG_MAX_FILE (1024 * 1024)

void
config_default(struct node_config *c)
{
	memset(c, 0, sizeof(*c));
	config_set_listen(c, NODE_LISTEN_DEFAULT);
	snprintf(c->data_dir, sizeof(c->data_dir), "%s", NODE_DATA_DEFAULT);
	snprintf(c->region, sizeof(c->region), "%s", NODE_REGION_DEFAULT);
	snprintf(c->site, sizeof(c->site), "%s", NODE_SITE_DEFAULT);
	c->max_sample_body = NODE_MAX_SAMPLE_BODY_DEFAULT;
	c->max_json_body = NODE_MAX_JSON_BODY_DEFAULT;
	c->max_release_body = NODE_MAX_RELEASE_BODY_DEFAULT;
	c->max_body_memory = NODE_MAX_BODY_MEMORY_DEFAULT;
	c->release_timestamp_refresh = NODE_TIMESTAMP_REFRESH_DEFAULT;
	c->max_batch = NODE_MAX_BATCH_DEFAULT;
	c->request_timeout_ms = NODE_REQUEST_TIMEOUT_MS_DEFAULT;
	c->max_scan_ms = NODE_MAX_SCAN_MS_DEFAULT;
	c->max_connections = NODE_MAX_CONNECTIONS_DEFAULT;
	c->rate_per_sec = NODE_RATE_PER_SEC_DEFAULT;
	c->rate_burst = NODE_RATE_BURST_DEFAULT;
	c->analysis_yield_rate = NODE_ANALYSIS_YIELD_RATE_DEFAULT;
	c->store_backend = STORE_SQLITE;
	c->job_lease_ms = NODE_JOB_LEASE_MS_DEFAULT;
	c->stats_k = NODE_STATS_K_DEFAULT;
	c->stats_epsilon = NODE_STATS_EPSILON_DEFAULT;
	c->sample_days = NODE_SAMPLE_DAYS_DEFAULT;
	c->metadata_days = NODE_METADATA_DAYS_DEFAULT;
}

void
store_spec_of(const struct node_config *c, struct store_spec *sp)
{
	char host[65] = "";

	memset(sp, 0, sizeof(*sp));
	sp->backend = c->store_backend;
	snprintf(sp->path, sizeof(sp->path), "%.1000s/vigil.db", c->data_dir);
	snprintf(sp->dsn, sizeof(sp->dsn), "%s", c->store_dsn);
	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "unknown");
	snprintf(sp->owner, sizeof(sp->owner), "%.32s/%.16s/%ld", c->site,
		 host, (long)getpid());
	sp->job_lease_ms = c->job_lease_ms;
}

int
config_set_listen(struct node_config *c, const char *addr)
{
	return net_parse_hostport(addr, c->listen_host, sizeof(c->listen_host),
				  &c->listen_port);
}

static int
set_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long x;

	if (*v == '\0' || *v == '-')
		return -1;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < min || x > max)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* A decimal number in [min, max]: digits, at most one point, no sign,
 * exponent, "inf" or "nan" (strtod alone takes all of those). */
static int
set_double(const char *v, double min, double max, double *out)
{
	size_t n = strlen(v), points = 0;
	char *end;
	double x;

	if (n == 0 || n > 32 || v[0] == '.' || v[n - 1] == '.')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '.')
			points++;
		else if (v[i] < '0' || v[i] > '9')
			return -1;
	}
	if (points > 1)
		return -1;
	errno = 0;
	x = strtod(v, &end);
	if (errno != 0 || *end != '\0' || !(x >= min && x <= max))
		return -1;
	*out = x;
	return 0;
}

static int
set_str(const char *v, char *dst, size_t cap)
{
	size_t n = strlen(v);

	if (n == 0 || n >= cap)
		return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

bool
config_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > CONFIG_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static int
region_name_ok(const char *s)
{
	return config_name_ok(s, strlen(s));
}

static int
on_key(const char *sec, const char *key, const char *v, char *err,
       size_t errlen, void *ud)
{
	struct node_config *c = ud;
	int bad = 0;

	if (strcmp(sec, "node") == 0) {
		if (strcmp(key, "listen") == 0)
			bad = config_set_listen(c, v) != 0;
		else if (strcmp(key, "data") == 0)
			bad = set_str(v, c->data_dir, sizeof(c->data_dir));
		else if (strcmp(key, "region") == 0)
			bad = !region_name_ok(v) ||
			      set_str(v, c->region, sizeof(c->region));
		else if (strcmp(key, "site") == 0)
			bad = !region_name_ok(v) ||
			      set_str(v, c->site, sizeof(c->site));
		else if (strcmp(key, "rules") == 0)
			bad = set_str(v, c->rules_dir, sizeof(c->rules_dir));
		else if (strcmp(key, "workers") == 0)
			bad = set_u32(v, 0, 64, &c->workers) != 0;
		else if (strcmp(key, "loops") == 0)
			bad = set_u32(v, 0, NODE_MAX_LOOPS, &c->loops) != 0;
		else if (strcmp(key, "analysis_yield_rate") == 0)
			bad = set_u32(v, 0, 100000000,
				      &c->analysis_yield_rate) != 0;
		else
			goto unknown;
	} else if (strcmp(sec, "limits") == 0) {
		static const struct {
			const char *key;
			size_t off;
			uint32_t min, max;
		} lim[] = {
			{"max_sample_body",
			 offsetof(struct node_config, max_sample_body), 1,
			 1u << 30},
			{"max_json_body",
			 offsetof(struct node_config, max_json_body), 1024,
			 256u << 20},
			{"max_release_body",
			 offsetof(struct node_config, max_release_body), 1024,
			 1u << 30},
			{"max_body_memory",
			 offsetof(struct node_config, max_body_memory),
			 1u << 20, 4095u << 20},
			{"max_batch", offsetof(struct node_config, max_batch),
			 1, 1000000},
			{"max_scan_ms",
			 offsetof(struct node_config, max_scan_ms), 100,
			 3600000},
			{"request_timeout_ms",
			 offsetof(struct node_config, request_timeout_ms), 100,
			 3600000},
			{"max_connections",
			 offsetof(struct node_config, max_connections), 1,
			 1000000},
			{"rate_per_sec",
			 offsetof(struct node_config, rate_per_sec), 1,
			 10000000},
			{"rate_burst", offsetof(struct node_config, rate_burst),
			 1, 10000000},
		};
		size_t i;

		for (i = 0; i < sizeof(lim) / sizeof(lim[0]); i++)
			if (strcmp(key, lim[i].key) == 0)
				break;
		if (i == sizeof(lim) / sizeof(lim[0]))
			goto unknown;
		if (set_u32(v, lim[i].min, lim[i].max,
			    (uint32_t *)((char *)c + lim[i].off)) != 0) {
			snprintf(err, errlen, "%s must be a number in %u..%u",
				 key, lim[i].min, lim[i].max);
			return -1;
		}
	} else if (strcmp(sec, "log") == 0) {
		if (strcmp(key, "origin") != 0)
			goto unknown;
		/* A signed-note key name: no spaces or '+', printable. */
		bad = *v == '\0' ||
		      set_str(v, c->log_origin, sizeof(c->log_origin));
		for (const char *p = v; !bad && *p; p++)
			bad = (unsigned char)*p <= 0x20 || *p == '+' ||
			      (unsigned char)*p >= 0x7f;
	} else if (strcmp(sec, "releases") == 0) {
		/* Under the timestamp's lifetime of one day. */
		if (strcmp(key, "timestamp_refresh") != 0)
			goto unknown;
		bad = set_u32(v, 1, 86399, &c->release_timestamp_refresh) != 0;
	} else if (strcmp(sec, "witnesses") == 0) {
		struct witness_endpoint *w;
		const char *sp = strchr(v, ' ');

		if (!region_name_ok(key)) {
			snprintf(err, errlen, "bad witness name '%s'", key);
			return -1;
		}
		if (c->n_witnesses == NODE_MAX_WITNESSES) {
			snprintf(err, errlen, "more than %d witnesses",
				 NODE_MAX_WITNESSES);
			return -1;
		}
		w = &c->witnesses[c->n_witnesses];
		while (sp != NULL && sp[1] == ' ')
			sp++;
		if (sp == NULL ||
		    (strncmp(sp + 1, "http://", 7) != 0 &&
		     strncmp(sp + 1, "https://", 8) != 0) ||
		    (size_t)(strchr(v, ' ') - v) >= sizeof(w->vkey) ||
		    strchr(sp + 1, ' ') != NULL) {
			snprintf(err, errlen,
				 "witness %s: expected its verifier key, a "
				 "space and its http:// or https:// URL",
				 key);
			return -1;
		}
		memcpy(w->vkey, v, (size_t)(strchr(v, ' ') - v));
		w->vkey[strchr(v, ' ') - v] = '\0';
		if (set_str(key, w->name, sizeof(w->name)) != 0 ||
		    set_str(sp + 1, w->url, sizeof(w->url)) != 0) {
			snprintf(err, errlen, "witness %s: value too long",
				 key);
			return -1;
		}
		c->n_witnesses++;
	} else if (strcmp(sec, "store") == 0) {
		if (strcmp(key, "backend") == 0) {
			if (strcmp(v, "sqlite") == 0)
				c->store_backend = STORE_SQLITE;
			else if (strcmp(v, "postgres") == 0)
				c->store_backend = STORE_POSTGRES;
			else {
				snprintf(err, errlen,
					 "[store] backend is sqlite or "
					 "postgres, not '%s'",
					 v);
				return -1;
			}
		} else if (strcmp(key, "dsn") == 0)
			bad = set_str(v, c->store_dsn, sizeof(c->store_dsn));
		else if (strcmp(key, "job_lease_ms") == 0)
			bad = set_u32(v, 500, 3600000, &c->job_lease_ms) != 0;
		else
			goto unknown;
	} else if (strcmp(sec, "stats") == 0) {
		if (strcmp(key, "k") == 0) {
			if (set_u32(v, NODE_STATS_K_MIN, NODE_STATS_K_MAX,
				    &c->stats_k) != 0) {
				snprintf(err, errlen,
					 "[stats] k is a whole number of "
					 "clients from %u to %u, not '%s'",
					 NODE_STATS_K_MIN, NODE_STATS_K_MAX, v);
				return -1;
			}
		} else if (strcmp(key, "epsilon") == 0) {
			if (set_double(v, NODE_STATS_EPSILON_MIN,
				       NODE_STATS_EPSILON_MAX,
				       &c->stats_epsilon) != 0) {
				snprintf(err, errlen,
					 "[stats] epsilon is a decimal from "
					 "%g to %g, not '%s'",
					 NODE_STATS_EPSILON_MIN,
					 NODE_STATS_EPSILON_MAX, v);
				return -1;
			}
		} else {
			goto unknown;
		}
	} else if (strcmp(sec, "retention") == 0) {
		uint32_t *dst, d;

		if (strcmp(key, "sample_days") == 0)
			dst = &c->sample_days;
		else if (strcmp(key, "metadata_days") == 0)
			dst = &c->metadata_days;
		else
			goto unknown;
		if (set_u32(v, 0, NODE_RETENTION_DAYS_MAX, &d) != 0) {
			snprintf(err, errlen,
				 "%s must be a number of days in "
				 "0..%u (0: the default)",
				 key, NODE_RETENTION_DAYS_MAX);
			return -1;
		}
		if (d == 0)
			d = dst == &c->sample_days ? NODE_SAMPLE_DAYS_DEFAULT
						   : NODE_METADATA_DAYS_DEFAULT;
		*dst = d;
	} else if (strcmp(sec, "sandbox") == 0) {
		if (strcmp(key, "allow_without_landlock") != 0)
			goto unknown;
		if (strcmp(v, "true") == 0)
			c->allow_without_landlock = true;
		else if (strcmp(v, "false") == 0)
			c->allow_without_landlock = false;
		else
			bad = 1;
	} else if (strcmp(sec, "regions") == 0) {
		struct region_endpoint *r;

		if (!region_name_ok(key)) {
			snprintf(err, errlen, "bad region name '%s'", key);
			return -1;
		}
		if (c->n_regions == NODE_MAX_REGIONS) {
			snprintf(err, errlen, "more than %d regions",
				 NODE_MAX_REGIONS);
			return -1;
		}
		if (strncmp(v, "http://", 7) != 0 &&
		    strncmp(v, "https://", 8) != 0) {
			snprintf(err, errlen,
				 "region %s: endpoint must be an "
				 "http:// or https:// URL",
				 key);
			return -1;
		}
		r = &c->regions[c->n_regions];
		if (set_str(key, r->name, sizeof(r->name)) != 0 ||
		    set_str(v, r->url, sizeof(r->url)) != 0) {
			snprintf(err, errlen, "region %s: value too long", key);
			return -1;
		}
		c->n_regions++;
	} else {
		snprintf(err, errlen, "unknown section [%s]", sec);
		return -1;
	}
	if (bad) {
		snprintf(err, errlen, "bad value for %s", key);
		return -1;
	}
	return 0;
unknown:
	snprintf(err, errlen, "unknown key '%s' in [%s]", key, sec);
	return -1;
}

int
config_load(struct node_config *c, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VG_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONFIG_MAX_FILE) {
		snprintf(err, errlen, "%s: not a regular file of at most 1 MiB",
			 path);
		close(fd);
		return VG_EIO;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return VG_ENOMEM;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		snprintf(err, errlen, "%s: short read", path);
		free(buf);
		return VG_EIO;
	}
	rc = config_parse_buffer(c, buf, (size_t)n, path, err, errlen);
	free(buf);
	return rc;
}

int
config_parse_buffer(struct node_config *c, const char *buf, size_t len,
		    const char *name, char *err, size_t errlen)
{
	return ini_parse(buf, len, name, on_key, c, err, errlen);
}

int
config_check(const struct node_config *c, char *err, size_t errlen)
{
	if (c->rate_burst < c->rate_per_sec) {
		snprintf(err, errlen,
			 "rate_burst must be at least rate_per_sec");
		return VG_EINVAL;
	}
	if (!region_name_ok(c->region) || !region_name_ok(c->site)) {
		snprintf(err, errlen, "region and site are [a-z0-9-]{1,32}");
		return VG_EINVAL;
	}
	if (c->store_backend == STORE_POSTGRES && c->store_dsn[0] == '\0') {
		snprintf(err, errlen,
			 "[store] backend = postgres needs dsn, the "
			 "cluster's libpq DSN");
		return VG_EINVAL;
	}
	if (c->store_backend == STORE_SQLITE && c->store_dsn[0] != '\0') {
		snprintf(err, errlen,
			 "[store] dsn is for backend = postgres; the sqlite "
			 "store lives in the data directory");
		return VG_EINVAL;
	}
	return 0;
}

const char *
config_log_origin(const struct node_config *c, const uint8_t log_pub[32],
		  char *buf, size_t len)
{
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[17];

	if (c->log_origin[0] != '\0')
		return c->log_origin;
	if (!EVP_Digest(log_pub, 32, h, &n, EVP_sha256(), NULL) || n != 32)
		fatal("SHA-256 failed");
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	snprintf(buf, len, "vigil.local/%s/%s", c->region, hex);
	return buf;
}

const char *
config_region_url(const struct node_config *c, const char *region)
{
	for (size_t i = 0; i < c->n_regions; i++)
		if (strcmp(c->regions[i].name, region) == 0)
			return c->regions[i].url;
	return NULL;
}
