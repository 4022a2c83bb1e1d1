/*
 * cmd_release_build.c - `vigil release provenance` and `vigil release
 * verify-build`: the builder's signed account of a release build, and a
 * partner's rebuild of it (docs/PROVENANCE.md; the formats are in
 * src/release/provenance.h).
 *
 *   vigil release provenance --key PATH.key --out FILE [--commit SHA
 *       --tree SHA --source-uri URI] [--builder-id URI] [--started T]
 *       PROGRAM...
 *   vigil release verify-build --targets TARGETS.JSON --source ARCHIVE
 *       [--provenance FILE --builder-key PUB]
 *
 * verify-build unpacks the source archive into a temporary directory and
 * runs its own scripts/release-build, so the build is the one the archive
 * defines, not whatever this copy of vigil would do. The targets manifest
 * is parsed but its signatures are not checked here: it names what was
 * released; `vigil update` is what decides whether to trust it.
 *
 * Exit status: provenance 0 written, 2 error; verify-build 0 every
 * program matches, 1 a program differs or the provenance is refused, 2 a
 * usage, input, I/O or build error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/release.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/xmalloc.h"
#include "release/provenance.h"
#include "release/tuf.h"

/* The programs scripts/release-build knows how to build. */
static const char *const programs[] = {"vigil", "vigild", "vigil-worker"};
#define NPROGRAMS (sizeof(programs) / sizeof(programs[0]))

/* The Debian packages whose versions can change the programs' bytes: the
 * toolchain and every library the build compiles or links against. */
static const char *const build_packages[] = {
	"binutils",
	"gcc",
	"gcc-12",
	"libc6-dev",
	"libgcc-12-dev",
	"libclamav-dev",
	"libcurl4-openssl-dev",
	"libfuzzy-dev",
	"libh2o-evloop-dev",
	"libjansson-dev",
	"libmagic-dev",
	"libseccomp-dev",
	"libsodium-dev",
	"libsqlite3-dev",
	"libssl-dev",
	"libyara-dev",
	"meson",
	"ninja-build",
	"pkgconf",
};
#define NBUILD_PACKAGES (sizeof(build_packages) / sizeof(build_packages[0]))

/* Most output read from a helper program (git, dpkg-query). */
#define CAPTURE_MAX 65536

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

static bool
is_program(const char *name)
{
	for (size_t i = 0; i < NPROGRAMS; i++)
		if (strcmp(name, programs[i]) == 0)
			return true;
	return false;
}

/*
 * Runs argv (searched in PATH) with stdout into out[0..max) (NUL
 * terminated, trailing newlines dropped) or, with out NULL, onto our
 * stderr; stderr is kept, or discarded with quiet. With sde not NULL the
 * child gets SOURCE_DATE_EPOCH=sde. Returns the exit status, or -1 if it
 * could not run or said more than max - 1 bytes.
 */
static int
run(const char *const argv[], char *out, size_t max, bool quiet,
    const char *sde)
{
	int fds[2] = {-1, -1}, status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (out != NULL && pipe(fds) != 0)
		return -1;
	if ((pid = fork()) < 0) {
		if (out != NULL) {
			close(fds[0]);
			close(fds[1]);
		}
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (out != NULL)
			dup2(fds[1], STDOUT_FILENO);
		else
			dup2(STDERR_FILENO, STDOUT_FILENO);
		if (quiet && null >= 0)
			dup2(null, STDERR_FILENO);
		if (sde != NULL)
			setenv("SOURCE_DATE_EPOCH", sde, 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (out != NULL) {
		close(fds[1]);
		while (len + 1 < max &&
		       (n = read(fds[0], out + len, max - 1 - len)) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;
			len += (size_t)n;
		}
		/* Anything beyond max is drained and makes this fail. */
		{
			char sink[512];
			bool over = false;

			while ((n = read(fds[0], sink, sizeof(sink))) != 0 &&
			       !(n < 0 && errno != EINTR))
				if (n > 0)
					over = true;
			if (over)
				len = max;
		}
		close(fds[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (out != NULL) {
		if (len >= max)
			return -1;
		while (len > 0 && out[len - 1] == '\n')
			len--;
		out[len] = '\0';
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One line of git's output into out; false if git failed. */
static bool
git_line(const char *const argv[], char *out, size_t max)
{
	return run(argv, out, max, true, NULL) == 0 && out[0] != '\0' &&
	       strchr(out, '\n') == NULL;
}

static bool
is_sha1_hex(const char *s)
{
	return strlen(s) == 40 && hex_is_lower(s, 40);
}

/* The SHA-256 of the file at path into md; 0, or 2 after saying why. */
static int
file_sha256(const char *path, uint8_t md[32])
{
	crypto_hash_sha256_state st;
	uint8_t buf[65536];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "vigil: %s: %s\n", path, strerror(errno));
		return 2;
	}
	crypto_hash_sha256_init(&st);
	while ((n = io_read_full(fd, buf, sizeof(buf))) > 0)
		crypto_hash_sha256_update(&st, buf, (size_t)n);
	if (n < 0) {
		fprintf(stderr, "vigil: %s: %s\n", path, strerror(errno));
		close(fd);
		return 2;
	}
	close(fd);
	crypto_hash_sha256_final(&st, md);
	return 0;
}

/* ---- provenance ---- */

/* A purl's version: every byte but [A-Za-z0-9.~_-] and ':' escaped. */
static void
purl_escape(const char *s, char *out, size_t max)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0' && o + 4 < max; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(".~_-:", c) != NULL) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hexd[c >> 4];
			out[o++] = hexd[c & 15];
		}
	}
	out[o] = '\0';
}

/*
 * The installed versions of build_packages, from dpkg-query, as
 * pkg:deb/debian/NAME@VERSION?arch=ARCH URIs into uris (malloc'd each)
 * and *n. A package that is not installed is left out with a warning:
 * the build did not use it.
 */
static int
build_deps(char **uris, size_t max, size_t *n)
{
	const char *argv[NBUILD_PACKAGES + 5];
	char *out = xmalloc(CAPTURE_MAX), *line, *save = NULL;
	size_t a = 0;
	int st;

	*n = 0;
	argv[a++] = "dpkg-query";
	argv[a++] = "-W";
	argv[a++] = "-f=${Package} ${Version} ${Architecture} "
		    "${db:Status-Abbrev}\\n";
	for (size_t i = 0; i < NBUILD_PACKAGES; i++)
		argv[a++] = build_packages[i];
	argv[a] = NULL;
	/* dpkg-query exits 1 when a package is unknown; what it printed for
	 * the others still holds. */
	st = run(argv, out, CAPTURE_MAX, true, NULL);
	if (st != 0 && st != 1) {
		fprintf(stderr, "vigil: dpkg-query failed; the provenance "
				"needs the build's package versions\n");
		free(out);
		return 2;
	}
	for (line = strtok_r(out, "\n", &save); line != NULL && *n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[128], version[128], arch[32], status[8];
		char ev[400];

		if (sscanf(line, "%127s %127s %31s %7s", name, version, arch,
			   status) != 4 ||
		    strcmp(status, "ii") != 0)
			continue;
		purl_escape(version, ev, sizeof(ev));
		uris[(*n)++] = xasprintf("pkg:deb/debian/%s@%s?arch=%s", name,
					 ev, arch);
	}
	free(out);
	for (size_t i = 0; i < NBUILD_PACKAGES; i++) {
		bool found = false;
		char want[160];

		snprintf(want, sizeof(want), "pkg:deb/debian/%s@",
			 build_packages[i]);
		for (size_t j = 0; j < *n && !found; j++)
			found = strncmp(uris[j], want, strlen(want)) == 0;
		if (!found)
			fprintf(stderr,
				"vigil: warning: package %s is not "
				"installed; left out of the "
				"provenance\n",
				build_packages[i]);
	}
	return 0;
}

static void
provenance_usage(FILE *f)
{
	fprintf(f,
		"usage: vigil release provenance --key PATH.key --out FILE\n"
		"           [--commit SHA --tree SHA --source-uri URI]\n"
		"           [--builder-id URI] [--started UNIXTIME] "
		"PROGRAM...\n"
		"\n"
		"Writes the signed provenance (a DSSE envelope of an in-toto\n"
		"statement with an SLSA v1 predicate) of programs built by\n"
		"scripts/release-build; docs/PROVENANCE.md.\n"
		"  --commit, --tree     the source (default: HEAD of the git\n"
		"                       checkout in the current directory)\n"
		"  --source-uri         the repository (default: git's\n"
		"                       remote.origin.url)\n"
		"  --builder-id         the builder (default:\n"
		"                       https://vigil.dev/builders/<key ID>)\n"
		"  --started            when the build started (default: now)\n"
		"SOURCE_DATE_EPOCH is taken from the environment, or else the\n"
		"commit's time.\n");
}

int
cmd_release_provenance(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"key", required_argument, NULL, 'k'},
		{"out", required_argument, NULL, 'o'},
		{"commit", required_argument, NULL, 'c'},
		{"tree", required_argument, NULL, 't'},
		{"source-uri", required_argument, NULL, 's'},
		{"builder-id", required_argument, NULL, 'b'},
		{"started", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *key = NULL, *outpath = NULL, *commit_opt = NULL;
	const char *tree_opt = NULL, *uri_opt = NULL, *builder_opt = NULL;
	char commit[128] = "", tree[128] = "", uri[1024] = "", sde_s[32];
	char keyid[TUF_KEYID_LEN], builder[256], inv[37], command[512];
	char err[512], *deps_uri[PROV_DEPS_MAX], *stmt = NULL, *env = NULL;
	struct prov_subject subjects[PROV_SUBJECTS_MAX];
	struct prov_dep deps[PROV_DEPS_MAX];
	struct prov_build b;
	uint8_t sk[64], rnd[16];
	size_t ndeps = 0, nsub, slen, elen, cl;
	long long started = -1, sde;
	char *end;
	int c, rc = 2;

	if (sodium_init() < 0)
		fatal("libsodium cannot start");
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'o': outpath = optarg; break;
		case 'c': commit_opt = optarg; break;
		case 't': tree_opt = optarg; break;
		case 's': uri_opt = optarg; break;
		case 'b': builder_opt = optarg; break;
		case 'S':
			errno = 0;
			started = strtoll(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    started < 0) {
				fprintf(stderr,
					"vigil: --started: not a Unix "
					"time: %s\n",
					optarg);
				return 2;
			}
			break;
		case 'h': provenance_usage(stdout); return 0;
		default: provenance_usage(stderr); return 2;
		}
	}
	nsub = (size_t)(argc - optind);
	if (key == NULL || outpath == NULL || nsub == 0) {
		provenance_usage(stderr);
		return 2;
	}
	if (nsub > PROV_SUBJECTS_MAX) {
		fprintf(stderr, "vigil: at most %d programs\n",
			PROV_SUBJECTS_MAX);
		return 2;
	}

	/* The source: given, or the checkout's HEAD. */
	if (commit_opt != NULL) {
		snprintf(commit, sizeof(commit), "%s", commit_opt);
	} else {
		const char *a[] = {"git", "rev-parse", "HEAD", NULL};

		if (!git_line(a, commit, sizeof(commit))) {
			fprintf(stderr, "vigil: not in a git checkout: give "
					"--commit, --tree and --source-uri\n");
			return 2;
		}
	}
	if (tree_opt != NULL) {
		snprintf(tree, sizeof(tree), "%s", tree_opt);
	} else {
		char rev[160];
		const char *a[] = {"git", "rev-parse", rev, NULL};

		snprintf(rev, sizeof(rev), "%s^{tree}", commit);
		if (!git_line(a, tree, sizeof(tree))) {
			fprintf(stderr,
				"vigil: the tree of %s is unknown: "
				"give --tree\n",
				commit);
			return 2;
		}
	}
	if (!is_sha1_hex(commit) || !is_sha1_hex(tree)) {
		fprintf(stderr, "vigil: --commit and --tree must be 40 "
				"lowercase hex digits\n");
		return 2;
	}
	if (uri_opt != NULL) {
		snprintf(uri, sizeof(uri), "%s", uri_opt);
	} else {
		const char *a[] = {"git", "config", "--get",
				   "remote.origin.url", NULL};

		if (!git_line(a, uri, sizeof(uri))) {
			fprintf(stderr, "vigil: no remote.origin.url: give "
					"--source-uri\n");
			return 2;
		}
	}
	if (getenv("SOURCE_DATE_EPOCH") != NULL) {
		snprintf(sde_s, sizeof(sde_s), "%s",
			 getenv("SOURCE_DATE_EPOCH"));
	} else {
		const char *a[] = {"git",          "log",  "-1",
				   "--format=%ct", commit, NULL};

		if (!git_line(a, sde_s, sizeof(sde_s))) {
			fprintf(stderr,
				"vigil: SOURCE_DATE_EPOCH is not set "
				"and %s is not a known commit\n",
				commit);
			return 2;
		}
	}
	errno = 0;
	sde = strtoll(sde_s, &end, 10);
	if (errno != 0 || *end != '\0' || end == sde_s || sde < 0) {
		fprintf(stderr,
			"vigil: SOURCE_DATE_EPOCH is not a Unix time: "
			"%s\n",
			sde_s);
		return 2;
	}

	/* The subjects, and the command that built them. */
	cl = (size_t)snprintf(command, sizeof(command),
			      "scripts/release-build");
	for (size_t i = 0; i < nsub; i++) {
		const char *name = base_name(argv[optind + i]);

		if (strlen(name) == 0 || strlen(name) > PROV_NAME_MAX) {
			fprintf(stderr, "vigil: %s: bad program name\n",
				argv[optind + i]);
			return 2;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(subjects[j].name, name) == 0) {
				fprintf(stderr, "vigil: %s given twice\n",
					name);
				return 2;
			}
		snprintf(subjects[i].name, sizeof(subjects[i].name), "%s",
			 name);
		if (file_sha256(argv[optind + i], subjects[i].sha256) != 0)
			return 2;
		if (cl < sizeof(command))
			cl += (size_t)snprintf(command + cl,
					       sizeof(command) - cl, " %s",
					       name);
	}

	if ((rc = build_deps(deps_uri, PROV_DEPS_MAX, &ndeps)) != 0)
		return rc;
	for (size_t i = 0; i < ndeps; i++)
		deps[i] = (struct prov_dep){deps_uri[i], NULL, NULL};

	rc = 2;
	if (tuf_keyfile_load(key, sk, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigil: %s: %s\n", key, err);
		goto out;
	}
	tuf_key_id(sk + 32, keyid);
	if (builder_opt != NULL)
		snprintf(builder, sizeof(builder), "%s", builder_opt);
	else
		snprintf(builder, sizeof(builder),
			 "https://vigil.dev/builders/%s", keyid);
	randombytes_buf(rnd, sizeof(rnd));
	rnd[6] = (uint8_t)((rnd[6] & 0x0f) | 0x40); /* a UUID, version 4 */
	rnd[8] = (uint8_t)((rnd[8] & 0x3f) | 0x80);
	{
		char h[33];

		hex_encode(rnd, sizeof(rnd), h);
		snprintf(inv, sizeof(inv), "%.8s-%.4s-%.4s-%.4s-%.12s", h,
			 h + 8, h + 12, h + 16, h + 20);
	}
	b = (struct prov_build){
		.source_uri = uri,
		.commit = commit,
		.tree = tree,
		.command = command,
		.source_date_epoch = sde,
		.subjects = subjects,
		.nsubjects = nsub,
		.deps = deps,
		.ndeps = ndeps,
		.builder_id = builder,
		.invocation_id = inv,
		.started_on = started >= 0 ? started : (int64_t)time(NULL),
		.finished_on = (int64_t)time(NULL),
	};
	if (prov_statement_encode(&b, &stmt, &slen, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigil: %s\n", err);
		goto wipe;
	}
	if (prov_dsse_sign(PROV_PAYLOAD_TYPE, stmt, slen, sk, &env, &elen) !=
	    0) {
		fprintf(stderr, "vigil: cannot sign the provenance\n");
		goto wipe;
	}
	env = realloc(env, elen + 2);
	if (env == NULL)
		fatal("out of memory");
	env[elen++] = '\n';
	if (io_write_file(outpath, env, elen, 0644) != 0) {
		fprintf(stderr, "vigil: %s: %s\n", outpath, strerror(errno));
		goto wipe;
	}
	printf("%s: provenance of %zu program(s), commit %s, signed by %s\n",
	       outpath, nsub, commit, keyid);
	rc = 0;
wipe:
	sodium_memzero(sk, sizeof(sk));
out:
	for (size_t i = 0; i < ndeps; i++)
		free(deps_uri[i]);
	free(stmt);
	free(env);
	return rc;
}

/* ---- verify-build ---- */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* A program the targets manifest names. */
struct released {
	const char *program; /* one of programs[] */
	const char *target;  /* its target name */
	uint8_t sha256[32];
	uint64_t length;
};

/* The targets of custom.kind "program"; 0, or 2 after saying why. */
static int
released_programs(const struct tuf_meta *targets, struct released *out,
		  size_t *n)
{
	size_t count = tuf_targets_count(targets);

	*n = 0;
	for (size_t i = 0; i < count; i++) {
		struct tuf_target t;
		const char *kind, *base;

		if (tuf_target_at(targets, i, &t) != 0) {
			fprintf(stderr,
				"vigil: targets: entry %zu is "
				"unreadable\n",
				i);
			return 2;
		}
		kind = json_string_value(json_object_get(t.custom, "kind"));
		if (kind == NULL || strcmp(kind, "program") != 0)
			continue;
		base = base_name(t.name);
		if (!is_program(base)) {
			fprintf(stderr,
				"vigil: targets: %s is not a program "
				"the release build makes\n",
				t.name);
			return 2;
		}
		for (size_t j = 0; j < *n; j++)
			if (strcmp(out[j].program, base) == 0) {
				fprintf(stderr,
					"vigil: targets: two "
					"programs named %s\n",
					base);
				return 2;
			}
		if (*n == NPROGRAMS)
			return 2;
		out[*n].program = base;
		out[*n].target = t.name;
		out[*n].length = t.length;
		memcpy(out[*n].sha256, t.sha256, 32);
		(*n)++;
	}
	if (*n == 0) {
		fprintf(stderr, "vigil: targets: no program to verify\n");
		return 2;
	}
	return 0;
}

/* The provenance's statement, if its signature by the builder's key
 * verifies; 0, 1 (refused) or 2, after saying why. */
static int
load_provenance(const char *path, const char *pubpath, struct prov_info *info)
{
	uint8_t pub[32], *env = NULL, *payload = NULL;
	size_t len, plen;
	char err[512];
	int rc;

	if (tuf_pubfile_load(pubpath, pub, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigil: %s: %s\n", pubpath, err);
		return 2;
	}
	if ((rc = release_read(path, PROV_ENVELOPE_MAX, &env, &len)) != 0)
		return rc;
	rc = prov_dsse_verify(env, len, PROV_PAYLOAD_TYPE, pub, &payload, &plen,
			      err, sizeof(err));
	if (rc == 0)
		rc = prov_statement_parse(payload, plen, info, err,
					  sizeof(err));
	if (rc != 0) {
		printf("provenance: REFUSED: %s\n", err);
		rc = 1;
	}
	free(env);
	free(payload);
	return rc;
}

/* The directory holding scripts/release-build in the unpacked archive:
 * its top, or its one top-level directory (git archive --prefix). */
static char *
source_top(const char *dir)
{
	char *p = xasprintf("%s/scripts/release-build", dir), *top = NULL;
	struct dirent *e;
	struct stat sb;
	size_t n = 0;
	DIR *d;

	if (stat(p, &sb) == 0) {
		free(p);
		return xstrdup(dir);
	}
	free(p);
	/* Else exactly one entry, a directory, may hold it. */
	if ((d = opendir(dir)) == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n++ == 0)
			top = xasprintf("%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (n != 1) {
		free(top);
		return NULL;
	}
	p = xasprintf("%s/scripts/release-build", top);
	if (stat(p, &sb) != 0) {
		free(top);
		top = NULL;
	}
	free(p);
	return top;
}

static void
verify_usage(FILE *f)
{
	fprintf(f,
		"usage: vigil release verify-build --targets TARGETS.JSON "
		"--source ARCHIVE\n"
		"           [--provenance FILE --builder-key PUB]\n"
		"\n"
		"Rebuilds the programs of a release from its source archive\n"
		"with the archive's own scripts/release-build and compares\n"
		"them with the targets manifest's programs (and with the\n"
		"provenance's subjects). SOURCE_DATE_EPOCH is the\n"
		"provenance's, or else the archive's commit time.\n"
		"Exit status: 0 all match, 1 something differs, 2 error.\n");
}

int
cmd_release_verify_build(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"targets", required_argument, NULL, 't'},
		{"source", required_argument, NULL, 's'},
		{"provenance", required_argument, NULL, 'p'},
		{"builder-key", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *targets_path = NULL, *source = NULL, *prov = NULL;
	const char *builder_key = NULL;
	struct released rel[NPROGRAMS];
	struct prov_info *info = NULL;
	struct tuf_meta targets = {0};
	struct stat sb;
	size_t nrel;
	char tmpl[4096], *dir = NULL, *top = NULL, *p, sde[32];
	const char *build[NPROGRAMS + 2];
	int c, rc = 2, differ = 0;

	if (sodium_init() < 0)
		fatal("libsodium cannot start");
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': targets_path = optarg; break;
		case 's': source = optarg; break;
		case 'p': prov = optarg; break;
		case 'k': builder_key = optarg; break;
		case 'h': verify_usage(stdout); return 0;
		default: verify_usage(stderr); return 2;
		}
	}
	if (targets_path == NULL || source == NULL || optind != argc ||
	    (prov == NULL) != (builder_key == NULL)) {
		verify_usage(stderr);
		return 2;
	}
	if (release_load_meta(targets_path, TUF_TARGETS, &targets) != 0)
		goto out;
	if ((rc = released_programs(&targets, rel, &nrel)) != 0)
		goto out;
	if (prov != NULL) {
		info = xcalloc(1, sizeof(*info));
		if ((rc = load_provenance(prov, builder_key, info)) != 0)
			goto out;
		printf("provenance: signed by the builder key, commit %s\n",
		       info->commit);
	}
	rc = 2;
	if (access(source, R_OK) != 0) {
		fprintf(stderr, "vigil: %s: %s\n", source, strerror(errno));
		goto out;
	}

	/* Unpack and build, as the archive says. */
	snprintf(tmpl, sizeof(tmpl), "%s/vigil-verify-build.XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if ((dir = mkdtemp(tmpl)) == NULL) {
		fprintf(stderr, "vigil: %s: %s\n", tmpl, strerror(errno));
		goto out;
	}
	{
		const char *a[] = {"tar", "-xf", source, "-C", dir, NULL};

		if (run(a, NULL, 0, false, NULL) != 0) {
			fprintf(stderr, "vigil: %s: cannot unpack\n", source);
			goto out;
		}
	}
	if ((top = source_top(dir)) == NULL) {
		fprintf(stderr,
			"vigil: %s: no scripts/release-build in the "
			"archive\n",
			source);
		goto out;
	}
	if (info != NULL) {
		snprintf(sde, sizeof(sde), "%" PRId64, info->source_date_epoch);
	} else {
		/* git archive gives every file the commit's time. */
		p = xasprintf("%s/meson.build", top);
		if (stat(p, &sb) != 0) {
			fprintf(stderr, "vigil: %s: no meson.build\n", source);
			free(p);
			goto out;
		}
		free(p);
		snprintf(sde, sizeof(sde), "%lld", (long long)sb.st_mtime);
	}
	fprintf(stderr, "vigil: building %s with SOURCE_DATE_EPOCH=%s\n",
		source, sde);
	p = xasprintf("%s/scripts/release-build", top);
	build[0] = "sh";
	build[1] = p;
	for (size_t i = 0; i < nrel; i++)
		build[2 + i] = rel[i].program;
	build[2 + nrel] = NULL;
	c = run(build, NULL, 0, false, sde);
	free(p);
	if (c != 0) {
		fprintf(stderr, "vigil: the release build failed\n");
		goto out;
	}

	for (size_t i = 0; i < nrel; i++) {
		const struct prov_subject *s = NULL;
		uint8_t md[32];
		char built[65], released[65], stated[65];
		bool ok;

		p = xasprintf("%s/build-release/%s", top, rel[i].program);
		c = file_sha256(p, md);
		free(p);
		if (c != 0)
			goto out;
		hex_encode(md, 32, built);
		hex_encode(rel[i].sha256, 32, released);
		ok = sodium_memcmp(md, rel[i].sha256, 32) == 0;
		if (info != NULL) {
			s = prov_info_subject(info, rel[i].program);
			if (s != NULL)
				hex_encode(s->sha256, 32, stated);
			ok = ok && s != NULL &&
			     sodium_memcmp(s->sha256, md, 32) == 0;
		}
		if (ok) {
			printf("%s: match %s\n", rel[i].target, built);
			continue;
		}
		differ = 1;
		printf("%s: DIFFERENT built %s released %s", rel[i].target,
		       built, released);
		if (info != NULL)
			printf(" provenance %s", s != NULL ? stated : "(none)");
		printf("\n");
	}
	rc = differ;
out:
	if (dir != NULL && nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "vigil: %s: cannot remove\n", dir);
	tuf_meta_clear(&targets);
	free(info);
	free(top);
	return rc;
}
