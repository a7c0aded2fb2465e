/* Label selectors: a lexer and parser following apimachinery's
 * labels.Parse (same tokens, same empty-value rules), and the matcher. */
#include "resolve_select.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REQS 256
#define MAX_VALUES 256

enum op { OP_EXISTS, OP_NOT_EXISTS, OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_GT, OP_LT };

struct req {
    char *key;
    enum op op;
    char **values;
    size_t n_values;
    long long num; /* OP_GT / OP_LT */
};

struct kf_selector {
    struct req *reqs;
    size_t n;
};

enum tok { T_END, T_IDENT, T_NOT, T_EQ, T_DEQ, T_NE, T_IN, T_NOTIN, T_OPEN, T_CLOSE, T_COMMA, T_GT, T_LT };

struct lexer {
    const char *s;
    size_t pos;     /* next byte */
    size_t start;   /* start of the current token */
    enum tok tok;
    const char *text; /* the identifier (not NUL-terminated) */
    size_t len;
};

static int special(char c)
{
    return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

static void next(struct lexer *lx)
{
    const char *s = lx->s;
    while (s[lx->pos] && isspace((unsigned char)s[lx->pos]))
        lx->pos++;
    lx->start = lx->pos;
    char c = s[lx->pos];
    lx->text = s + lx->pos;
    lx->len = 0;
    if (!c) {
        lx->tok = T_END;
        return;
    }
    if (special(c)) {
        char d = s[lx->pos + 1];
        lx->pos++;
        switch (c) {
        case '!':
            if (d == '=') {
                lx->pos++;
                lx->tok = T_NE;
            } else {
                lx->tok = T_NOT;
            }
            return;
        case '=':
            if (d == '=') {
                lx->pos++;
                lx->tok = T_DEQ;
            } else {
                lx->tok = T_EQ;
            }
            return;
        case '(': lx->tok = T_OPEN; return;
        case ')': lx->tok = T_CLOSE; return;
        case ',': lx->tok = T_COMMA; return;
        case '>': lx->tok = T_GT; return;
        default: lx->tok = T_LT; return;
        }
    }
    while (s[lx->pos] && !isspace((unsigned char)s[lx->pos]) && !special(s[lx->pos]))
        lx->pos++;
    lx->len = lx->pos - lx->start;
    if (lx->len == 2 && memcmp(lx->text, "in", 2) == 0)
        lx->tok = T_IN;
    else if (lx->len == 5 && memcmp(lx->text, "notin", 5) == 0)
        lx->tok = T_NOTIN;
    else
        lx->tok = T_IDENT;
}

static int alnum(char c)
{
    return isalnum((unsigned char)c) != 0;
}

/* [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])? of at most max bytes; empty when allow_empty. */
static int valid_name(const char *s, size_t len, size_t max, int allow_empty)
{
    if (len == 0)
        return allow_empty;
    if (len > max || !alnum(s[0]) || !alnum(s[len - 1]))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return 1;
}

/* DNS-1123 subdomain: lowercase labels of [a-z0-9-] joined by dots, 253 bytes. */
static int valid_prefix(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int edge = i == 0 || i == len - 1 || s[i - 1] == '.' || s[i + 1] == '.';
        if (c == '.' ? edge : !(islower((unsigned char)c) || isdigit((unsigned char)c) || (c == '-' && !edge)))
            return 0;
    }
    return 1;
}

static int valid_key(const char *s, size_t len)
{
    const char *slash = memchr(s, '/', len);
    if (!slash)
        return valid_name(s, len, 63, 0);
    size_t plen = (size_t)(slash - s);
    return valid_prefix(s, plen) && valid_name(slash + 1, len - plen - 1, 63, 0);
}

static int fail_at(const struct lexer *lx, char *err, const char *what)
{
    return kf_fail(err, KF_EINVAL, "label selector \"%s\": at byte %zu: %s", lx->s, lx->start + 1, what);
}

static int add_value(struct req *r, const char *text, size_t len)
{
    if (r->n_values == MAX_VALUES)
        return KF_ETOOBIG;
    char **v = realloc(r->values, (r->n_values + 1) * sizeof *v);
    if (!v)
        return KF_ENOMEM;
    r->values = v;
    v[r->n_values] = strndup(text, len);
    if (!v[r->n_values])
        return KF_ENOMEM;
    r->n_values++;
    return KF_OK;
}

/* After "in"/"notin": "(" v1, v2, ... ")"; empty entries are "" as in apimachinery. */
static int parse_set(struct lexer *lx, struct req *r, char *err)
{
    next(lx);
    if (lx->tok != T_OPEN)
        return fail_at(lx, err, "expected '(' after in/notin");
    int want_value = 1;
    for (;;) {
        next(lx);
        if (lx->tok == T_IDENT || lx->tok == T_IN || lx->tok == T_NOTIN) {
            if (!want_value)
                return fail_at(lx, err, "expected ',' or ')' between values");
            if (!valid_name(lx->text, lx->len, 63, 0))
                return fail_at(lx, err, "invalid label value");
            if (add_value(r, lx->text, lx->len))
                return kf_fail(err, KF_ETOOBIG, "label selector: too many values");
            want_value = 0;
        } else if (lx->tok == T_COMMA || lx->tok == T_CLOSE) {
            if (want_value && (r->n_values > 0 || lx->tok == T_COMMA) && add_value(r, "", 0))
                return kf_fail(err, KF_ETOOBIG, "label selector: too many values");
            if (lx->tok == T_CLOSE)
                break;
            want_value = 1;
        } else {
            return fail_at(lx, err, "expected a value, ',' or ')'");
        }
    }
    if (r->n_values == 0)
        return fail_at(lx, err, "in/notin need at least one value");
    next(lx);
    return KF_OK;
}

static int parse_number(struct lexer *lx, struct req *r, char *err)
{
    next(lx);
    if (lx->tok != T_IDENT || lx->len > 20)
        return fail_at(lx, err, "expected an integer after > or <");
    char buf[24];
    memcpy(buf, lx->text, lx->len);
    buf[lx->len] = 0;
    char *end = NULL;
    errno = 0;
    r->num = strtoll(buf, &end, 10);
    if (errno || *end || end == buf)
        return fail_at(lx, err, "expected an integer after > or <");
    next(lx);
    return KF_OK;
}

static int parse_req(struct lexer *lx, struct req *r, char *err)
{
    int negated = lx->tok == T_NOT;
    if (negated)
        next(lx);
    if (lx->tok != T_IDENT)
        return fail_at(lx, err, "expected a label key");
    if (!valid_key(lx->text, lx->len))
        return fail_at(lx, err, "invalid label key");
    r->key = strndup(lx->text, lx->len);
    if (!r->key)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    next(lx);
    if (negated || lx->tok == T_END || lx->tok == T_COMMA) {
        r->op = negated ? OP_NOT_EXISTS : OP_EXISTS;
        return KF_OK;
    }
    switch (lx->tok) {
    case T_IN:
    case T_NOTIN:
        r->op = lx->tok == T_IN ? OP_IN : OP_NOTIN;
        return parse_set(lx, r, err);
    case T_GT:
    case T_LT:
        r->op = lx->tok == T_GT ? OP_GT : OP_LT;
        return parse_number(lx, r, err);
    case T_EQ:
    case T_DEQ:
    case T_NE:
        r->op = lx->tok == T_NE ? OP_NE : OP_EQ;
        next(lx);
        if (lx->tok == T_END || lx->tok == T_COMMA)
            return add_value(r, "", 0) ? kf_fail(err, KF_ENOMEM, "out of memory") : KF_OK;
        if (lx->tok != T_IDENT && lx->tok != T_IN && lx->tok != T_NOTIN)
            return fail_at(lx, err, "expected a value");
        if (!valid_name(lx->text, lx->len, 63, 0))
            return fail_at(lx, err, "invalid label value");
        if (add_value(r, lx->text, lx->len))
            return kf_fail(err, KF_ENOMEM, "out of memory");
        next(lx);
        return KF_OK;
    default:
        return fail_at(lx, err, "expected an operator (=, ==, !=, in, notin, >, <), ',' or the end");
    }
}

void kf_selector_free(struct kf_selector *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->reqs[i].key);
        for (size_t j = 0; j < s->reqs[i].n_values; j++)
            free(s->reqs[i].values[j]);
        free(s->reqs[i].values);
    }
    free(s->reqs);
    free(s);
}

int kf_selector_parse(const char *text, struct kf_selector **out, char *err)
{
    int rc = KF_OK;
    *out = NULL;
    if (!text)
        text = "";
    if (strlen(text) > KF_SELECTOR_MAX)
        return kf_fail(err, KF_EINVAL, "label selector over %d bytes", KF_SELECTOR_MAX);
    struct kf_selector *s = calloc(1, sizeof *s);
    if (!s || !(s->reqs = calloc(MAX_REQS, sizeof *s->reqs))) {
        free(s);
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    struct lexer lx = {.s = text};
    next(&lx);
    while (lx.tok != T_END) {
        if (s->n == MAX_REQS) {
            rc = kf_fail(err, KF_EINVAL, "label selector: more than %d requirements", MAX_REQS);
            goto out;
        }
        rc = parse_req(&lx, &s->reqs[s->n++], err);
        if (rc)
            goto out;
        if (lx.tok == T_COMMA) {
            next(&lx);
            if (lx.tok == T_END) {
                rc = fail_at(&lx, err, "expected a requirement after ','");
                goto out;
            }
        } else if (lx.tok != T_END) {
            rc = fail_at(&lx, err, "expected ',' or the end");
            goto out;
        }
    }
    *out = s;
    s = NULL;
out:
    kf_selector_free(s);
    return rc;
}

size_t kf_selector_count(const struct kf_selector *s)
{
    return s ? s->n : 0;
}

static const char *lookup(const char *key, const char *const *keys, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0)
            return values[i];
    return NULL;
}

static int in_set(const struct req *r, const char *v)
{
    for (size_t i = 0; i < r->n_values; i++)
        if (strcmp(r->values[i], v) == 0)
            return 1;
    return 0;
}

static int match_number(const struct req *r, const char *v)
{
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end)
        return 0;
    return r->op == OP_GT ? x > r->num : x < r->num;
}

int kf_selector_match(const struct kf_selector *s, const char *const *keys, const char *const *values, size_t n)
{
    for (size_t i = 0; s && i < s->n; i++) {
        const struct req *r = &s->reqs[i];
        const char *v = lookup(r->key, keys, values, n);
        int ok;
        switch (r->op) {
        case OP_EXISTS: ok = v != NULL; break;
        case OP_NOT_EXISTS: ok = v == NULL; break;
        case OP_EQ: ok = v && strcmp(v, r->values[0]) == 0; break;
        case OP_NE: ok = !v || strcmp(v, r->values[0]) != 0; break;
        case OP_IN: ok = v && in_set(r, v); break;
        case OP_NOTIN: ok = !v || !in_set(r, v); break;
        default: ok = v && match_number(r, v); break;
        }
        if (!ok)
            return 0;
    }
    return 1;
}
