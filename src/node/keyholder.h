/*
 * keyholder.h - the node's key holder: a process of its own that holds
 * every secret key of the node and parses nothing a client sends, as
 * OpenSSH's monitor holds the host keys (docs/ARCHITECTURE.md, "Processes
 * and who holds what").
 *
 * vigild forks it first thing, before it opens a store or reads a
 * request. It loads, or creates on a fresh data directory, in the formats
 * and modes the files always had:
 *   <data>/log.key             the log's signed-note Ed25519 signer key
 *   <data>/log.key.old         the log's previous key, during a handover
 *                              (docs/LOG.md, "Key handover"); optional
 *   <data>/release-online.key  the online release key (tuf_keyfile_*)
 *   <data>/sample.key          the sample key (store/samples.h)
 * then closes every descriptor but its socket and stderr, becomes
 * undumpable (PR_SET_DUMPABLE 0, no_new_privs), confines itself with a
 * seccomp allowlist (messages on its socket, read and write, memory,
 * randomness, clocks, exit) and answers the requests of keyproto.h until vigild's
 * end of the socket closes; it dies with vigild (PR_SET_PDEATHSIG).
 *
 * vigild holds only the client side below: public keys, and functions
 * that ask the holder to sign or to give a sample record its
 * secretstream state. Requests from any number of threads are serialised
 * on the one socket (a mutex around each request and its reply). If the
 * holder dies, the client logs keyholder_died and the node exits with
 * status 1: it cannot sign or read a sample without it.
 */
#ifndef VIGIL_NODE_KEYHOLDER_H
#define VIGIL_NODE_KEYHOLDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "node/config.h"
#include "store/samples.h"
#include "tlog/note.h"

struct keyholder;

/*
 * Forks the key holder for cfg's data directory and waits until it has
 * loaded its keys. origin is the log's origin when the node already knows
 * it (configured, or recorded by an existing log), or "" for a new log:
 * the holder then takes cfg's default for its log key
 * (config_log_origin()) and names a new log.key after it. recorded_key
 * is the log's verifier key as log.settings records it, or NULL: a
 * missing log.key is then created only if log.key.old is there (a
 * handover), never silently in place of the recorded one. Returns 0 and
 * a client in *out for keyholder_stop(), or a VG_E* code with the
 * holder's message in err (a key file that does not load, for one).
 * Call it while the process has one thread.
 */
int keyholder_start(const struct node_config *cfg, const char *origin,
		    const char *recorded_key, struct keyholder **out, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

/* Starts a thread that logs keyholder_died and exits the process with
 * status 1 as soon as the holder's end of the socket closes. */
void keyholder_watch(struct keyholder *kh);

/* The holder's process ID, and its socket (for tests that speak
 * keyproto.h themselves). */
pid_t keyholder_pid(const struct keyholder *kh);
int keyholder_fd(const struct keyholder *kh);

/* The log's origin, as the holder settled it. */
const char *keyholder_origin(const struct keyholder *kh);

/* The log key (log.key), and a signer that signs with it through the
 * holder (owned by kh; any thread). */
const struct note_verifier *keyholder_log_key(const struct keyholder *kh);
const struct note_signer *keyholder_log_signer(const struct keyholder *kh);

/* The previous log key (log.key.old) and its signer, or NULL if there is
 * none. The holder signs one handover text (docs/LOG.md) with it and
 * nothing else, then forgets it. */
const struct note_verifier *keyholder_log_old_key(const struct keyholder *kh);
const struct note_signer *keyholder_log_old_signer(const struct keyholder *kh);

/* The online release key's Ed25519 public key. */
const uint8_t *keyholder_release_pub(const struct keyholder *kh);

/* Signs msg[0..len) (at most 16 KiB) with the online release key into
 * sig; ctx is the struct keyholder (a tuf_sign_fn). Returns 0, VG_ELIMIT
 * or the holder's refusal. */
int keyholder_release_sign(void *ctx, const uint8_t *msg, size_t len,
			   uint8_t sig[64]) __attribute__((warn_unused_result));

/* The sample key's ID (tlog_entry_sample_key_id()). */
const char *keyholder_sample_key_id(const struct keyholder *kh);

/* Sets *src to the sample key source that asks the holder for each
 * record's secretstream state (kh must outlive every store using it). */
void keyholder_samples_keysrc(struct keyholder *kh, struct samples_keysrc *src);

/* The holder process's body (keyholder.c), run by keyholder_start() in
 * the child on its end of the socket; never returns. */
_Noreturn void keyholder_run(int sock, pid_t parent,
			     const struct node_config *cfg, const char *origin,
			     const char *recorded_key);

/* Closes the socket (the holder exits), reaps the holder and frees kh;
 * accepts NULL. A watched holder (keyholder_watch()) is left as it is, to
 * exit with this process: closing its socket would read as its death. */
void keyholder_stop(struct keyholder *kh);

#endif
