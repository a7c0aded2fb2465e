/* Deterministic gzip (no name, mtime 0, OS "unknown"), compressed pigz-style
 * in independent 512 KiB chunks so threads can share the work: our own
 * deflate (deflate.c) at level 1, zlib at levels 2..9. */
#ifndef KF_GZIP_H
#define KF_GZIP_H

#include <stddef.h>
#include "buf.h"
#include "error.h"

/* Each chunk is deflated on its own, primed with the previous chunk's last
 * 32 KiB and ended with a sync flush: the output depends on the data and the
 * level only, never on the thread count. 512 KiB: a 4-7 MB layer on 2
 * threads is split within ~55/45 (1 MiB: up to 60/40, 5 chunks on 2
 * threads), for ~2% more CPU than 1 MiB (256 KiB: ~7%, re-priming 32 KiB of
 * dictionary a chunk). */
#define KF_GZIP_CHUNK ((size_t)1 << 19)
/* Level 1 is kf_deflate: on Go binaries here ~3x faster than zlib's level 1
 * for 1-2% more bytes (bench/deflate.sh). Levels 2..9 are zlib's (level 6,
 * for source archives, is another ~2.5x slower for 5-9% fewer bytes). */
#define KF_GZIP_LEVEL_DEFAULT 1

/* Append the gzip of data[0..len) to out. level 1..9; threads 0 means one
 * per CPU this process may run on (at most 8), 1 compresses in the calling
 * thread. Thread-safe: calls share nothing. */
int kf_gzip_compress(const void *data, size_t len, int level, int threads, struct kf_buf *out,
                     char *err) KF_MUST_CHECK;

/* Called with the gzip's bytes in order, as they are made; nonzero means
 * "no more, thanks" (compression goes on, out still gets everything). */
typedef int (*kf_gzip_emit_fn)(void *ctx, const void *data, size_t len);

/* kf_gzip_compress, the same bytes, but `threads` worker threads compress
 * while the calling thread passes each finished piece to emit, so that
 * sending the gzip overlaps making it. */
int kf_gzip_compress_stream(const void *data, size_t len, int level, int threads, struct kf_buf *out,
                            kf_gzip_emit_fn emit, void *ctx, char *err) KF_MUST_CHECK;

#endif
