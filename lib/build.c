/* Planning a build (import paths, bases, platforms, destinations), running
 * its platform tasks on a pool of threads, then publishing indexes and tags. */
#include "build_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "dockertar.h"
#include "log.h"
#include "template.h"

/* Bases are fetched once per reference per build. */
struct base_cache {
    char *ref[64];
    struct kf_base base[64];
    size_t n;
};

static int cached_base(struct kf_plan *plan, struct base_cache *bc, const char *ref, const struct kf_platform *plats,
                       size_t n_plats, const struct kf_base **out, char *err)
{
    for (size_t i = 0; i < bc->n; i++)
        if (strcmp(bc->ref[i], ref) == 0) {
            *out = &bc->base[i];
            return KF_OK;
        }
    if (bc->n == 64)
        return kf_fail(err, KF_ETOOBIG, "more than 64 different base images in one build");
    kf_logf("Using base %s", ref);
    int rc = kf_base_fetch(plan->reg, ref, plats, n_plats, &bc->base[bc->n], err);
    if (rc)
        return rc;
    bc->ref[bc->n] = strdup(ref);
    if (!bc->ref[bc->n]) {
        kf_base_free(&bc->base[bc->n]);
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    *out = &bc->base[bc->n++];
    return KF_OK;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void target_free(struct kf_target *t)
{
    kf_gopkg_free(&t->pkg);
    free(t->importpath);
    free(t->app_path);
    free(t->created_by);
    free(t->image_name);
    free(t->sel);
    kf_layer_free(&t->kodata);
    free_strv(t->flags, t->n_flags);
    free_strv(t->ldflags, t->n_ldflags);
    free(t->env_hold);
    for (size_t i = 0; i < t->n_sinks; i++)
        kf_sink_free(&t->sinks[i]);
    for (size_t i = 0; t->manifest_bytes && i < t->n_sel; i++)
        free(t->manifest_bytes[i]);
    free(t->manifest_bytes);
    free(t->manifests);
    free(t->manifest_types);
    free(t->plats);
}

/* What templates may read, gathered on the first target that has one
 * (`go env` and seven git commands cost tens of ms every build). */
struct goenv_ctx {
    char **kv;
    struct kf_git_info git;
    int git_loaded;
};

static const char *goenv_lookup(void *ctx, const char *key)
{
    struct goenv_ctx *g = ctx;
    size_t klen = strlen(key);
    for (char **p = g->kv; p && *p; p++)
        if (strncmp(*p, key, klen) == 0 && (*p)[klen] == '=')
            return *p + klen + 1;
    return NULL;
}

/* Expand {{...}} templates in the configured flags or ldflags. */
static int expand_all(const char *const *in, size_t n, const struct kf_template_data *td, char ***out, size_t *n_out,
                      char *err)
{
    *out = calloc(n + 1, sizeof **out);
    *n_out = 0;
    if (!*out)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = kf_template_expand(in[i], td, &(*out)[i], err);
        if (rc)
            return rc;
        (*n_out)++;
    }
    return KF_OK;
}

static int any_template(const struct kf_ko_effective *e)
{
    for (size_t i = 0; i < e->n_flags; i++)
        if (strstr(e->flags[i], "{{"))
            return 1;
    for (size_t i = 0; i < e->n_ldflags; i++)
        if (strstr(e->ldflags[i], "{{"))
            return 1;
    return 0;
}

static int template_env(const struct kf_build_opts *o, const struct kf_ko_effective *e, char ***out, size_t *n)
{
    size_t base = 0;
    while (o->template_env && o->template_env[base])
        base++;
    char **env = calloc(base + e->n_env + 1, sizeof *env);
    if (!env)
        return KF_ENOMEM;
    for (size_t i = 0; i < base; i++)
        env[i] = (char *)o->template_env[i];
    for (size_t i = 0; i < e->n_env; i++)
        env[base + i] = (char *)e->env[i];
    *out = env;
    *n = base + e->n_env;
    return KF_OK;
}

static int setup_sinks(struct kf_plan *plan, struct kf_target *t, const char *tarball_stage, char *err)
{
    const struct kf_build_opts *o = plan->o;
    int rc = KF_OK;
    if (o->push) {
        char why[KF_ERRLEN];
        rc = kf_sink_init_registry(&t->sinks[t->n_sinks], plan->reg, t->image_name, why);
        if (rc)
            return kf_fail(err, rc, "invalid repository name \"%s\": %s", t->image_name, why);
        t->n_sinks++;
    }
    if (o->oci_layout_path) {
        rc = kf_sink_init_layout(&t->sinks[t->n_sinks], plan->reg, o->oci_layout_path, err);
        t->n_sinks++;
        if (rc)
            return rc;
    }
    if (tarball_stage) {
        rc = kf_sink_init_layout(&t->sinks[t->n_sinks], plan->reg, tarball_stage, err);
        t->n_sinks++;
    }
    return rc;
}

static int plan_target(struct kf_plan *plan, struct kf_target *t, const struct kf_ko_config *cfg,
                       struct base_cache *bc, const struct kf_platform *plats, size_t n_plats, int all,
                       struct goenv_ctx *goenv, const char *tarball_stage, char *err)
{
    const struct kf_build_opts *o = plan->o;
    int rc;
    char **tenv = NULL;
    size_t n_tenv = 0;

    t->importpath = strdup(o->prebuilt_binary ? t->arg : t->pkg.import_path);
    if (!t->importpath)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    char *app = kf_naming_app_filename(t->importpath);
    if (!app || asprintf(&t->app_path, "/ko-app/%s", app) < 0) {
        t->app_path = NULL;
        free(app);
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    free(app);
    if (asprintf(&t->created_by, "ko build ko://%s", t->importpath) < 0) {
        t->created_by = NULL;
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    t->image_name = kf_naming_image_name(o->repo ? o->repo : "ko.local", t->importpath, o->naming);
    if (!t->image_name)
        return kf_fail(err, KF_ENOMEM, "out of memory");

    /* Base: per-path override, then KO_DEFAULTBASEIMAGE, then .ko.yaml, then ko's default. */
    const char *base_ref = NULL;
    for (size_t i = 0; i < cfg->n_overrides; i++)
        if (strcmp(cfg->overrides[i].importpath, t->importpath) == 0)
            base_ref = cfg->overrides[i].base;
    if (!base_ref)
        base_ref = o->default_base ? o->default_base
                   : cfg->default_base_image ? cfg->default_base_image : KF_DEFAULT_BASE_IMAGE;
    rc = cached_base(plan, bc, base_ref, plats, n_plats, &t->base, err);
    if (rc)
        return rc;
    rc = kf_base_select(t->base, plats, n_plats, all, &t->sel, &t->n_sel, err);
    if (rc)
        return rc;
    t->manifests = calloc(t->n_sel, sizeof *t->manifests);
    t->manifest_types = calloc(t->n_sel, sizeof *t->manifest_types);
    t->plats = calloc(t->n_sel, sizeof *t->plats);
    t->manifest_bytes = calloc(t->n_sel, sizeof *t->manifest_bytes);
    if (!t->manifests || !t->manifest_types || !t->plats || !t->manifest_bytes)
        return kf_fail(err, KF_ENOMEM, "out of memory");

    /* kodata: the same layer for every platform. */
    char *kodata_dir = NULL;
    if (!o->prebuilt_binary) {
        const char *slash = strrchr(t->pkg.first_go_file, '/');
        if (asprintf(&kodata_dir, "%.*s/kodata", (int)(slash - t->pkg.first_go_file), t->pkg.first_go_file) < 0)
            return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    rc = kf_layer_kodata(kodata_dir ? kodata_dir : "/nonexistent/kofarm-kodata", NULL, o->kodata_date_epoch,
                         &t->kodata, err);
    free(kodata_dir);
    if (rc)
        return rc;

    /* Flags and ldflags from .ko.yaml, with templates expanded. */
    struct kf_ko_effective eff;
    kf_koconfig_effective(cfg, t->importpath, t->pkg.module_path, &eff);
    t->config_env = eff.env;
    t->n_config_env = eff.n_env;
    if (o->n_extra_env) {
        t->env_hold = calloc(eff.n_env + o->n_extra_env + 1, sizeof *t->env_hold);
        if (!t->env_hold)
            return kf_fail(err, KF_ENOMEM, "out of memory");
        if (eff.n_env) /* eff.env may be NULL: memcpy from NULL is undefined even for 0 bytes */
            memcpy(t->env_hold, eff.env, eff.n_env * sizeof *t->env_hold);
        memcpy(t->env_hold + eff.n_env, o->extra_env, o->n_extra_env * sizeof *t->env_hold);
        t->config_env = t->env_hold;
        t->n_config_env = eff.n_env + o->n_extra_env;
    }
    if (eff.id)
        kf_logf("Using build config %s for %s", eff.id, t->importpath);
    if (any_template(&eff) && !goenv->kv && !o->prebuilt_binary) {
        rc = kf_go_env_json(o->go ? o->go : "go", o->workdir, plan->go_env, &goenv->kv, err);
        if (rc)
            return rc;
    }
    if (any_template(&eff) && !goenv->git_loaded && !o->prebuilt_binary) {
        rc = kf_template_git_info(o->workdir, &goenv->git, err);
        if (rc)
            return rc;
        goenv->git_loaded = 1;
    }
    const struct kf_git_info *git = &goenv->git;
    rc = template_env(o, &eff, &tenv, &n_tenv);
    if (rc)
        return kf_fail(err, rc, "out of memory");
    struct kf_template_data td = {
        .env = (const char *const *)tenv,
        .n_env = n_tenv,
        .goenv = goenv_lookup,
        .goenv_ctx = goenv,
        .git_branch = git->branch,
        .git_tag = git->tag,
        .git_short_commit = git->short_commit,
        .git_full_commit = git->full_commit,
        .git_commit_date = git->commit_date,
        .git_commit_timestamp = git->commit_timestamp,
        .git_tree_state = git->tree_state,
        .now = o->source_date_epoch >= 0 ? o->source_date_epoch : (long long)time(NULL),
    };
    rc = expand_all(eff.flags, eff.n_flags, &td, &t->flags, &t->n_flags, err);
    if (!rc)
        rc = expand_all(eff.ldflags, eff.n_ldflags, &td, &t->ldflags, &t->n_ldflags, err);
    free(tenv);
    if (rc)
        return rc;
    if (o->n_extra_ldflags) {
        char **grown = realloc(t->ldflags, (t->n_ldflags + o->n_extra_ldflags + 1) * sizeof *grown);
        if (!grown)
            return kf_fail(err, KF_ENOMEM, "out of memory");
        t->ldflags = grown;
        for (size_t i = 0; i < o->n_extra_ldflags; i++) {
            if (!(t->ldflags[t->n_ldflags] = strdup(o->extra_ldflags[i])))
                return kf_fail(err, KF_ENOMEM, "out of memory");
            t->n_ldflags++;
        }
        t->ldflags[t->n_ldflags] = NULL;
    }
    if (!o->prebuilt_binary) {
        rc = kf_go_check_flags((const char *const *)t->flags, t->n_flags, plan->go_env, t->config_env,
                               t->n_config_env, err);
        if (rc)
            return rc;
    }
    return setup_sinks(plan, t, tarball_stage, err);
}

/* The work queue: tasks are (target, platform) pairs claimed in order. */
struct pool {
    struct kf_plan *plan;
    kf_log_fn log_fn; /* the caller's thread sink, handed on to the pool's threads */
    void *log_ctx;
    size_t (*tasks)[2];
    size_t n_tasks;
    atomic_size_t next;
    pthread_mutex_t lock;
    int rc;
    char err[KF_ERRLEN];
};

static void *pool_worker(void *arg)
{
    struct pool *pl = arg;
    char err[KF_ERRLEN];
    kf_log_set_thread_sink(pl->log_fn, pl->log_ctx);
    for (;;) {
        size_t i = atomic_fetch_add(&pl->next, 1);
        if (i >= pl->n_tasks || pl->plan->failed)
            break;
        if (pl->plan->o->cancel && *pl->plan->o->cancel) {
            pthread_mutex_lock(&pl->lock);
            if (!pl->rc) {
                pl->rc = KF_ECANCELED;
                snprintf(pl->err, sizeof pl->err, "build canceled");
            }
            pthread_mutex_unlock(&pl->lock);
            break;
        }
        struct kf_target *t = &pl->plan->targets[pl->tasks[i][0]];
        err[0] = 0;
        int rc = kf_build_task_run(pl->plan, t, pl->tasks[i][1], err);
        if (rc) {
            pthread_mutex_lock(&pl->lock);
            if (!pl->rc) {
                pl->rc = rc;
                snprintf(pl->err, sizeof pl->err, "%s", err[0] ? err : kf_strerror(rc));
            }
            pl->plan->failed = 1;
            pthread_mutex_unlock(&pl->lock);
        }
    }
    return NULL;
}

static int run_pool(struct kf_plan *plan, int jobs, char *err)
{
    struct pool pl = {.plan = plan};
    kf_log_get_thread_sink(&pl.log_fn, &pl.log_ctx);
    size_t total = 0;
    for (size_t i = 0; i < plan->n_targets; i++)
        total += plan->targets[i].n_sel;
    pl.tasks = calloc(total ? total : 1, sizeof *pl.tasks);
    if (!pl.tasks)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    for (size_t i = 0; i < plan->n_targets; i++)
        for (size_t k = 0; k < plan->targets[i].n_sel; k++) {
            pl.tasks[pl.n_tasks][0] = i;
            pl.tasks[pl.n_tasks][1] = k;
            pl.n_tasks++;
        }
    atomic_init(&pl.next, 0);
    pthread_mutex_init(&pl.lock, NULL);
    /* jobs go builds at once; as many threads again layer and push the
     * platforms whose go build is done (the push mostly waits on the
     * registry, a gap the next go build fills). */
    size_t builds = (size_t)jobs < pl.n_tasks ? (size_t)jobs : pl.n_tasks;
    plan->concurrent = builds ? builds : 1;
    plan->slots = plan->concurrent;
    plan->unstarted = pl.n_tasks;
    pthread_mutex_init(&plan->slot_lock, NULL);
    pthread_cond_init(&plan->slot_free, NULL);
    kf_pushset_init(&plan->pushed);
    size_t nthreads = 2 * builds < pl.n_tasks ? 2 * builds : pl.n_tasks;
    pthread_t *threads = calloc(nthreads ? nthreads : 1, sizeof *threads);
    size_t started = 0;
    if (threads && nthreads > 1) {
        for (; started < nthreads; started++)
            if (pthread_create(&threads[started], NULL, pool_worker, &pl) != 0)
                break;
    }
    if (started == 0)
        pool_worker(&pl); /* one job, or no threads to be had: run here */
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    free(pl.tasks);
    pthread_mutex_destroy(&pl.lock);
    pthread_cond_destroy(&plan->slot_free);
    pthread_mutex_destroy(&plan->slot_lock);
    kf_pushset_free(&plan->pushed);
    if (pl.rc)
        return kf_fail(err, pl.rc, "%s", pl.err);
    return KF_OK;
}

/* Index (when several platforms) and tags, then the printed reference. */
static int publish_target(struct kf_plan *plan, struct kf_target *t, struct kf_build_result *r, char *err)
{
    const struct kf_build_opts *o = plan->o;
    int rc = KF_OK;
    struct kf_buf index;
    struct kf_index_entry *entries = NULL;
    char **ann = NULL;
    size_t n_ann = 0;
    kf_buf_init(&index, 0);
    const unsigned char *top;
    size_t top_len;
    const char *top_mt;

    if (t->n_sel > 1) {
        entries = calloc(t->n_sel, sizeof *entries);
        ann = calloc(o->n_annotations + 2, sizeof *ann);
        if (!entries || !ann) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t k = 0; k < t->n_sel; k++) {
            const struct kf_base_entry *be = &t->base->entries[t->sel[k]];
            entries[k].base_descriptor = be->descriptor;
            entries[k].media_type = t->manifest_types[k];
            entries[k].platform = t->plats[k].platform;
            entries[k].manifest = t->manifests[k];
        }
        if (asprintf(&ann[n_ann++], KF_ANNOTATION_BASE_NAME "=%s", t->base->name) < 0 ||
            (t->base->digest[0] && asprintf(&ann[n_ann++], KF_ANNOTATION_BASE_DIGEST "=%s", t->base->digest) < 0)) {
            ann[--n_ann] = NULL;
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < o->n_annotations; i++)
            ann[n_ann++] = strdup(o->annotations[i]);
        const char *mt = t->base->scratch ? KF_MT_OCI_INDEX : t->base->media_type;
        rc = kf_image_index(mt, entries, t->n_sel, (const char *const *)ann, n_ann, &index, err);
        if (rc)
            goto out;
        kf_sha256_digest(index.data, index.len, r->digest);
        rc = kf_build_put_manifest(t, r->digest, mt, index.data, index.len, 1, err);
        if (rc)
            goto out;
        /* Every platform image was in place already: the index may be too. */
        for (size_t s = 0; s < t->n_sinks && !rc; s++)
            if (!t->sinks[s].layout_dir && atomic_load(&t->in_place[s]) == t->n_sel)
                rc = kf_build_check_first_tag(plan, t, s, r->digest, err);
        if (rc)
            goto out;
        top = index.data;
        top_len = index.len;
        top_mt = mt;
    } else {
        memcpy(r->digest, t->manifests[0].digest, KF_DIGEST_LEN);
        top = t->manifest_bytes[0];
        top_len = t->manifests[0].size;
        top_mt = t->manifest_types[0];
    }
    snprintf(r->media_type, sizeof r->media_type, "%s", top_mt);

    static const char *const latest[] = {"latest"};
    const char *const *tags = o->n_tags ? o->tags : latest;
    size_t n_tags = o->n_tags ? o->n_tags : 1;
    for (size_t i = 0; i < n_tags; i++) {
        for (size_t s = 0; s < t->n_sinks; s++) {
            if (t->sinks[s].layout_dir) {
                char *refname = NULL;
                if (asprintf(&refname, "%s:%s", t->image_name, tags[i]) < 0) {
                    rc = kf_fail(err, KF_ENOMEM, "out of memory");
                    goto out;
                }
                rc = kf_layout_add_ref(t->sinks[s].layout_dir, refname, top_mt, r->digest, top_len, err);
                free(refname);
            } else if (i == 0 && t->tag_current[s]) {
                kf_logf("%s:%s is already %s", t->image_name, tags[i], r->digest);
            } else {
                kf_logf("Tagging %s:%s", t->image_name, tags[i]);
                rc = kf_sink_put_manifest(&t->sinks[s], tags[i], top_mt, top, top_len, err);
            }
            if (rc)
                goto out;
        }
    }
    /* ko prints NAME:TAG@DIGEST when a single tag other than latest was asked for. */
    int with_tag = n_tags == 1 && strcmp(tags[0], "latest") != 0;
    if (!o->push && o->oci_layout_path && !o->tarball_path)
        rc = asprintf(&r->reference, "%s@%s", o->oci_layout_path, r->digest);
    else if (with_tag)
        rc = asprintf(&r->reference, "%s:%s@%s", t->image_name, tags[0], r->digest);
    else
        rc = asprintf(&r->reference, "%s@%s", t->image_name, r->digest);
    if (rc < 0) {
        r->reference = NULL;
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    rc = KF_OK;
    kf_logf("Published %s", r->reference);
out:
    for (size_t i = 0; ann && i < n_ann; i++)
        free(ann[i]);
    free(ann);
    free(entries);
    kf_buf_free(&index);
    return rc;
}

static int fill_result(struct kf_target *t, struct kf_build_result *r)
{
    r->importpath = strdup(t->importpath);
    r->image_name = strdup(t->image_name);
    r->platforms = calloc(t->n_sel, sizeof *r->platforms);
    if (!r->importpath || !r->image_name || !r->platforms)
        return KF_ENOMEM;
    memcpy(r->platforms, t->plats, t->n_sel * sizeof *r->platforms);
    r->n_platforms = t->n_sel;
    return KF_OK;
}

void kf_build_results_free(struct kf_build_result *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].importpath);
        free(r[i].image_name);
        free(r[i].reference);
        free(r[i].platforms);
    }
    free(r);
}

static void remove_tree(const char *dir);

static int resolve_platforms(const struct kf_build_opts *o, const struct kf_ko_config *cfg,
                             struct kf_platform **plats, size_t *n, int *all, char *err)
{
    const char *spec = o->platforms && *o->platforms ? o->platforms
                       : o->default_platforms && *o->default_platforms ? o->default_platforms : NULL;
    if (spec)
        return kf_platform_parse_list(spec, plats, n, all, err);
    if (cfg->n_default_platforms) {
        *plats = calloc(cfg->n_default_platforms, sizeof **plats);
        if (!*plats)
            return kf_fail(err, KF_ENOMEM, "out of memory");
        *all = 0;
        *n = 0;
        for (size_t i = 0; i < cfg->n_default_platforms; i++) {
            if (strcmp(cfg->default_platforms[i], "all") == 0) {
                *all = 1;
                continue;
            }
            int rc = kf_platform_parse(cfg->default_platforms[i], &(*plats)[(*n)++], err);
            if (rc)
                return rc;
        }
        return KF_OK;
    }
    *plats = calloc(1, sizeof **plats);
    if (!*plats)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    kf_platform_host(*plats);
    *n = 1;
    *all = 0;
    return KF_OK;
}

int kf_build_run(const struct kf_build_opts *o, struct kf_build_result **results, size_t *n_results, char *err)
{
    int rc;
    struct kf_plan plan = {.o = o};
    struct kf_ko_config cfg;
    struct base_cache bc;
    struct goenv_ctx goenv = {0};
    struct kf_platform *plats = NULL;
    size_t n_plats = 0;
    int all = 0;
    char *tarball_stage = NULL;
    struct kf_build_result *res = NULL;
    const char **args = NULL;
    memset(&cfg, 0, sizeof cfg);
    memset(&bc, 0, sizeof bc);
    *results = NULL;
    *n_results = 0;

    if (o->n_importpaths == 0)
        return kf_fail(err, KF_EINVAL, "no import paths given");
    if (o->push && (!o->repo || !*o->repo))
        return kf_fail(err, KF_EINVAL, "no destination: set KO_DOCKER_REPO or --repo (or use --push=false)");
    if (o->prebuilt_binary && o->n_importpaths != 1)
        return kf_fail(err, KF_EINVAL, "containerize takes exactly one binary");
    if (!o->push && !o->oci_layout_path && !o->tarball_path)
        kf_logf("--push=false without --oci-layout-path or --tarball: the image is built but not saved");

    rc = kf_koconfig_load(o->workdir, &cfg, err);
    if (rc)
        goto out;
    rc = resolve_platforms(o, &cfg, &plats, &n_plats, &all, err);
    if (rc)
        goto out;
    for (size_t i = 0; i < n_plats; i++) {
        char goarm[4];
        rc = kf_platform_go_target(&plats[i], goarm, err);
        if (rc)
            goto out;
    }
    rc = kf_go_clean_env(&plan.go_env, err);
    if (rc)
        goto out;
    rc = kf_reg_new(&o->reg, &plan.reg, err);
    if (rc)
        goto out;
    plan.targets = calloc(o->n_importpaths, sizeof *plan.targets);
    res = calloc(o->n_importpaths, sizeof *res);
    args = calloc(o->n_importpaths, sizeof *args);
    if (!plan.targets || !res || !args) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    plan.n_targets = o->n_importpaths;
    for (size_t i = 0; i < o->n_importpaths; i++) {
        plan.targets[i].arg = o->importpaths[i];
        args[i] = o->importpaths[i];
    }
    if (!o->prebuilt_binary) {
        struct kf_gopkg *pkgs = calloc(o->n_importpaths, sizeof *pkgs);
        if (!pkgs) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        rc = kf_go_list(o->go ? o->go : "go", o->workdir, plan.go_env, args, o->n_importpaths, pkgs, err);
        for (size_t i = 0; i < o->n_importpaths; i++)
            plan.targets[i].pkg = pkgs[i];
        free(pkgs);
        if (rc)
            goto out;
    }
    char tmpl[] = "/tmp/kofarm-build-XXXXXX";
    const char *tmproot = getenv("TMPDIR");
    if (tmproot && *tmproot) {
        if (asprintf(&plan.tmpdir, "%s/kofarm-build-XXXXXX", tmproot) < 0)
            plan.tmpdir = NULL;
    } else {
        plan.tmpdir = strdup(tmpl);
    }
    if (!plan.tmpdir || !mkdtemp(plan.tmpdir)) {
        free(plan.tmpdir);
        plan.tmpdir = NULL;
        rc = kf_fail(err, KF_EIO, "cannot create a temporary directory");
        goto out;
    }
    if (o->tarball_path && asprintf(&tarball_stage, "%s/tarball", plan.tmpdir) < 0) {
        tarball_stage = NULL;
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < plan.n_targets; i++) {
        rc = plan_target(&plan, &plan.targets[i], &cfg, &bc, plats, n_plats, all, &goenv, tarball_stage, err);
        if (rc)
            goto out;
    }
    int jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
    rc = run_pool(&plan, jobs > 0 ? jobs : 1, err);
    if (rc)
        goto out;
    for (size_t i = 0; i < plan.n_targets; i++) {
        rc = fill_result(&plan.targets[i], &res[i]);
        if (rc) {
            rc = kf_fail(err, rc, "out of memory");
            goto out;
        }
        rc = publish_target(&plan, &plan.targets[i], &res[i], err);
        if (rc)
            goto out;
    }
    if (o->tarball_path) {
        rc = kf_dockertar_write(o->tarball_path, tarball_stage, res, o->n_importpaths,
                                o->n_tags ? o->tags : NULL, o->n_tags, err);
        if (rc)
            goto out;
    }
    *results = res;
    *n_results = o->n_importpaths;
    res = NULL;
out:
    for (size_t i = 0; plan.targets && i < plan.n_targets; i++)
        target_free(&plan.targets[i]);
    free(plan.targets);
    kf_build_results_free(res, o->n_importpaths);
    for (size_t i = 0; i < bc.n; i++) {
        kf_base_free(&bc.base[i]);
        free(bc.ref[i]);
    }
    if (plan.tmpdir)
        remove_tree(plan.tmpdir);
    free(plan.tmpdir);
    free(tarball_stage);
    free(plats);
    free(args);
    kf_go_env_free(goenv.kv);
    kf_go_env_free(plan.go_env);
    kf_template_git_free(&goenv.git);
    kf_koconfig_free(&cfg);
    kf_reg_free(plan.reg);
    return rc;
}

#include <ftw.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
