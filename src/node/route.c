/*
 * route.c - the node's routes by path; see route.h.
 */
#include "node/route.h"

#include <string.h>

#include "node/holds.h"
#include "node/operators.h"
#include "node/retrohunt.h"

/* p is exactly s. */
static int
is(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* p is s followed by at least one more byte; *arg is where it begins. */
static int
under(const char *p, size_t n, const char *s, size_t *arg)
{
	size_t k = strlen(s);

	if (n <= k || memcmp(p, s, k) != 0)
		return 0;
	*arg = k;
	return 1;
}

/* p is s, or s then "/..." (*arg after s). */
static int
is_or_under(const char *p, size_t n, const char *s, size_t *arg)
{
	size_t k = strlen(s);

	if (n < k || memcmp(p, s, k) != 0 || (n > k && p[k] != '/'))
		return 0;
	*arg = k;
	return 1;
}

enum route
route_of(const char *p, size_t n, size_t *arg)
{
	*arg = n;
	if (is(p, n, "/v1/lookup"))
		return ROUTE_LOOKUP;
	if (is(p, n, "/v1/enroll"))
		return ROUTE_ENROLL;
	if (is(p, n, "/v1/submissions"))
		return ROUTE_SUBMIT;
	if (under(p, n, "/v1/submissions/", arg))
		return ROUTE_SUBMISSION;
	if (under(p, n, "/v1/files/", arg))
		return ROUTE_FILES;
	if (is(p, n, "/healthz"))
		return ROUTE_HEALTHZ;
	if (is(p, n, "/metrics"))
		return ROUTE_METRICS;
	if (under(p, n, "/log/", arg))
		return ROUTE_LOG;
	if (is(p, n, "/v1/admin/log"))
		return ROUTE_ADMIN_LOG;
	if (n >= 18 && memcmp(p, "/v1/admin/samples/", 18) == 0) {
		*arg = 18;
		return ROUTE_ADMIN_SAMPLE;
	}
	if (is(p, n, "/v1/fp"))
		return ROUTE_FP;
	if (is_or_under(p, n, "/v1/admin/fp", arg))
		return ROUTE_ADMIN_FP;
	if (is(p, n, "/v1/admin/releases"))
		return ROUTE_ADMIN_RELEASES;
	if (is_or_under(p, n, "/v1/releases", arg))
		return ROUTE_RELEASES;
	if (is(p, n, "/v1/log/proof") || is(p, n, "/v1/log/consistency"))
		return ROUTE_LOG_PROOF;
	if (is_or_under(p, n, "/portal", arg))
		return ROUTE_PORTAL;
	if (is_or_under(p, n, "/v1/admin/retrohunt", arg))
		return ROUTE_ADMIN_RETROHUNT;
	if (is_or_under(p, n, "/v1/admin/operators", arg))
		return ROUTE_ADMIN_OPERATORS;
	if (is_or_under(p, n, "/v1/admin/holds", arg))
		return ROUTE_ADMIN_HOLDS;
	if (is_or_under(p, n, "/v1/me", arg))
		return ROUTE_ME;
	if (is(p, n, "/v1/stats"))
		return ROUTE_STATS;
	*arg = n;
	return ROUTE_OTHER;
}

int
route_needs_token(enum route r)
{
	switch (r) {
	case ROUTE_FILES:
	case ROUTE_LOOKUP:
	case ROUTE_SUBMIT:
	case ROUTE_SUBMISSION:
	case ROUTE_ADMIN_LOG:
	case ROUTE_ADMIN_SAMPLE:
	case ROUTE_ADMIN_RELEASES:
	case ROUTE_FP:
	case ROUTE_ADMIN_FP:
	case ROUTE_ADMIN_RETROHUNT:
	case ROUTE_ADMIN_OPERATORS:
	case ROUTE_ADMIN_HOLDS:
	case ROUTE_ME: return 1;
	default: return 0;
	}
}

uint64_t
route_body_limit(const struct node_config *c, enum route r)
{
	uint64_t json = c->max_json_body;

	if (!route_needs_token(r))
		return json < ROUTE_OPEN_BODY_MAX ? json : ROUTE_OPEN_BODY_MAX;
	switch (r) {
	case ROUTE_SUBMIT: return c->max_sample_body;
	case ROUTE_ADMIN_RELEASES: return c->max_release_body;
	case ROUTE_ADMIN_RETROHUNT: return RETROHUNT_MAX_RULE;
	case ROUTE_ADMIN_OPERATORS: return OPERATORS_MAX_BODY;
	case ROUTE_ADMIN_HOLDS: return HOLDS_MAX_BODY;
	default: return json;
	}
}
