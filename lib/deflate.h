/* kofarm's own deflate (RFC 1951) encoder for gzip's default level: ~3x
 * faster than zlib's level 1 on Go binaries for 1-2% more bytes, and its
 * output depends on the input bytes only, never on the zlib version a worker
 * has installed. */
#ifndef KF_DEFLATE_H
#define KF_DEFLATE_H

#include <stddef.h>
#include "error.h"

#define KF_DEFLATE_DICT_MAX 32768
#define KF_DEFLATE_CHUNK_MAX ((size_t)1 << 30)

/* Worst-case output of kf_deflate_chunk for len (<= KF_DEFLATE_CHUNK_MAX)
 * input bytes, framing included. */
size_t kf_deflate_bound(size_t len);

/* Compress in[0..len) as deflate blocks into out[0..cap), the byte count in
 * *out_len. Matches may reach into the dict_len (<= KF_DEFLATE_DICT_MAX) bytes
 * just before in, which must be readable. final: the last block is marked
 * final and the stream padded to a byte; otherwise it ends with an empty
 * stored block (what zlib's Z_SYNC_FLUSH writes), so chunks concatenate into
 * one stream. The output depends only on those bytes and final. Borrows in and
 * out; allocates its own state, so calls may run in parallel. KF_EINVAL for
 * bad sizes, KF_ETOOBIG when cap is too small (kf_deflate_bound(len) never
 * is), KF_ENOMEM. */
int kf_deflate_chunk(const unsigned char *in, size_t len, size_t dict_len, int final, unsigned char *out,
                     size_t cap, size_t *out_len) KF_MUST_CHECK;

#endif
