/* ko's two image layers: the binary under /ko-app and the kodata tree under
 * /var/run/ko, as tars identical to ko's, then gzip with both digests. */
#ifndef KF_LAYER_H
#define KF_LAYER_H

#include <stddef.h>
#include "buf.h"
#include "digest.h"
#include "error.h"

#define KF_LAYER_MAX ((size_t)1 << 30)  /* cap on a layer's tar and on a binary */
#define KF_LAYER_LINK_DEPTH 32          /* directory symlinks followed inside one another */
#define KF_LAYER_DIR_DEPTH 256          /* nested directories in kodata */

struct store_job;

struct kf_layer {
    unsigned char *blob; size_t blob_len;   /* gzip bytes, owned; NULL while still only in the cache */
    char *cache_entry;                      /* owned: the cache file holding blob, when blob is NULL */
    struct store_job *store;                /* a background cache write reading blob (layer.c), or NULL */
    char digest[KF_DIGEST_LEN];             /* sha256 of blob */
    char diff_id[KF_DIGEST_LEN];            /* sha256 of the uncompressed tar */
};

/* Every function here is thread-safe: they share no state, never chdir, and
 * only read the environment. */

/* Waits for its cache write, frees blob; safe on a zeroed struct and twice. */
void kf_layer_free(struct kf_layer *l);

/* ko's binary layer appended to tar: dir "ko-app" (0555, no mtime), then the
 * file app_path ("/ko-app/<name>", 0555, no mtime), then the trailer. */
int kf_layer_tar_binary(const char *binary_path, const char *app_path, struct kf_buf *tar, char *err) KF_MUST_CHECK;

/* ko's kodata layer appended to tar: dirs /var, /var/run, /var/run/ko, then
 * kodata_dir walked in lexical order (filepath.Walk) under /var/run/ko. A
 * missing kodata_dir (or one that is itself a symlink, as filepath.Walk does
 * not follow it) gives only the three dirs. Symlinks are followed (directory
 * links walked, at most KF_LAYER_LINK_DEPTH deep); any entry resolving
 * outside the allowed root is KF_EINVAL naming the link and its target.
 * allowed_root NULL: $KO_DATA_PATH_ALLOWED_ROOT if set, else the enclosing
 * git worktree; like ko, a root that does not contain kodata_dir falls back
 * to kodata_dir itself. Every entry's mtime is epoch, or Go's zero time
 * (written as 0) when epoch < 0. The tar's own cap bounds the total size. */
int kf_layer_tar_kodata(const char *kodata_dir, const char *allowed_root, long long epoch, struct kf_buf *tar,
                        char *err) KF_MUST_CHECK;

/* Compress tar (KF_GZIP_LEVEL_DEFAULT, all CPUs) into out->blob (caller
 * frees with kf_layer_free) and fill both digests. */
int kf_layer_from_tar(const unsigned char *tar, size_t len, struct kf_layer *out, char *err) KF_MUST_CHECK;

/* Binary layer for (binary_path, app_path). With cache_dir (created if
 * missing), the result is looked up and stored under a key of the tar's
 * sha256 (the diff_id: it covers the binary's bytes and app_path) and the
 * layout/compression version: a hit costs reading the binary and one sha256,
 * no compression. Entries are written atomically, checked by a trailing
 * sha256 when read (a corrupt one is rebuilt), and safe to share between
 * threads and processes. A failing cache only logs. */
int kf_layer_binary(const char *binary_path, const char *app_path, const char *cache_dir, struct kf_layer *out,
                    char *err) KF_MUST_CHECK;

/* kf_layer_binary, except that a stat-index hit (the binary unchanged
 * since it was last layered) reads only the cache entry's header: digests
 * and blob_len are set, blob stays NULL until kf_layer_load_blob. A push
 * that finds the image already in place then never reads the blob. A new
 * entry is written by a background thread meanwhile (the push need not wait
 * for the disk); kf_layer_free waits for it. */
int kf_layer_binary_lazy(const char *binary_path, const char *app_path, const char *cache_dir, struct kf_layer *out,
                         char *err) KF_MUST_CHECK;

/* Returns once the layer's background cache write (if any) has ended. */
void kf_layer_wait_store(struct kf_layer *l);

/* 1 when the stat index knows this very file (kf_layer_binary_lazy would
 * not compress it): a cheap look, for callers that prepare a push. */
int kf_layer_stat_indexed(const char *binary_path, const char *app_path, const char *cache_dir);

/* Reads a lazy layer's blob from its cache entry, checking the entry's
 * sha256 and that it still holds the digest announced; no-op when blob is
 * set. A vanished or corrupt entry is KF_EIO (the caller builds again). */
int kf_layer_load_blob(struct kf_layer *l, char *err) KF_MUST_CHECK;

/* kf_layer_tar_kodata (capped at KF_LAYER_MAX) then kf_layer_from_tar. */
int kf_layer_kodata(const char *kodata_dir, const char *allowed_root, long long epoch, struct kf_layer *out,
                    char *err) KF_MUST_CHECK;

#endif
