/* The web page's rules: which names under web/ are served (a table of
 * hostile names refused), which paths are the page, and Accept headers
 * from browsers, curl and scripts. */
#include <criterion/criterion.h>
#include <string.h>

#include "webnegotiate.h"

Test(webnegotiate, file_types)
{
    static const struct {
        const char *name, *type;
    } cases[] = {
        {"index.html", "text/html; charset=utf-8"}, {"app.js", "text/javascript; charset=utf-8"},
        {"app.css", "text/css; charset=utf-8"},     {"favicon.svg", "image/svg+xml"},
        {"logo-2_x.png", "image/png"},               {"a.b.json", "application/json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *type = kf_web_file_type(cases[i].name);
        cr_assert_not_null(type, "%s", cases[i].name);
        cr_expect_str_eq(type, cases[i].type, "%s", cases[i].name);
    }
}

Test(webnegotiate, hostile_names_refused)
{
    char longname[KF_WEB_NAME_MAX + 8];
    memset(longname, 'a', sizeof longname);
    strcpy(longname + KF_WEB_NAME_MAX - 1, ".js"); /* one over the limit */
    const char *bad[] = {
        "", "..", "../app.js", "..%2fapp.js", ".hidden.js", ".js", "sub/app.js", "/etc/passwd", "a\\b.js",
        "app.js/", "app.js\n", "app js", "app.yaml", "README", "app.", "app.JS", "app.js?x", "app%00.js",
        "index.html;", "\xc3\xa9.js", longname, NULL,
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_null(kf_web_file_type(bad[i]), "%s", bad[i] ? bad[i] : "(null)");
    longname[0] = 0;
    memset(longname, 'a', KF_WEB_NAME_MAX - 3);
    strcpy(longname + KF_WEB_NAME_MAX - 3, ".js");
    cr_expect_not_null(kf_web_file_type(longname), "exactly %d characters", KF_WEB_NAME_MAX);
}

Test(webnegotiate, page_paths)
{
    const char *page[] = {"/projects", "/builds/1", "/resolves/42", "/builds/9223372036854775807"};
    const char *not_page[] = {"/", "/builds", "/builds/", "/builds/abc", "/builds/1/log", "/builds/1/", "/v1/builds/1",
                              "/resolves/-1", "/projects/", "/projects/shop", "/builds/12345678901234567890",
                              "/buildsX/1", "/builds/1x", NULL};
    for (size_t i = 0; i < sizeof page / sizeof *page; i++)
        cr_expect(kf_web_is_page_path(page[i]), "%s", page[i]);
    for (size_t i = 0; i < sizeof not_page / sizeof *not_page; i++)
        cr_expect(!kf_web_is_page_path(not_page[i]), "%s", not_page[i] ? not_page[i] : "(null)");
}

Test(webnegotiate, accept_q)
{
    static const struct {
        const char *accept, *type;
        double q;
    } cases[] = {
        {"text/html", "text/html", 1},
        {"*/*", "application/json", 1},
        {"text/html;q=0.5, */*;q=0.1", "text/html", 0.5},
        {"text/*;q=0.3, text/html;q=0.7", "text/html", 0.7},  /* the most specific wins, whatever the order */
        {"text/html;q=0.7, text/*;q=0.3", "text/html", 0.7},
        {"text/*;q=0.3, */*", "text/html", 0.3},
        {"TEXT/HTML", "text/html", 1},                       /* media types are case-insensitive */
        {"text/html ; q=0.4", "text/html", 0.4},
        {"text/html;level=1;q=0.2", "text/html", 0.2},
        {"text/html;q=2", "text/html", 0},                   /* out of range: ignored as 0 */
        {"text/html;q=abc", "text/html", 0},
        {"text/html;q=", "text/html", 0},
        {"application/xhtml+xml", "text/html", 0},
        {"", "text/html", 0},
        {",,,", "text/html", 0},
        {"text/htmlx", "text/html", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_float_eq(kf_web_accept_q(cases[i].accept, cases[i].type), cases[i].q, 1e-9, "%s for %s",
                           cases[i].accept, cases[i].type);
}

Test(webnegotiate, wants_html)
{
    static const struct {
        const char *accept;
        int html;
    } cases[] = {
        /* Chromium's and Firefox's navigations */
        {"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
         "application/signed-exchange;v=b3;q=0.7", 1},
        {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 1},
        {"text/*", 1},
        /* curl, scripts, fetch() */
        {"*/*", 0},
        {"application/json", 0},
        {"application/json, text/plain, */*", 0},
        {"text/html, application/json", 0},                  /* a tie keeps the API */
        {"application/json, text/html;q=0.9", 0},
        {"text/html;q=0", 0},
        {"image/png", 0},
        {"", 0},
        {NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_eq(kf_web_wants_html(cases[i].accept), cases[i].html, "%s", cases[i].accept ? cases[i].accept : "(null)");
    char huge[KF_WEB_ACCEPT_MAX + 16];
    memset(huge, ' ', sizeof huge);
    memcpy(huge, "text/html", 9);
    huge[sizeof huge - 1] = 0;
    cr_expect_eq(kf_web_wants_html(huge), 0, "an Accept over the cap is never the page");
}
