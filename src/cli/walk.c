/*
 * walk.c - recursive, loop-safe traversal of scan targets; see walk.h.
 */
#include "cli/walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/xmalloc.h"

#define WALK_MAX_DEPTH 256 /* directory nesting; deeper is an error */

struct frame {
	dev_t dev;
	ino_t ino;
};

struct walk {
	walk_file_fn on_file;
	walk_error_fn on_error;
	void *ud;
	struct frame stack[WALK_MAX_DEPTH];
	int depth;
};

static void walk_one(struct walk *w, const char *path);

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
walk_dir(struct walk *w, const char *path, const struct stat *st)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	for (int i = 0; i < w->depth; i++)
		if (w->stack[i].dev == st->st_dev &&
		    w->stack[i].ino == st->st_ino) {
			w->on_error(path,
				    "symbolic link loop (directory "
				    "already being scanned)",
				    w->ud);
			return;
		}
	if (w->depth == WALK_MAX_DEPTH) {
		w->on_error(path, "directories nested too deeply", w->ud);
		return;
	}
	if ((d = opendir(path)) == NULL) {
		w->on_error(path, strerror(errno), w->ud);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof(char *));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	/* Name order: the same tree gives the same output every time. */
	qsort(names, n, sizeof(char *), cmp_name);
	w->stack[w->depth].dev = st->st_dev;
	w->stack[w->depth].ino = st->st_ino;
	w->depth++;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(path);
		char *child = xasprintf("%s%s%s", path,
					len && path[len - 1] == '/' ? "" : "/",
					names[i]);
		walk_one(w, child);
		free(child);
		free(names[i]);
	}
	w->depth--;
	free(names);
}

static void
walk_one(struct walk *w, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		int e = errno;
		struct stat lst;

		if (e == ELOOP)
			w->on_error(path, "symbolic link loop", w->ud);
		else if (e == ENOENT && lstat(path, &lst) == 0)
			w->on_error(path, "dangling symbolic link", w->ud);
		else
			w->on_error(path, strerror(e), w->ud);
		return;
	}
	if (S_ISDIR(st.st_mode))
		walk_dir(w, path, &st);
	else if (S_ISREG(st.st_mode))
		w->on_file(path, &st, w->ud);
	else if (S_ISFIFO(st.st_mode))
		w->on_error(path, "not a regular file (fifo); skipped", w->ud);
	else if (S_ISSOCK(st.st_mode))
		w->on_error(path, "not a regular file (socket); skipped",
			    w->ud);
	else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
		w->on_error(path, "not a regular file (device); skipped",
			    w->ud);
	else
		w->on_error(path, "not a regular file; skipped", w->ud);
}

void
walk_path(const char *path, walk_file_fn on_file, walk_error_fn on_error,
	  void *ud)
{
	struct walk w = {.on_file = on_file, .on_error = on_error, .ud = ud};

	walk_one(&w, path);
}
