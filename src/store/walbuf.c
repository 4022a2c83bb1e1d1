/*
 * walbuf.c - see walbuf.h.
 *
 * A file of the VFS is the default VFS's file, opened into the memory
 * SQLite gives us. For a WAL file that memory starts with struct wfile,
 * whose methods gather appends, and the default VFS's file follows it;
 * any other file is the default VFS's file alone, with its own methods.
 */
#include "store/walbuf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

struct wfile {
	sqlite3_file base;  /* pMethods = &wal_methods */
	sqlite3_file *real; /* the default VFS's file, right after this */
	unsigned char *buf; /* gathered appends, for the file at off */
	size_t len;
	sqlite3_int64 off;
};

static sqlite3_vfs walbuf;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered;

static sqlite3_vfs *
root(void)
{
	return walbuf.pAppData;
}

/* Writes what is gathered; the buffer is empty afterwards, whatever
 * happened (a failed write fails the call that needed it, and SQLite
 * rolls that transaction back). */
static int
flush(struct wfile *f)
{
	int rc = SQLITE_OK;

	/* The default VFS writes at most 128 KiB - 1 bytes a call (its
	 * seekAndWrite masks the length with 0x1ffff). */
	for (size_t at = 0; at < f->len && rc == SQLITE_OK;) {
		size_t n =
			f->len - at < WALBUF_WRITE ? f->len - at : WALBUF_WRITE;

		rc = f->real->pMethods->xWrite(f->real, f->buf + at, (int)n,
					       f->off + (sqlite3_int64)at);
		at += n;
	}
	f->len = 0;
	return rc;
}

static int
w_close(sqlite3_file *file)
{
	struct wfile *f = (struct wfile *)file;
	int rc = flush(f), rc2 = f->real->pMethods->xClose(f->real);

	sqlite3_free(f->buf);
	f->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int
w_read(sqlite3_file *file, void *p, int amt, sqlite3_int64 ofst)
{
	struct wfile *f = (struct wfile *)file;
	int rc = flush(f);

	return rc != SQLITE_OK
		       ? rc
		       : f->real->pMethods->xRead(f->real, p, amt, ofst);
}

static int
w_write(sqlite3_file *file, const void *p, int amt, sqlite3_int64 ofst)
{
	struct wfile *f = (struct wfile *)file;
	int rc;

	if (amt < 0)
		return SQLITE_IOERR_WRITE;
	if (f->len > 0 && ofst == f->off + (sqlite3_int64)f->len &&
	    f->len + (size_t)amt <= WALBUF_MAX) {
		memcpy(f->buf + f->len, p, (size_t)amt);
		f->len += (size_t)amt;
		return SQLITE_OK;
	}
	if ((rc = flush(f)) != SQLITE_OK)
		return rc;
	if ((size_t)amt > WALBUF_WRITE)
		return f->real->pMethods->xWrite(f->real, p, amt, ofst);
	if (f->buf == NULL && (f->buf = sqlite3_malloc(WALBUF_MAX)) == NULL)
		return f->real->pMethods->xWrite(f->real, p, amt, ofst);
	memcpy(f->buf, p, (size_t)amt);
	f->len = (size_t)amt;
	f->off = ofst;
	return SQLITE_OK;
}

static int
w_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct wfile *f = (struct wfile *)file;
	int rc = flush(f);

	return rc != SQLITE_OK ? rc
			       : f->real->pMethods->xTruncate(f->real, size);
}

static int
w_sync(sqlite3_file *file, int flags)
{
	struct wfile *f = (struct wfile *)file;
	int rc = flush(f);

	return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int
w_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct wfile *f = (struct wfile *)file;
	int rc = flush(f);

	return rc != SQLITE_OK ? rc
			       : f->real->pMethods->xFileSize(f->real, size);
}

static int
w_lock(sqlite3_file *file, int lock)
{
	struct wfile *f = (struct wfile *)file;

	return f->real->pMethods->xLock(f->real, lock);
}

static int
w_unlock(sqlite3_file *file, int lock)
{
	struct wfile *f = (struct wfile *)file;

	return f->real->pMethods->xUnlock(f->real, lock);
}

static int
w_check_reserved(sqlite3_file *file, int *out)
{
	struct wfile *f = (struct wfile *)file;

	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int
w_file_control(sqlite3_file *file, int op, void *arg)
{
	struct wfile *f = (struct wfile *)file;
	int rc = flush(f);

	return rc != SQLITE_OK
		       ? rc
		       : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int
w_sector_size(sqlite3_file *file)
{
	struct wfile *f = (struct wfile *)file;

	return f->real->pMethods->xSectorSize(f->real);
}

static int
w_device_characteristics(sqlite3_file *file)
{
	struct wfile *f = (struct wfile *)file;

	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* Version 1: a WAL file is never memory-mapped and has no shared
 * memory of its own (the database file has them). */
static const sqlite3_io_methods wal_methods = {
	1,
	w_close,
	w_read,
	w_write,
	w_truncate,
	w_sync,
	w_file_size,
	w_lock,
	w_unlock,
	w_check_reserved,
	w_file_control,
	w_sector_size,
	w_device_characteristics,
	NULL,
	NULL,
	NULL,
	NULL,
	NULL,
	NULL,
};

static int
v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
       int *out_flags)
{
	struct wfile *f = (struct wfile *)file;
	int rc;

	(void)vfs;
	if (!(flags & SQLITE_OPEN_WAL))
		return root()->xOpen(root(), name, file, flags, out_flags);
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	rc = root()->xOpen(root(), name, f->real, flags, out_flags);
	/* Opened or not, SQLite calls xClose if pMethods is set. */
	f->base.pMethods = f->real->pMethods != NULL ? &wal_methods : NULL;
	return rc;
}

/* The rest is the default VFS's, called with itself. */
static int
v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return root()->xDelete(root(), name, sync_dir);
}

static int
v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return root()->xAccess(root(), name, flags, out);
}

static int
v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return root()->xFullPathname(root(), name, n, out);
}

static void *
v_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return root()->xDlOpen(root(), name);
}

static void
v_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	root()->xDlError(root(), n, out);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return root()->xDlSym(root(), h, sym);
}

static void
v_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	root()->xDlClose(root(), h);
}

static int
v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return root()->xRandomness(root(), n, out);
}

static int
v_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return root()->xSleep(root(), us);
}

static int
v_current_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return root()->xCurrentTime(root(), out);
}

static int
v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return root()->xGetLastError(root(), n, out);
}

static int
v_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return root()->xCurrentTimeInt64(root(), out);
}

static void
do_register(void)
{
	sqlite3_vfs *r = sqlite3_vfs_find(NULL);

	/* Version 2 has xCurrentTimeInt64, which SQLite prefers; the
	 * system-call overrides of version 3 are for testing SQLite. */
	if (r == NULL || r->iVersion < 2)
		return;
	walbuf.iVersion = 2;
	walbuf.szOsFile = (int)sizeof(struct wfile) + r->szOsFile;
	walbuf.mxPathname = r->mxPathname;
	walbuf.zName = "vigil-walbuf";
	walbuf.pAppData = r;
	walbuf.xOpen = v_open;
	walbuf.xDelete = v_delete;
	walbuf.xAccess = v_access;
	walbuf.xFullPathname = v_full_pathname;
	walbuf.xDlOpen = v_dlopen;
	walbuf.xDlError = v_dlerror;
	walbuf.xDlSym = v_dlsym;
	walbuf.xDlClose = v_dlclose;
	walbuf.xRandomness = v_randomness;
	walbuf.xSleep = v_sleep;
	walbuf.xCurrentTime = v_current_time;
	walbuf.xGetLastError = v_last_error;
	walbuf.xCurrentTimeInt64 = v_current_time_int64;
	registered = sqlite3_vfs_register(&walbuf, 0) == SQLITE_OK;
}

const char *
walbuf_vfs(void)
{
	pthread_once(&once, do_register);
	return registered ? walbuf.zName : NULL;
}
