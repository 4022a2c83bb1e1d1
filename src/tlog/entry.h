/*
 * entry.h - the entries of vigil's transparency log: a versioned,
 * canonical text encoding of what the log records. docs/LOG.md, section
 * "Entries", is the specification; this is its implementation.
 *
 *   vigil.log.entry/v1\n
 *   type <type>\n
 *   time <YYYY-MM-DDTHH:MM:SSZ>\n
 *   <field> <value>\n        every field of the type, once, in its order
 *   \n
 *   <body>                   free text: none, optional or required by type
 *
 * Types, their fields in order, and their body:
 *   rule-release        version, sha256, rules                 optional
 *   software-release    name, version, sha256 (1 to 64 hashes) optional
 *   sample-access       sample, who, role, reason              none
 *   retraction          sample, action, detections, reason     none
 *   node                region, site, log-key, sample-key,
 *                       version                                optional
 *   retrohunt           rule, who, role, reason                none
 *   operator-add        name, by                               none
 *   operator-revoke     name, by                               none
 *   erasure             reason, consent, submissions,
 *                       samples-unlinked, samples-erased       none
 *   stats               region, day, sha256                    none
 *   retention           sample-days, metadata-days,
 *                       samples-erased, submissions,
 *                       samples-unlinked                       none
 *   hold                sample, case, reason, who              none
 *   release-hold        sample, case, who                      none
 *   key-change, witness-set-change, location-change, statement:
 *                       no fields                              required
 *
 * Canonical: every entry has exactly one encoding, so whoever agrees on
 * the entry agrees on the bytes hashed into the log. Lines end in LF
 * alone; every field of the type is present (v1 has no optional field),
 * once, in the order above; a value has no leading or trailing space,
 * hashes are lowercase hex, numbers have no leading zero, the time is UTC
 * to the second. A body is UTF-8 without NUL or any control character
 * but LF and TAB, kept byte for byte; a required body holds at least one
 * character that is not white space.
 *
 * Errors. tlog_entry_parse() accepts exactly those bytes and refuses
 * everything else: VG_EFORMAT with a message naming the line and field,
 * VG_ELIMIT for an entry above TLOG_ENTRY_MAX bytes, a value above its
 * field's maximum or more than TLOG_ENTRY_HASHES_MAX hashes. The builders
 * (tlog_entry_encode, tlog_entry_to_json, tlog_entry_admin) are given
 * values by their caller, so they refuse an invalid one as VG_EINVAL
 * (VG_ELIMIT for sizes; tlog_entry_admin takes a file's text and refuses
 * it as VG_EFORMAT). For every x that parses, encode(parse(x)) == x; for
 * every e that encodes, parse(encode(e)) == e.
 *
 * Memory. The string and hash members of struct tlog_entry are borrowed
 * pointers: a caller fills them with its own data, and an entry made by
 * tlog_entry_parse() or tlog_entry_admin() points into its own block
 * (member mem), which tlog_entry_clear() frees. Threads: no global state.
 */
#ifndef VIGIL_TLOG_ENTRY_H
#define VIGIL_TLOG_ENTRY_H

#include <stddef.h>
#include <stdint.h>

/* Largest entry: its length is a uint16 in a C2SP entry bundle. */
#define TLOG_ENTRY_MAX 65535
/* The first line of every entry, without its newline. */
#define TLOG_ENTRY_MAGIC    "vigil.log.entry/v1"
#define TLOG_ENTRY_HASH_LEN 32
/* Most hashes in a software-release's sha256 field. */
#define TLOG_ENTRY_HASHES_MAX 64
/* Latest time: 9999-12-31T23:59:59Z; the earliest is 0 (1970). */
#define TLOG_ENTRY_TIME_MAX INT64_C(253402300799)
/* "YYYY-MM-DDTHH:MM:SSZ" and a terminator. */
#define TLOG_ENTRY_TIME_LEN 21
/* Largest rule count: 2^53 - 1, which every JSON reader holds exactly. */
#define TLOG_ENTRY_COUNT_MAX UINT64_C(9007199254740991)
/* A sample key's ID: 16 lowercase hex digits and a terminator. */
#define TLOG_ENTRY_KEY_ID_LEN 17
/* Most detection names in a retraction, and the longest name (as a hash
 * signature's name may be). */
#define TLOG_ENTRY_DETECTIONS_MAX     64
#define TLOG_ENTRY_DETECTION_NAME_MAX 256
/* The two actions of a retraction entry. */
#define TLOG_RETRACTION_RETRACT   "retract"
#define TLOG_RETRACTION_REINSTATE "reinstate"

/* Value 0 is no type, so that a zeroed entry is refused. */
enum tlog_entry_type {
	TLOG_ENTRY_RULE_RELEASE = 1,
	TLOG_ENTRY_SOFTWARE_RELEASE,
	TLOG_ENTRY_SAMPLE_ACCESS,
	TLOG_ENTRY_KEY_CHANGE,
	TLOG_ENTRY_WITNESS_SET_CHANGE,
	TLOG_ENTRY_LOCATION_CHANGE,
	TLOG_ENTRY_STATEMENT,
	TLOG_ENTRY_NODE,
	/* Explicit: values are the types' identity in code, and are never
	 * reused or renumbered. */
	TLOG_ENTRY_RETRACTION = 9,
	TLOG_ENTRY_RETROHUNT = 10,
	TLOG_ENTRY_OPERATOR_ADD = 11,
	TLOG_ENTRY_OPERATOR_REVOKE = 12,
	TLOG_ENTRY_ERASURE = 13,
	TLOG_ENTRY_STATS = 14,
	TLOG_ENTRY_RETENTION = 15,
	TLOG_ENTRY_HOLD = 16,
	TLOG_ENTRY_RELEASE_HOLD = 17,
};

/* The fields of each structured type, in their order in the encoding.
 * Strings are NUL-terminated; their syntax and limits are in docs/LOG.md. */
struct tlog_entry_rule_release {
	const char *version;                 /* of the rule bundle */
	uint8_t sha256[TLOG_ENTRY_HASH_LEN]; /* of the bundle as published */
	uint64_t rules;                      /* rules in the bundle */
};

struct tlog_entry_software_release {
	const char *name; /* of the software: "vigil" */
	const char *version;
	const uint8_t *sha256; /* nsha256 * 32 bytes: the artifacts' SHA-256s,
				  strictly ascending (memcmp) */
	size_t nsha256;        /* 1 to TLOG_ENTRY_HASHES_MAX */
};

struct tlog_entry_sample_access {
	uint8_t sample[TLOG_ENTRY_HASH_LEN]; /* the sample's SHA-256 */
	const char *who;                     /* operator or service identity */
	const char *role;   /* the role it acted in: "analyst" */
	const char *reason; /* the stated reason, one line */
};

/* A false positive retracted (or the retraction undone) by the operator:
 * the sample's answers say clean while the named detections are the only
 * ones. It never names who reported the false positive. */
struct tlog_entry_retraction {
	uint8_t sample[TLOG_ENTRY_HASH_LEN]; /* the sample's SHA-256 */
	const char *action; /* TLOG_RETRACTION_RETRACT or _REINSTATE */
	/* The detections retracted (or reinstated): 1 to
	 * TLOG_ENTRY_DETECTIONS_MAX names of printable ASCII without space,
	 * strictly ascending (strcmp), one space apart. */
	const char *detections;
	const char *reason; /* the operator's reason, one line */
};

/* An ad-hoc rule run over every stored sample (a retro-hunt): it reads
 * users' samples, as sample-access does, all of them at once. */
struct tlog_entry_retrohunt {
	uint8_t rule[TLOG_ENTRY_HASH_LEN]; /* SHA-256 of the rule's text */
	const char *who;                   /* operator or service identity */
	const char *role;                  /* the role it acted in */
	const char *reason;                /* the stated reason, one line */
};

/* An operator added or revoked (operator-add, operator-revoke): who,
 * and by whom; never a token or its hash. */
struct tlog_entry_operator {
	const char *name; /* the operator's name, a label: "alice" */
	const char *by;   /* who did it, as sample-access's who:
			     "operator:root" */
};

/* A client's data erased, at its own request (docs/PRIVACY.md): why and
 * how much, never whose, nor which samples or files. */
#define TLOG_ERASURE_CONSENT_LOWERED "consent-lowered"
#define TLOG_ERASURE_REQUEST         "data-subject-request"
struct tlog_entry_erasure {
	const char *reason;         /* TLOG_ERASURE_CONSENT_LOWERED or
				       TLOG_ERASURE_REQUEST */
	const char *consent;        /* the level now: "none", "metadata"
				       (a request erases down to "none") */
	uint64_t submissions;       /* submissions deleted */
	uint64_t samples_unlinked;  /* samples no longer counted for it */
	uint64_t samples_erased;    /* samples whose bytes were erased */
};

/* A region's anonymised statistics of one day, as published (GET
 * /v1/stats, docs/STATS.md): the hash of the exact bytes served. */
struct tlog_entry_stats {
	const char *region; /* as in vigild.conf: "eu" */
	const char *day;    /* "YYYY-MM-DD", UTC, a day that exists */
	uint8_t sha256[TLOG_ENTRY_HASH_LEN]; /* of the published document */
};

/* What a pass of the retention sweep deleted because it was older than
 * the region keeps it (docs/PRIVACY.md): the periods and how much, never
 * which samples, submissions or clients. */
struct tlog_entry_retention {
	uint64_t sample_days;      /* [retention] sample_days in force */
	uint64_t metadata_days;    /* [retention] metadata_days in force */
	uint64_t samples_erased;   /* samples whose bytes were erased */
	uint64_t submissions;      /* submissions deleted */
	uint64_t samples_unlinked; /* (sample, client) links deleted */
};

/* A legal hold placed on a sample, or released (hold, release-hold):
 * the sample is kept past retention while a hold of any case is on it.
 * A release has no reason (release's reason member is unused). */
struct tlog_entry_hold {
	uint8_t sample[TLOG_ENTRY_HASH_LEN]; /* the sample's SHA-256 */
	const char *case_id; /* the case: 1 to 64 printable, no space */
	const char *reason;  /* hold only: the stated reason, one line */
	const char *who;     /* the authenticated operator: "operator:alice" */
};

struct tlog_entry_node {
	const char *region;     /* as in vigild.conf: "eu" */
	const char *site;       /* "zrh1" */
	const char *log_key;    /* the log's signed-note verifier key */
	const char *sample_key; /* the sample key's ID, never the key:
				   tlog_entry_sample_key_id() */
	const char *version;    /* of the node's software */
};

struct tlog_entry {
	enum tlog_entry_type type;
	int64_t time; /* of the event, Unix seconds, 0..TLOG_ENTRY_TIME_MAX */
	union {       /* the member of type; administrative types have none */
		struct tlog_entry_rule_release rule_release;
		struct tlog_entry_software_release software_release;
		struct tlog_entry_sample_access sample_access;
		struct tlog_entry_node node;
		struct tlog_entry_retraction retraction;
		struct tlog_entry_retrohunt retrohunt;
		/* operator-add, operator-revoke */
		struct tlog_entry_operator operator_change;
		struct tlog_entry_erasure erasure;
		struct tlog_entry_stats stats;
		struct tlog_entry_retention retention;
		struct tlog_entry_hold hold; /* hold, release-hold */
	};
	const char *body; /* body_len bytes (NULL if none); NUL-terminated
			     when made by parse or admin */
	size_t body_len;
	void *mem; /* owned by the entry if not NULL; see tlog_entry_clear() */
};

/* Sets *out to the type named name ("rule-release", ...). Returns 0, or
 * VG_EINVAL for a name that is not exactly one of the types. */
int tlog_entry_type_parse(const char *name, enum tlog_entry_type *out)
	__attribute__((warn_unused_result));

/* Returns the static name of type t, or NULL if t is no type. */
const char *tlog_entry_type_name(enum tlog_entry_type t);

/*
 * Parses exactly len bytes as an entry into *e, whose strings and body
 * then point into e->mem (release with tlog_entry_clear()). Returns 0, or
 * VG_EFORMAT or VG_ELIMIT (VG_ELIB if hashing a log key fails) with a
 * message in err; *e is untouched on error.
 */
int tlog_entry_parse(const char *buf, size_t len, struct tlog_entry *e,
		     char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Encodes e into *out, malloc'd and NUL-terminated (the caller frees it),
 * and its length, at most TLOG_ENTRY_MAX, into *len. Returns 0, or
 * VG_EINVAL for a type, time, value or body that parse would refuse and
 * VG_ELIMIT for a value or an entry too long, with a message naming the
 * field in err; *out is untouched on error.
 */
int tlog_entry_encode(const struct tlog_entry *e, char **out, size_t *len,
		      char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Frees what e owns (e->mem) and zeroes *e; accepts a zeroed entry, and
 * an entry filled by its caller (whose own memory it does not touch). */
void tlog_entry_clear(struct tlog_entry *e);

/*
 * Writes e as one line of compact JSON into *out, malloc'd (the caller
 * frees it): {"type":..., "time":"<RFC 3339>", the fields in order under
 * their names in the encoding (hashes as lowercase hex, software-release
 * sha256 and retraction detections as arrays, rules as a number),
 * "body":"..."}. Returns 0, or
 * VG_EINVAL or VG_ELIMIT if e would not encode.
 */
int tlog_entry_to_json(const struct tlog_entry *e, char **out)
	__attribute__((warn_unused_result));

/*
 * Makes *e an entry of the administrative type t (key-change,
 * witness-set-change, location-change, statement) at time when, whose
 * body is a copy of body[0..body_len), byte for byte (e owns the copy;
 * release with tlog_entry_clear()). Returns 0, or VG_EINVAL (t is not
 * administrative, when is out of range), VG_EFORMAT (the body is not
 * UTF-8 text without control characters but LF and TAB, or has nothing
 * but white space) or VG_ELIMIT (the entry would exceed TLOG_ENTRY_MAX),
 * with a message in err; *e is untouched on error.
 */
int tlog_entry_admin(enum tlog_entry_type t, int64_t when, const char *body,
		     size_t body_len, struct tlog_entry *e, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ" into buf. Returns 0, or VG_EINVAL if
 * t is not in 0..TLOG_ENTRY_TIME_MAX. */
int tlog_entry_time_format(int64_t t, char buf[TLOG_ENTRY_TIME_LEN]);

/*
 * Writes the ID of a sample key into out: the first 8 bytes, in lowercase
 * hex, of SHA-256("vigil.sample-key/v1\n" || key). It names the key in a
 * node entry without revealing it. Returns 0 or VG_ELIB.
 */
int tlog_entry_sample_key_id(const uint8_t *key, size_t key_len,
			     char out[TLOG_ENTRY_KEY_ID_LEN])
	__attribute__((warn_unused_result));

#endif
