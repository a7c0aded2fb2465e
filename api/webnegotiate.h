/* The web page's request rules, pure and thread-safe (server/routes_web.c
 * applies them): which file names under web/ may be served and as what,
 * and whether an Accept header is a browser navigation. */
#ifndef KF_WEBNEGOTIATE_H
#define KF_WEBNEGOTIATE_H

#define KF_WEB_NAME_MAX 64
#define KF_WEB_ACCEPT_MAX 4096 /* a longer Accept header is never the page */

/* The Content-Type for a plain file name of web/ ("app.js"), or NULL when
 * the name may not be served: empty, over KF_WEB_NAME_MAX, starting with
 * '.', holding anything but letters, digits, '.', '_', '-' (so no "..", no
 * '/', no hidden file), or of an unknown type. */
const char *kf_web_file_type(const char *name);

/* 1 for the page's own paths that are also API paths: /projects,
 * /builds/{digits}, /resolves/{digits} (never /v1/..., never a sub-path). */
int kf_web_is_page_path(const char *path);

/* The q value (0 to 1) Accept gives type ("text/html"): that of the most
 * specific matching range (type/subtype over type/x over x/x, in the
 * header's spelling with stars), 0 when none matches. */
double kf_web_accept_q(const char *accept, const char *type);

/* 1 when accept prefers text/html strictly to application/json (a browser
 * navigation); NULL, a tie (curl's any-type range) or JSON first give 0. */
int kf_web_wants_html(const char *accept);

#endif
