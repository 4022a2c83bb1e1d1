/*
 * keyholder.c - the key holder process: it loads the node's keys,
 * confines itself and answers keyproto.h's requests; see keyholder.h.
 * (keyclient.c is vigild's side.)
 *
 * Everything here runs in the forked child. It owns the keys: the log
 * key and, during a handover, the old one (note signers in guarded
 * memory), the online release key (64 bytes in guarded memory) and the
 * sample key (a struct samples_key). It parses two kinds of input only:
 * its own key files, before it confines itself, and vigild's messages,
 * whose every size is checked against keyproto.h's table before use.
 */
#include "node/keyholder.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <seccomp.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "node/keyproto.h"
#include "release/tuf.h"
#include "tlog/entry.h"
#include "tlog/handover.h"
#include "tlog/keyfile.h"

#define HOLDER_FD 3
#define PATH_LEN  1200

struct held {
	struct note_signer *log, *log_old;
	uint8_t *release_sk; /* sodium_malloc'd, 64 bytes, read-only */
	struct samples_key *sample;
	struct kh_info info;
};

/* Ends the holder. The raw system call, not _exit(): a sanitizer's
 * _exit() would first look for leaks with system calls the filter
 * kills. */
static _Noreturn void
holder_exit(int status)
{
	syscall(SYS_exit_group, status);
	_exit(status); /* not reached */
}

/* ---- loading ---- */

static int
load_log_keys(struct held *h, const struct node_config *cfg, const char *origin,
	      const char *recorded_key, char *err, size_t errlen)
{
	char path[PATH_LEN], old[PATH_LEN], buf[NOTE_NAME_MAX + 1];
	struct note_signer *tmp = NULL;
	struct note_verifier v;
	bool created;
	int rc;

	snprintf(path, sizeof(path), "%s/log.key", cfg->data_dir);
	snprintf(old, sizeof(old), "%s/log.key.old", cfg->data_dir);
	rc = note_signer_file(old, NULL, NOTE_ED25519, &h->log_old, &created,
			      err, errlen);
	if (rc != 0 && rc != VG_ENOENT)
		return rc;
	rc = note_signer_file(path, NULL, NOTE_ED25519, &h->log, &created, err,
			      errlen);
	if (rc == VG_ENOENT) {
		if (recorded_key != NULL && h->log_old == NULL)
			return vg_fail(
				err, errlen, VG_EINVAL,
				"%s is missing, and the log is signed with %s: "
				"restore that key, or, to hand the log over to "
				"a new key, put the old key at %s and start "
				"again (both keys sign the handover; one alone "
				"is refused)",
				path, recorded_key, old);
		if (recorded_key != NULL) {
			char ov[NOTE_KEY_MAX];

			note_signer_verifier(h->log_old, &v);
			note_verifier_format(&v, ov);
			if (strcmp(ov, recorded_key) != 0)
				return vg_fail(
					err, errlen, VG_EINVAL,
					"%s (%s) is not the key the log is "
					"signed with (%s): put that key there "
					"to hand the log over",
					old, ov, recorded_key);
		}
		/* A new key: generated first, named after its public key
		 * (the default origin has its ID), then written. */
		if ((rc = note_signer_generate("vigil.local", NOTE_ED25519,
					       &tmp, err, errlen)) != 0)
			return rc;
		note_signer_verifier(tmp, &v);
		if (origin[0] == '\0')
			origin =
				config_log_origin(cfg, v.pub, buf, sizeof(buf));
		rc = note_signer_rename(tmp, origin, &h->log, err, errlen);
		note_signer_free(tmp);
		if (rc == 0)
			rc = note_signer_file_write(path, h->log, err, errlen);
		if (rc != 0)
			return rc;
		log_event(LOG_INFO, "log_key_created", "path=%s", path);
	} else if (rc != 0) {
		return rc;
	}
	note_signer_verifier(h->log, &v);
	if (origin[0] == '\0')
		origin = config_log_origin(cfg, v.pub, buf, sizeof(buf));
	snprintf(h->info.origin, sizeof(h->info.origin), "%s", origin);
	note_verifier_format(&v, h->info.log_key);
	if (h->log_old != NULL) {
		note_signer_verifier(h->log_old, &v);
		note_verifier_format(&v, h->info.log_old_key);
	}
	return 0;
}

static int
load_release_key(struct held *h, const struct node_config *cfg, char *err,
		 size_t errlen)
{
	char base[PATH_LEN], path[PATH_LEN + 8];
	uint8_t pub[32];
	int rc;

	snprintf(base, sizeof(base), "%s/release-online", cfg->data_dir);
	snprintf(path, sizeof(path), "%s.key", base);
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		if ((rc = tuf_keyfile_create(base, pub, err, errlen)) != 0)
			return rc;
		log_event(LOG_INFO, "release_online_key_created", "path=%s",
			  path);
	}
	if ((h->release_sk = sodium_malloc(64)) == NULL)
		return vg_fail(err, errlen, VG_ENOMEM, "cannot allocate a key");
	if ((rc = tuf_keyfile_load(path, h->release_sk, err, errlen)) != 0)
		return rc;
	sodium_mprotect_readonly(h->release_sk);
	/* libsodium's secret key is the seed and then the public key. */
	memcpy(h->info.release_pub, h->release_sk + 32, 32);
	return 0;
}

static int
sample_key_id(const uint8_t *key, size_t len, void *ud)
{
	return tlog_entry_sample_key_id(key, len, ud);
}

static int
load_sample_key(struct held *h, const struct node_config *cfg, char *err,
		size_t errlen)
{
	char dir[PATH_LEN], path[PATH_LEN];
	int rc;

	snprintf(dir, sizeof(dir), "%s/samples", cfg->data_dir);
	snprintf(path, sizeof(path), "%s/sample.key", cfg->data_dir);
	if ((rc = samples_key_open(dir, path, &h->sample, err, errlen)) != 0)
		return rc;
	if (samples_key_use(h->sample, sample_key_id, h->info.sample_key_id) !=
	    0)
		return vg_fail(err, errlen, VG_ELIB,
			       "cannot compute the sample key's ID");
	return 0;
}

/* ---- confinement ---- */

/* Only the socket (as HOLDER_FD) and stderr stay open; stdin and stdout
 * become /dev/null. */
static int
close_fds(int sock)
{
	int null;

	if (sock != HOLDER_FD && dup2(sock, HOLDER_FD) != HOLDER_FD)
		return -1;
	if (syscall(SYS_close_range, HOLDER_FD + 1, ~0U, 0) != 0)
		return -1;
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return -1;
	if (dup2(null, 0) != 0 || dup2(null, 1) != 1)
		return -1;
	if (null > 2)
		close(null);
	return 0;
}

/*
 * The allowlist once the keys are loaded: messages on the socket,
 * memory (libsodium's guarded pages: mmap, mprotect, mlock, madvise),
 * getrandom for a record's header, read and write (log lines on stderr),
 * futex, clocks and signals to itself (libc and abort()), and exit. No open, no socket, no exec, no executable memory. Anything
 * else kills the holder, and vigild with it (keyholder_watch).
 */
static int
confine(void)
{
	static const int allow[] = {
		SCMP_SYS(read),
		SCMP_SYS(write),
		SCMP_SYS(exit),
		SCMP_SYS(exit_group),
		SCMP_SYS(brk),
		SCMP_SYS(munmap),
		SCMP_SYS(madvise),
		SCMP_SYS(mlock),
		SCMP_SYS(munlock),
		SCMP_SYS(mremap),
		SCMP_SYS(getrandom),
		SCMP_SYS(rt_sigreturn),
		SCMP_SYS(futex),
		SCMP_SYS(clock_gettime),
		SCMP_SYS(gettimeofday),
		SCMP_SYS(getpid),
		SCMP_SYS(rt_sigprocmask),
		/* The sanitizers' signal handling, in their builds. */
		SCMP_SYS(sigaltstack),
	};
	scmp_filter_ctx ctx;
	int r = 0;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return -1;
	r |= seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			      SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; i < sizeof(allow) / sizeof(allow[0]); i++)
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allow[i], 0);
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
			      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
			      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvfrom), 1,
			      SCMP_A0(SCMP_CMP_EQ, HOLDER_FD, 0));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1,
			      SCMP_A0(SCMP_CMP_EQ, HOLDER_FD, 0));
	/* abort(): signals to this process only. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
			      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0));
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r == 0 ? 0 : -1;
}

/* ---- serving ---- */

static bool
is_handover(const uint8_t *msg, size_t len)
{
	static const char head[] = TLOG_HANDOVER_HEADER "\n";

	return len > sizeof(head) - 1 &&
	       memcmp(msg, head, sizeof(head) - 1) == 0;
}

/* Answers one request; returns -1 for a malformed one (after the error
 * reply), so that the caller drops the connection. */
static int
serve_one(struct held *h, int fd, const struct kh_hdr *q, const uint8_t *body,
	  size_t len)
{
	crypto_secretstream_xchacha20poly1305_state st;
	static uint8_t out[KH_SEAL_BATCH * (KH_SS_HEADER + KH_SS_STATE)];
	int rc = 0;

	if (q->code != 0)
		goto malformed;
	switch (q->type) {
	case KH_LOG_SIGN:
	case KH_LOG_SIGN_OLD:
	case KH_RELEASE_SIGN:
		if (len < 1 || len > KH_SIGN_MAX)
			goto malformed;
		if (q->type == KH_RELEASE_SIGN) {
			crypto_sign_detached(out, NULL, body, len,
					     h->release_sk);
		} else if (q->type == KH_LOG_SIGN) {
			rc = note_sign_bytes(h->log, body, len, out, NULL, 0);
		} else if (h->log_old == NULL || !is_handover(body, len)) {
			rc = VG_EINVAL;
		} else {
			rc = note_sign_bytes(h->log_old, body, len, out, NULL,
					     0);
			/* One handover, then the old key is gone. */
			note_signer_free(h->log_old);
			h->log_old = NULL;
			log_event(LOG_INFO, "log_old_key_forgotten", "%s", "");
		}
		if (rc != 0)
			return kh_send(fd, q->type | KH_REPLY, rc, NULL, 0);
		return kh_send(fd, q->type | KH_REPLY, 0, out, KH_SIG_LEN);
	case KH_SEAL_INIT: {
		size_t n, one = KH_SS_HEADER + KH_SS_STATE;

		if (len != 1 || body[0] < 1 || body[0] > KH_SEAL_BATCH)
			goto malformed;
		n = body[0];
		for (size_t i = 0; rc == 0 && i < n; i++) {
			rc = samples_key_seal_init(h->sample, &st,
						   out + i * one);
			memcpy(out + i * one + KH_SS_HEADER, &st, KH_SS_STATE);
		}
		rc = rc ? kh_send(fd, q->type | KH_REPLY, rc, NULL, 0)
			: kh_send(fd, q->type | KH_REPLY, 0, out, n * one);
		break;
	}
	case KH_OPEN_INIT:
		if (len != KH_SS_HEADER)
			goto malformed;
		rc = samples_key_open_init(h->sample, &st, body);
		memcpy(out, &st, KH_SS_STATE);
		rc = rc ? kh_send(fd, q->type | KH_REPLY, rc, NULL, 0)
			: kh_send(fd, q->type | KH_REPLY, 0, out, KH_SS_STATE);
		break;
	default: goto malformed;
	}
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(out, sizeof(out));
	return rc;
malformed:
	log_event(LOG_ERROR, "keyholder_bad_request", "type=%u code=%d len=%zu",
		  (unsigned)q->type, (int)q->code, len);
	(void)kh_send(fd, KH_ERROR, VG_EFORMAT, NULL, 0);
	return -1;
}

_Noreturn void
keyholder_run(int sock, pid_t parent, const struct node_config *cfg,
	      const char *origin, const char *recorded_key)
{
	static uint8_t buf[KH_MSG_MAX + 1];
	struct held h;
	char err[KH_ERR_MAX];
	struct kh_hdr q;
	size_t len;
	int rc;

	memset(&h, 0, sizeof(h));
	if (close_fds(sock) != 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
	    getppid() != parent || prctl(PR_SET_DUMPABLE, 0) != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		holder_exit(1);
	sock = HOLDER_FD;
	/* A ^C or a service manager's SIGTERM reaches the whole group:
	 * vigild drains, and appends what is queued, with our signatures;
	 * we stop when its end of the socket closes. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	err[0] = '\0';
	if ((rc = load_log_keys(&h, cfg, origin, recorded_key, err,
				sizeof(err))) != 0 ||
	    (rc = load_release_key(&h, cfg, err, sizeof(err))) != 0 ||
	    (rc = load_sample_key(&h, cfg, err, sizeof(err))) != 0) {
		(void)kh_send(sock, KH_HELLO | KH_REPLY, rc, err,
			      strnlen(err, sizeof(err) - 1) + 1);
		holder_exit(1);
	}
	if (confine() != 0) {
		snprintf(err, sizeof(err), "key holder: seccomp failed");
		(void)kh_send(sock, KH_HELLO | KH_REPLY, VG_ELIB, err,
			      strlen(err) + 1);
		holder_exit(1);
	}
	if (kh_send(sock, KH_HELLO | KH_REPLY, 0, &h.info, sizeof(h.info)))
		holder_exit(1);
	for (;;) {
		rc = kh_recv(sock, buf, sizeof(buf), &q, &len);
		if (rc == VG_ENOENT)
			holder_exit(0); /* vigild closed its end */
		if (rc == VG_EFORMAT) {
			log_event(LOG_ERROR, "keyholder_bad_request", "%s",
				  "size=wrong");
			(void)kh_send(sock, KH_ERROR, VG_EFORMAT, NULL, 0);
			holder_exit(1);
		}
		if (rc != 0)
			holder_exit(1);
		rc = serve_one(&h, sock, &q, buf + sizeof(q), len);
		sodium_memzero(buf, sizeof(q) + len);
		if (rc < 0)
			holder_exit(1);
	}
}
