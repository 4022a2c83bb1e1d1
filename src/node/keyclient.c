/*
 * keyclient.c - vigild's side of the key holder: starting it, and the
 * requests that sign and give sample records their state; see
 * keyholder.h and keyproto.h.
 *
 * Owns the socket, the mutex that makes each request and its reply one
 * exchange, the holder's public keys (struct kh_info, checked on
 * arrival), and the remote note signers built on them. It holds no
 * secret: a record's secretstream state passes through on its way to
 * samples.c and is wiped from the reply buffer here.
 */
#include "node/keyholder.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "node/keyproto.h"

/* One record's header and state, as KH_SEAL_INIT gives them. */
#define SEAL_ONE (KH_SS_HEADER + KH_SS_STATE)
/* A reply's largest body: the hello's, or a batch of seals. */
#define REPLY_MAX                                                              \
	(sizeof(struct kh_hdr) + (sizeof(struct kh_info) > KH_SEAL_BATCH *     \
						 SEAL_ONE                      \
					  ? sizeof(struct kh_info)             \
					  : KH_SEAL_BATCH * SEAL_ONE) +        \
	 1)

struct signer_ctx {
	struct keyholder *kh;
	uint32_t type;
};

struct keyholder {
	int fd;
	pid_t pid;
	pthread_mutex_t mu;
	pthread_t watcher;
	bool watching;
	struct kh_info info;
	struct note_verifier log_key, log_old_key;
	struct note_signer *log, *log_old;
	struct signer_ctx log_ctx, old_ctx;
	/* New records' states not used yet, taken from the last and
	 * refilled KH_SEAL_BATCH at a time (seal_init). */
	pthread_mutex_t seal_mu;
	uint8_t seals[KH_SEAL_BATCH][SEAL_ONE];
	unsigned n_seals;
};

/* The holder is gone: nothing can be signed or read any more. */
static _Noreturn void
holder_died(const struct keyholder *kh, const char *why)
{
	log_event(LOG_ERROR, "keyholder_died", "pid=%ld why=\"%s\" action=exit",
		  (long)kh->pid, why);
	log_flush();
	_exit(1);
}

/*
 * One request and its reply, under the mutex. Copies a reply body of
 * exactly want bytes to out. Returns 0 or the holder's refusal (a VG_E*
 * code); a holder that is gone, or a reply of the wrong type or size,
 * ends the process (holder_died).
 */
static int
exchange(struct keyholder *kh, uint32_t type, const void *body, size_t len,
	 void *out, size_t want)
{
	uint8_t buf[REPLY_MAX];
	struct kh_hdr h;
	size_t n;
	int rc;

	pthread_mutex_lock(&kh->mu);
	if ((rc = kh_send(kh->fd, type, 0, body, len)) == 0)
		rc = kh_recv(kh->fd, buf, sizeof(buf), &h, &n);
	pthread_mutex_unlock(&kh->mu);
	if (rc != 0)
		holder_died(kh, rc == VG_ENOENT ? "closed" : "socket error");
	if (h.type != (type | KH_REPLY))
		holder_died(kh, "reply of another type");
	if (h.code < 0) {
		rc = n == 0 ? h.code : VG_ECORRUPT;
	} else if (h.code != 0 || n != want) {
		holder_died(kh, "reply of the wrong size");
	} else {
		memcpy(out, buf + sizeof(h), want);
	}
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

static int
log_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64], char *err,
	 size_t errlen)
{
	struct signer_ctx *c = ctx;
	int rc;

	if (len < 1 || len > KH_SIGN_MAX)
		return vg_fail(err, errlen, VG_ELIMIT,
			       "the key holder signs 1..%d bytes", KH_SIGN_MAX);
	rc = exchange(c->kh, c->type, msg, len, sig, KH_SIG_LEN);
	if (rc != 0)
		vg_seterr(err, errlen, "the key holder refused to sign: %s",
			  vg_strerror(rc));
	return rc;
}

int
keyholder_release_sign(void *ctx, const uint8_t *msg, size_t len,
		       uint8_t sig[64])
{
	if (len < 1 || len > KH_SIGN_MAX)
		return VG_ELIMIT;
	return exchange(ctx, KH_RELEASE_SIGN, msg, len, sig, KH_SIG_LEN);
}

static int
seal_init(void *ctx, crypto_secretstream_xchacha20poly1305_state *st,
	  uint8_t header[SAMPLES_SS_HEADER])
{
	struct keyholder *kh = ctx;
	uint8_t n = KH_SEAL_BATCH;
	int rc = 0;

	pthread_mutex_lock(&kh->seal_mu);
	if (kh->n_seals == 0 &&
	    (rc = exchange(kh, KH_SEAL_INIT, &n, 1, kh->seals,
			   sizeof(kh->seals))) == 0)
		kh->n_seals = KH_SEAL_BATCH;
	if (rc == 0) {
		uint8_t *one = kh->seals[--kh->n_seals];

		memcpy(header, one, KH_SS_HEADER);
		memcpy(st, one + KH_SS_HEADER, KH_SS_STATE);
		sodium_memzero(one, SEAL_ONE);
	}
	pthread_mutex_unlock(&kh->seal_mu);
	return rc;
}

static int
open_init(void *ctx, crypto_secretstream_xchacha20poly1305_state *st,
	  const uint8_t header[SAMPLES_SS_HEADER])
{
	return exchange(ctx, KH_OPEN_INIT, header, KH_SS_HEADER, st,
			KH_SS_STATE);
}

/* Checks the hello's strings and keys; VG_ECORRUPT if they make no sense. */
static int
take_info(struct keyholder *kh, char *err, size_t errlen)
{
	struct kh_info *in = &kh->info;
	char why[160];

	if (memchr(in->origin, '\0', sizeof(in->origin)) == NULL ||
	    memchr(in->log_key, '\0', sizeof(in->log_key)) == NULL ||
	    memchr(in->log_old_key, '\0', sizeof(in->log_old_key)) == NULL ||
	    memchr(in->sample_key_id, '\0', sizeof(in->sample_key_id)) ==
		    NULL ||
	    note_verifier_parse(in->log_key, strlen(in->log_key), &kh->log_key,
				why, sizeof(why)) != 0 ||
	    (in->log_old_key[0] != '\0' &&
	     note_verifier_parse(in->log_old_key, strlen(in->log_old_key),
				 &kh->log_old_key, why, sizeof(why)) != 0))
		return vg_fail(err, errlen, VG_ECORRUPT,
			       "the key holder's keys make no sense");
	kh->log_ctx = (struct signer_ctx){kh, KH_LOG_SIGN};
	kh->old_ctx = (struct signer_ctx){kh, KH_LOG_SIGN_OLD};
	if (note_signer_remote(&kh->log_key, log_sign, &kh->log_ctx, &kh->log,
			       err, errlen) != 0 ||
	    (in->log_old_key[0] != '\0' &&
	     note_signer_remote(&kh->log_old_key, log_sign, &kh->old_ctx,
				&kh->log_old, err, errlen) != 0))
		return VG_ELIB;
	return 0;
}

int
keyholder_start(const struct node_config *cfg, const char *origin,
		const char *recorded_key, struct keyholder **out, char *err,
		size_t errlen)
{
	uint8_t buf[sizeof(struct kh_hdr) + KH_ERR_MAX +
		    sizeof(struct kh_info)];
	struct keyholder *kh;
	struct kh_hdr h;
	pid_t parent = getpid();
	int sv[2], rc;
	size_t n;

	*out = NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return vg_fail(err, errlen, VG_EIO, "socketpair: %s",
			       strerror(errno));
	fflush(NULL);
	kh = xcalloc(1, sizeof(*kh));
	kh->fd = sv[0];
	pthread_mutex_init(&kh->mu, NULL);
	pthread_mutex_init(&kh->seal_mu, NULL);
	if ((kh->pid = fork()) < 0) {
		rc = vg_fail(err, errlen, VG_EIO, "fork: %s", strerror(errno));
		close(sv[1]);
		goto fail;
	}
	if (kh->pid == 0) {
		close(sv[0]);
		keyholder_run(sv[1], parent, cfg, origin, recorded_key);
	}
	close(sv[1]);
	rc = kh_recv(kh->fd, buf, sizeof(buf), &h, &n);
	if (rc != 0 || h.type != (KH_HELLO | KH_REPLY)) {
		rc = vg_fail(err, errlen, VG_EIO,
			     "the key holder died while loading the keys");
		goto fail;
	}
	if (h.code != 0) {
		/* Its message, NUL-terminated within n bytes. */
		buf[sizeof(h) + (n ? n - 1 : 0)] = '\0';
		vg_seterr(err, errlen, "%s", (const char *)buf + sizeof(h));
		rc = h.code < 0 && h.code >= VG_ERR_MIN ? h.code : VG_EIO;
		goto fail;
	}
	if (n != sizeof(kh->info)) {
		rc = vg_fail(err, errlen, VG_ECORRUPT,
			     "the key holder's hello has the wrong size");
		goto fail;
	}
	memcpy(&kh->info, buf + sizeof(h), sizeof(kh->info));
	if ((rc = take_info(kh, err, errlen)) != 0)
		goto fail;
	log_event(LOG_INFO, "keyholder_started", "keyholder_pid=%ld",
		  (long)kh->pid);
	*out = kh;
	return 0;
fail:
	keyholder_stop(kh);
	return rc;
}

static void *
watch(void *arg)
{
	struct keyholder *kh = arg;
	struct pollfd p = {.fd = kh->fd, .events = 0};

	/* No events asked: poll() returns on a hang-up or error only. */
	for (;;) {
		if (poll(&p, 1, -1) < 0 && errno == EINTR)
			continue;
		if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
			holder_died(kh, "its socket closed");
	}
	return NULL;
}

void
keyholder_watch(struct keyholder *kh)
{
	sigset_t all, old;

	/* The thread takes no signal: the main thread handles them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&kh->watcher, NULL, watch, kh) != 0)
		fatal("cannot start the key holder's watcher");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_detach(kh->watcher);
	kh->watching = true;
}

pid_t
keyholder_pid(const struct keyholder *kh)
{
	return kh->pid;
}

int
keyholder_fd(const struct keyholder *kh)
{
	return kh->fd;
}

const char *
keyholder_origin(const struct keyholder *kh)
{
	return kh->info.origin;
}

const struct note_verifier *
keyholder_log_key(const struct keyholder *kh)
{
	return &kh->log_key;
}

const struct note_signer *
keyholder_log_signer(const struct keyholder *kh)
{
	return kh->log;
}

const struct note_verifier *
keyholder_log_old_key(const struct keyholder *kh)
{
	return kh->log_old != NULL ? &kh->log_old_key : NULL;
}

const struct note_signer *
keyholder_log_old_signer(const struct keyholder *kh)
{
	return kh->log_old;
}

const uint8_t *
keyholder_release_pub(const struct keyholder *kh)
{
	return kh->info.release_pub;
}

const char *
keyholder_sample_key_id(const struct keyholder *kh)
{
	return kh->info.sample_key_id;
}

void
keyholder_samples_keysrc(struct keyholder *kh, struct samples_keysrc *src)
{
	src->seal_init = seal_init;
	src->open_init = open_init;
	src->ctx = kh;
}

void
keyholder_stop(struct keyholder *kh)
{
	if (kh == NULL)
		return;
	/* The watcher would take the hang-up for a death: the process is
	 * on its way out then anyway, so a watched holder is left to exit
	 * with it (PR_SET_PDEATHSIG). */
	if (kh->watching)
		return;
	close(kh->fd);
	if (kh->pid > 0)
		while (waitpid(kh->pid, NULL, 0) < 0 && errno == EINTR)
			;
	note_signer_free(kh->log);
	note_signer_free(kh->log_old);
	pthread_mutex_destroy(&kh->mu);
	pthread_mutex_destroy(&kh->seal_mu);
	sodium_memzero(kh->seals, sizeof(kh->seals));
	free(kh);
}
