/*
 * net.h - the listening side of vigil's servers (vigild, vigil witness).
 */
#ifndef VIGIL_COMMON_NET_H
#define VIGIL_COMMON_NET_H

#include <stddef.h>
#include <stdint.h>

/* Splits "HOST:PORT" or "[V6]:PORT" (port 0..65535, decimal digits
 * only) into host and *port. Returns 0, or VG_EINVAL. */
int net_parse_hostport(const char *addr, char *host, size_t hostlen,
		       uint16_t *port);

/*
 * Binds and listens on host:port (port 0: one the kernel chooses). Returns
 * the socket (SOCK_CLOEXEC, SO_REUSEADDR), with the address bound written
 * into bound ("1.2.3.4:80" or "[::1]:80"); or -1 with why in err.
 */
int net_listen(const char *host, uint16_t port, char *bound, size_t boundlen,
	       char *err, size_t errlen);

#endif
