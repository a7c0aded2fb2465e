/* Benchmark driver for the resolver's YAML handling alone: every reference
 * is "already built" (a builder that answers at once), so what is timed is
 * scanning, selecting and splicing. Peers on the same bytes: a plain copy
 * (what `cat` does) and libyaml parse + emit of every event (what a tool
 * that re-serialises, as ko does, must at least do).
 *
 *   kofarm-bench-resolve generate FILE MB REFS PATHS   write a test stream
 *   kofarm-bench-resolve run FILE ROUNDS               time it and the peers, print MB/s
 *   kofarm-bench-resolve alone FILE ROUNDS             kofarm only (for a profiler)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "bench_time.h"
#include "buf.h"
#include "digest.h"
#include "resolve.h"

/* A Deployment (with comments, flow style, a block scalar and quoting) per
 * document; every docs_per_ref-th names one of paths import paths. */
static int generate(const char *file, long mb, long refs, long paths)
{
    FILE *f = fopen(file, "w");
    if (!f) {
        perror(file);
        return 1;
    }
    long target = mb << 20;
    long docs = 0, written = 0, made = 0;
    /* ~2.3 KB a document: the ref count decides how many carry one. */
    long per_doc = 2300, total_docs = target / per_doc;
    long every = refs > 0 && total_docs > refs ? total_docs / refs : 1;
    while (written < target) {
        char image[256];
        if (made < refs && docs % every == 0)
            snprintf(image, sizeof image, "ko://example.com/shop/cmd/svc%ld", made++ % paths);
        else
            snprintf(image, sizeof image, "registry.example.com/sidecar:1.%ld", docs % 7);
        int n = fprintf(f,
                        "# Service %ld of the shop: generated for the resolve benchmark.\n"
                        "apiVersion: apps/v1\n"
                        "kind: Deployment\n"
                        "metadata:\n"
                        "  name: svc-%ld # the name kubectl shows\n"
                        "  namespace: shop\n"
                        "  labels: {app: svc-%ld, tier: backend, \"team\": 'payments'}\n"
                        "  annotations:\n"
                        "    description: |\n"
                        "      A long description that spans lines, the way real manifests carry\n"
                        "      runbooks and ownership notes in annotations. ko://not/a/reference here.\n"
                        "spec:\n"
                        "  replicas: 3\n"
                        "  selector:\n"
                        "    matchLabels:\n"
                        "      app: svc-%ld\n"
                        "  template:\n"
                        "    metadata:\n"
                        "      labels:\n"
                        "        app: svc-%ld\n"
                        "    spec:\n"
                        "      serviceAccountName: svc\n"
                        "      containers:\n"
                        "      - name: main\n"
                        "        image: %s\n"
                        "        args: [\"--port=8080\", \"--log-level=info\", \"--metrics\"]\n"
                        "        env:\n"
                        "        - name: GOMAXPROCS\n"
                        "          value: \"2\"\n"
                        "        - name: CONFIG\n"
                        "          value: '/etc/config/app.yaml'\n"
                        "        ports:\n"
                        "        - containerPort: 8080\n"
                        "          name: http\n"
                        "        resources:\n"
                        "          limits: {cpu: 500m, memory: 256Mi}\n"
                        "          requests: {cpu: 100m, memory: 64Mi}\n"
                        "        readinessProbe:\n"
                        "          httpGet: {path: /healthz, port: http}\n"
                        "          periodSeconds: 5\n"
                        "        volumeMounts:\n"
                        "        - {name: config, mountPath: /etc/config, readOnly: true}\n"
                        "      - name: proxy\n"
                        "        image: registry.example.com/proxy:2.4 # not ours\n"
                        "        args:\n"
                        "        - --upstream=http://127.0.0.1:8080\n"
                        "        - --listen=:9090\n"
                        "      volumes:\n"
                        "      - name: config\n"
                        "        configMap:\n"
                        "          name: svc-%ld-config\n"
                        "          items:\n"
                        "          - key: app.yaml\n"
                        "            path: app.yaml\n"
                        "      nodeSelector:\n"
                        "        kubernetes.io/os: linux\n"
                        "      tolerations:\n"
                        "      - key: dedicated\n"
                        "        operator: Equal\n"
                        "        value: shop\n"
                        "        effect: NoSchedule\n"
                        "      affinity:\n"
                        "        podAntiAffinity:\n"
                        "          preferredDuringSchedulingIgnoredDuringExecution:\n"
                        "          - weight: 100\n"
                        "            podAffinityTerm:\n"
                        "              topologyKey: kubernetes.io/hostname\n"
                        "              labelSelector:\n"
                        "                matchLabels: {app: svc-%ld}\n"
                        "---\n",
                        docs, docs, docs, docs, docs, image, docs, docs);
        if (n < 0)
            break;
        written += n;
        docs++;
    }
    fclose(f);
    fprintf(stderr, "%s: %ld bytes, %ld documents, %ld references to %ld import paths\n", file, written, docs,
            made, paths < made ? paths : made);
    return 0;
}

/* The builder: "already built". */
static int answer(void *ctx, struct kf_resolve_ref **refs, size_t n, struct kf_resolve_errors *errors, char *err)
{
    (void)ctx;
    (void)errors;
    for (size_t i = 0; i < n; i++) {
        kf_sha256_digest(refs[i]->value, strlen(refs[i]->value), refs[i]->digest);
        if (asprintf(&refs[i]->replacement, "registry.example.com/shop/%s@%s", strrchr(refs[i]->value, '/') + 1,
                     refs[i]->digest) < 0)
            return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    return KF_OK;
}

static int sink(void *data, unsigned char *buffer, size_t size)
{
    return kf_buf_append(data, buffer, size) == KF_OK;
}

/* libyaml parse + emit of every event: 0 on success. */
static int reserialise(const unsigned char *in, size_t len, struct kf_buf *out)
{
    yaml_parser_t p;
    yaml_emitter_t e;
    yaml_event_t ev;
    int ok = 1, done = 0;
    yaml_parser_initialize(&p);
    yaml_emitter_initialize(&e);
    yaml_parser_set_input_string(&p, in, len);
    yaml_emitter_set_output(&e, sink, out);
    yaml_emitter_set_unicode(&e, 1);
    while (ok && !done) {
        if (!yaml_parser_parse(&p, &ev)) {
            ok = 0;
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        ok = yaml_emitter_emit(&e, &ev); /* takes the event */
    }
    yaml_parser_delete(&p);
    yaml_emitter_delete(&e);
    return ok ? 0 : 1;
}

static int run(const char *file, int rounds, int peers)
{
    struct kf_buf in, copy, out;
    char err[KF_ERRLEN];
    kf_buf_init(&in, (size_t)1 << 30);
    kf_buf_init(&copy, (size_t)1 << 30);
    kf_buf_init(&out, (size_t)2 << 30);
    if (kf_buf_read_file(&in, file, err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double mb = (double)in.len / (1 << 20);
    double *t_resolve = calloc((size_t)rounds, sizeof(double)), *t_copy = calloc((size_t)rounds, sizeof(double)),
           *t_emit = calloc((size_t)rounds, sizeof(double));
    size_t refs = 0, sites = 0, docs = 0, out_len = 0;
    for (int r = 0; r < rounds; r++) {
        struct kf_resolve_opts o = {.strict = 1, .build_fn = answer};
        o.limits.max_input = (size_t)1 << 30;
        struct kf_resolve_input input = {file, in.data, in.len};
        struct kf_resolve_result res;
        double t0 = bench_now_s();
        int rc = kf_resolve_with(&o, &input, 1, &res, err);
        t_resolve[r] = bench_now_s() - t0;
        if (rc) {
            fprintf(stderr, "resolve: %s\n%s", err, res.errors ? res.errors : "");
            kf_resolve_result_free(&res);
            return 1;
        }
        refs = res.n_refs;
        sites = 0;
        for (size_t i = 0; i < res.n_refs; i++)
            sites += res.refs[i].uses;
        docs = res.n_docs_in;
        out_len = res.len;
        kf_resolve_result_free(&res);

        if (!peers)
            continue;
        copy.len = 0;
        t0 = bench_now_s();
        if (kf_buf_append(&copy, in.data, in.len))
            return 1;
        t_copy[r] = bench_now_s() - t0;

        out.len = 0;
        t0 = bench_now_s();
        if (reserialise(in.data, in.len, &out)) {
            fprintf(stderr, "libyaml parse + emit failed\n");
            return 1;
        }
        t_emit[r] = bench_now_s() - t0;
    }
    double tr = bench_median(t_resolve, rounds), tc = bench_median(t_copy, rounds), te = bench_median(t_emit, rounds);
    if (!peers) {
        printf("kofarm resolve, YAML handling: %.1f ms, %.1f MB/s\n", tr * 1e3, mb / tr);
        return 0;
    }
    printf("input: %.1f MB, %zu documents, %zu references (%zu unique) -> %zu bytes out; %d rounds, medians\n\n",
           mb, docs, sites, refs, out_len, rounds);
    printf("%-44s %9s %9s\n", "", "ms", "MB/s");
    printf("%-44s %9.1f %9.1f\n", "kofarm resolve, YAML handling (built refs)", tr * 1e3, mb / tr);
    printf("%-44s %9.1f %9.1f\n", "copy of the bytes in memory (cat's work)", tc * 1e3, mb / tc);
    printf("%-44s %9.1f %9.1f\n", "libyaml parse + emit (re-serialisation)", te * 1e3, mb / te);
    printf("\nkofarm / re-serialisation speed = %.2f   kofarm / copy speed = %.3f   (target >= 100 MB/s)\n",
           te / tr, tc / tr);
    free(t_resolve);
    free(t_copy);
    free(t_emit);
    kf_buf_free(&in);
    kf_buf_free(&copy);
    kf_buf_free(&out);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "generate"))
        return generate(argv[2], atol(argv[3]), atol(argv[4]), atol(argv[5]));
    if (argc == 4 && (!strcmp(argv[1], "run") || !strcmp(argv[1], "alone")))
        return run(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 1, !strcmp(argv[1], "run"));
    fprintf(stderr, "usage: kofarm-bench-resolve generate FILE MB REFS PATHS | run|alone FILE ROUNDS\n");
    return 2;
}
