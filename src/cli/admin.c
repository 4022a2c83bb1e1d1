/*
 * admin.c - the parts the `vigil admin` commands share: the headers that
 * say why the operator reads what the node logs first (sample-get,
 * retrohunt). See admin.h.
 */
#include "cli/admin.h"

#include <stdlib.h>
#include <string.h>

#include "cli/http.h"
#include "common/err.h"
#include "common/xmalloc.h"

int
admin_why_headers(struct admin_why *w)
{
	size_t n = 0;

	memset(w->lines, 0, sizeof(w->lines));
	memset(w->headers, 0, sizeof(w->headers));
	/* The node judges the values; a control byte never leaves here. */
	if (!http_line_safe(w->reason) ||
	    (w->role != NULL && !http_line_safe(w->role)))
		return VG_EINVAL;
	w->lines[n++] = xasprintf("X-Vigil-Reason: %s", w->reason);
	if (w->role != NULL)
		w->lines[n++] = xasprintf("X-Vigil-Role: %s", w->role);
	for (size_t i = 0; i < n; i++)
		w->headers[i] = w->lines[i];
	return 0;
}

void
admin_why_clear(struct admin_why *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < sizeof(w->lines) / sizeof(w->lines[0]); i++) {
		free(w->lines[i]);
		w->lines[i] = NULL;
	}
	memset(w->headers, 0, sizeof(w->headers));
}
