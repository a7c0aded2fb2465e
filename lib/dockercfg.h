/* Registry credentials from Docker's config.json: credHelpers, credsStore
 * and auths, as the docker CLI and go-containerregistry read them.
 * Safe from several threads (reads only; store is for `kofarm login`). */
#ifndef KF_DOCKERCFG_H
#define KF_DOCKERCFG_H

#include "error.h"

#define KF_DOCKERCFG_MAX ((size_t)4 << 20) /* config.json size cap */
#define KF_DOCKERCFG_TOKEN_USER "<token>"   /* user name meaning "secret is an identity token" */

/* Credentials for registry_host ("gcr.io", "127.0.0.1:5000"; Docker Hub as
 * "index.docker.io", "docker.io" or "registry-1.docker.io"). config_path NULL
 * means $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json.
 * Order: credHelpers[host], then credsStore, then auths (keys "host",
 * "https://host", "https://host/v1/"; Docker Hub as
 * "https://index.docker.io/v1/"); a helper that knows nothing falls through
 * to auths. Helpers run as `docker-credential-<name> get` with the server
 * address on stdin (argv only, 30 s timeout, output capped). A user of
 * "<token>" means *secret is an identity (refresh) token.
 * KF_ENOTFOUND when there are none (go anonymous); KF_ECONFIG for a broken
 * file or helper. On success the caller frees *user and *secret. */
int kf_dockercfg_lookup(const char *config_path, const char *registry_host, char **user, char **secret,
                        char *err) KF_MUST_CHECK;

/* For `kofarm login`: read-modify-write of the config keeping every other
 * key, auths[host].auth = base64(user:password) (Docker Hub under
 * "https://index.docker.io/v1/"), written atomically with mode 0600; missing
 * directories are created with mode 0700. Not safe against a concurrent
 * store to the same file. */
int kf_dockercfg_store(const char *config_path, const char *registry_host, const char *user, const char *password,
                       char *err) KF_MUST_CHECK;

/* base64("user:password"), the value of auths[].auth and of an HTTP Basic
 * Authorization. Caller frees; NULL on allocation failure. */
char *kf_dockercfg_basic(const char *user, const char *password);

/* The key Docker uses for host: "https://index.docker.io/v1/" for Docker
 * Hub, host itself otherwise. Static or host; not to be freed. */
const char *kf_dockercfg_server_key(const char *registry_host);

#endif
