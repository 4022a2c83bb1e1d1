/*
 * walbuf.h - an SQLite VFS that gathers a connection's writes to its WAL
 * file into one write per commit.
 *
 * SQLite writes a WAL frame as two pwrite()s (its 24-byte header, then
 * the page), so a commit of n pages costs 2n system calls and 2n trips
 * through the file system's buffered-write path. The VFS "vigil-walbuf"
 * is the default VFS with one change: writes that extend a WAL file where
 * the last one ended are kept in memory (up to WALBUF_MAX bytes) and
 * written, one pwrite() per 64 KiB, before anything that needs them in
 * the file: a sync, a read, a truncate, a size query, a file control, a
 * write elsewhere in the file, a full buffer, or the close. Other files
 * (the database, its shared memory, journals) are the default VFS's own.
 *
 * Only for a connection with synchronous = FULL and cache_spill = OFF.
 * SQLite makes a commit visible to other connections (in the WAL's
 * shared index) after it synced the WAL, and the sync writes the buffer
 * first; without that sync, another connection could read frames that
 * are still in this connection's memory. Without spills, frames are
 * written only by commits: frames a transaction spilled and then rolled
 * back could otherwise stay in memory and later be written over frames
 * another connection put in their place.
 */
#ifndef VIGIL_STORE_WALBUF_H
#define VIGIL_STORE_WALBUF_H

#define WALBUF_MAX (2u << 20)
/* The largest single write handed to the default VFS, which takes at
 * most 128 KiB - 1 bytes a call. */
#define WALBUF_WRITE (64u << 10)

/* Registers the VFS (once; not as the default) and returns its name,
 * or NULL if SQLite refused it. */
const char *walbuf_vfs(void);

#endif
