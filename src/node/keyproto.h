/*
 * keyproto.h - the messages between vigild and its key holder
 * (keyholder.h): their types, their sizes, and the one pair of functions
 * that sends and receives them.
 *
 * The two ends are one program forked on one machine, on one
 * SOCK_SEQPACKET socketpair, so a message is one packet and integers are
 * in the host's order. Every message is an 8-byte header, a type and a
 * code, and a body whose size the type fixes or bounds:
 *
 *   type            request body             reply body
 *   KH_HELLO        (none: the holder sends it first, once its keys are
 *                    loaded)                 struct kh_info, or on failure
 *                                            code < 0 and a message
 *                                            (1..KH_ERR_MAX bytes)
 *   KH_LOG_SIGN     message, 1..KH_SIGN_MAX  Ed25519 signature, 64
 *   KH_LOG_SIGN_OLD handover text,           Ed25519 signature, 64; once:
 *                   1..KH_SIGN_MAX           the old key is then wiped
 *   KH_RELEASE_SIGN message, 1..KH_SIGN_MAX  Ed25519 signature, 64
 *   KH_SEAL_INIT    n, 1 byte:               n times a new record's header
 *                   1..KH_SEAL_BATCH         (24) and state (52)
 *   KH_OPEN_INIT    header, 24               state, 52
 *
 * A request's code is 0. A reply has the request's type with KH_REPLY
 * set, and code 0 with the body above, or a VG_E* code and no body when
 * the holder refuses (no old key, a text that is no handover). A request
 * of an unknown type, of a size its type does not allow, or with a code
 * other than 0, is answered with KH_ERROR and VG_EFORMAT, and the holder
 * then drops the connection (exits): a parent that sends a malformed
 * message is not the parent it trusts.
 */
#ifndef VIGIL_NODE_KEYPROTO_H
#define VIGIL_NODE_KEYPROTO_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "tlog/entry.h"
#include "tlog/note.h"

enum kh_type {
	KH_HELLO = 1,
	KH_LOG_SIGN = 2,
	KH_LOG_SIGN_OLD = 3,
	KH_RELEASE_SIGN = 4,
	KH_SEAL_INIT = 5,
	KH_OPEN_INIT = 6,
	KH_REPLY = 0x100, /* or'ed into a reply's type */
	KH_ERROR = 0x1ff, /* the reply to a malformed request */
};

/* The largest message the holder signs: checkpoints, handovers and the
 * snapshot and timestamp manifests are all far below it. */
#define KH_SIGN_MAX (16 * 1024)
/* Record states one KH_SEAL_INIT derives: the committer seals a batch of
 * samples without a round trip each. */
#define KH_SEAL_BATCH 64
/* The longest error message of a failed KH_HELLO. */
#define KH_ERR_MAX   1024
#define KH_SIG_LEN   64
#define KH_SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define KH_SS_STATE  sizeof(crypto_secretstream_xchacha20poly1305_state)

struct kh_hdr {
	uint32_t type;
	int32_t code;
};

/* What the holder holds, in public: each string NUL-terminated. */
struct kh_info {
	char origin[NOTE_NAME_MAX + 1]; /* the log's origin */
	char log_key[NOTE_KEY_MAX];     /* log.key's verifier key */
	char log_old_key[NOTE_KEY_MAX]; /* log.key.old's, or "" */
	uint8_t release_pub[32];        /* the online release key */
	char sample_key_id[TLOG_ENTRY_KEY_ID_LEN];
};

#define KH_MSG_MAX (sizeof(struct kh_hdr) + KH_SIGN_MAX)

_Static_assert(sizeof(struct kh_hdr) == 8, "no padding in the header");
_Static_assert(KH_SS_HEADER == 24 && KH_SS_STATE == 52,
	       "libsodium's secretstream sizes");
_Static_assert(sizeof(struct kh_info) <= KH_SIGN_MAX, "info fits");
_Static_assert(KH_SEAL_BATCH * (KH_SS_HEADER + KH_SS_STATE) <= KH_SIGN_MAX,
	       "a batch of seals fits");

/* Sends one message of type and code with body[0..len) on fd. Returns 0,
 * or VG_EIO (the peer is gone, or len above KH_SIGN_MAX). */
int kh_send(int fd, uint32_t type, int32_t code, const void *body, size_t len);

/*
 * Receives one message from fd into buf (cap bytes, at least KH_MSG_MAX
 * + 1), its header into *h and its body's length into *len (the body is
 * at buf + sizeof(struct kh_hdr)). Returns 0, VG_ENOENT if the peer
 * closed its end, VG_EIO on a failed read, or VG_EFORMAT for a packet
 * shorter than a header or longer than KH_MSG_MAX.
 */
int kh_recv(int fd, uint8_t *buf, size_t cap, struct kh_hdr *h, size_t *len);

#endif
