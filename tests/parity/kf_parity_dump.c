/* Writes kofarm's two layer tars (and their gzip blobs) for run.sh to compare
 * with the Go program's: kf_parity_dump BINARY APP_PATH KODATA_DIR OUTDIR.
 * KO_DATA_DATE_EPOCH is read as ko reads it; prints each diff_id. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "digest.h"
#include "layer.h"

static int write_out(const char *dir, const char *name, const void *data, size_t len, char *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return kf_fail(err, KF_EINVAL, "output path too long");
    return kf_write_file_atomic(path, data, len, 0644, err);
}

/* tar -> file NAME.tar, layer blob -> NAME.tar.gz; prints NAME diff_id. */
static int emit(const char *dir, const char *name, const struct kf_buf *tar, char *err)
{
    char file[256];
    struct kf_layer layer = {0};
    int rc = kf_layer_from_tar(tar->data, tar->len, &layer, err);
    snprintf(file, sizeof file, "%s.tar", name);
    if (!rc)
        rc = write_out(dir, file, tar->data, tar->len, err);
    snprintf(file, sizeof file, "%s.tar.gz", name);
    if (!rc)
        rc = write_out(dir, file, layer.blob, layer.blob_len, err);
    if (!rc)
        printf("%s %s\n", name, layer.diff_id + 7);
    kf_layer_free(&layer);
    return rc;
}

int main(int argc, char **argv)
{
    char err[KF_ERRLEN] = "";
    if (argc != 5) {
        fprintf(stderr, "usage: %s BINARY APP_PATH KODATA_DIR OUTDIR\n", argv[0]);
        return 2;
    }
    long long epoch = -1;
    const char *env = getenv("KO_DATA_DATE_EPOCH");
    if (env && *env) {
        char *end;
        errno = 0;
        epoch = strtoll(env, &end, 10);
        if (errno || *end || epoch < 0) {
            fprintf(stderr, "KO_DATA_DATE_EPOCH: not a non-negative number: %s\n", env);
            return 2;
        }
    }
    struct kf_buf bin, kodata;
    kf_buf_init(&bin, KF_LAYER_MAX);
    kf_buf_init(&kodata, KF_LAYER_MAX);
    int rc = kf_layer_tar_binary(argv[1], argv[2], &bin, err);
    if (!rc)
        rc = emit(argv[4], "bin", &bin, err);
    if (!rc)
        rc = kf_layer_tar_kodata(argv[3], NULL, epoch, &kodata, err);
    if (!rc)
        rc = emit(argv[4], "kodata", &kodata, err);
    kf_buf_free(&bin);
    kf_buf_free(&kodata);
    if (rc) {
        fprintf(stderr, "kf_parity_dump: %s (%s)\n", err, kf_strerror(rc));
        return 1;
    }
    return 0;
}
