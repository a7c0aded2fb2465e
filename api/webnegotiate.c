/* Web file names and Accept negotiation (RFC 9110 12.5.1), for the page
 * served next to the API. */
#include "webnegotiate.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},      {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},  {".svg", "image/svg+xml"},
    {".png", "image/png"},                      {".ico", "image/x-icon"},
    {".json", "application/json"},              {".txt", "text/plain; charset=utf-8"},
};

const char *kf_web_file_type(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > KF_WEB_NAME_MAX || name[0] == '.' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
        return NULL;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && !strcmp(name + n - e, types[i].ext))
            return types[i].type;
    }
    return NULL;
}

int kf_web_is_page_path(const char *path)
{
    static const char *const prefixes[] = {"/builds/", "/resolves/"};
    if (!path)
        return 0;
    if (!strcmp(path, "/projects"))
        return 1;
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t n = strlen(prefixes[i]), digits = strspn(path + (strncmp(path, prefixes[i], n) ? 0 : n), "0123456789");
        if (!strncmp(path, prefixes[i], n) && digits > 0 && digits <= 19 && !path[n + digits])
            return 1;
    }
    return 0;
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The q parameter among ";a=b;q=0.5" up to end; 1 when absent, 0 when bad. */
static double param_q(const char *p, const char *end)
{
    double q = 1;
    for (; p < end; p++) {
        if (*p != ';')
            continue;
        const char *a = p + 1;
        while (a < end && blank(*a))
            a++;
        if (end - a < 2 || (*a != 'q' && *a != 'Q') || a[1] != '=')
            continue;
        char num[8] = {0};
        size_t k = 0;
        for (const char *d = a + 2; d < end && !blank(*d) && *d != ';'; d++) {
            if (k + 1 >= sizeof num || !strchr("0123456789.", *d))
                return 0;
            num[k++] = *d;
        }
        char *rest;
        q = strtod(num, &rest);
        if (!k || *rest || q < 0 || q > 1)
            return 0;
    }
    return q;
}

double kf_web_accept_q(const char *accept, const char *type)
{
    const char *slash = type ? strchr(type, '/') : NULL;
    if (!accept || !slash)
        return 0;
    size_t tlen = (size_t)(slash - type), full = strlen(type);
    double best_q = 0;
    int best_spec = 0;
    for (const char *p = accept; *p;) {
        const char *item = p, *end = p + strcspn(p, ",");
        p = *end ? end + 1 : end;
        while (item < end && blank(*item))
            item++;
        size_t mlen = strcspn(item, ";,");
        if (item + mlen > end)
            mlen = (size_t)(end - item);
        while (mlen && blank(item[mlen - 1]))
            mlen--;
        int spec = 0;
        if (mlen == full && !strncasecmp(item, type, mlen))
            spec = 3;
        else if (mlen == tlen + 2 && !strncasecmp(item, type, tlen) && !strncmp(item + tlen, "/*", 2))
            spec = 2;
        else if (mlen == 3 && !strncmp(item, "*/*", 3))
            spec = 1;
        if (spec > best_spec) {
            best_spec = spec;
            best_q = param_q(item + mlen, end);
        }
    }
    return best_q;
}

int kf_web_wants_html(const char *accept)
{
    if (!accept || strlen(accept) > KF_WEB_ACCEPT_MAX)
        return 0;
    double html = kf_web_accept_q(accept, "text/html");
    return html > 0 && html > kf_web_accept_q(accept, "application/json");
}
