/* For the Criterion tests: a small text file written into a test's temp
 * tree. Header-only, included by tests in unit/ and integration/. */
#ifndef KF_TESTFILES_H
#define KF_TESTFILES_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* root/rel holds text, its missing parent directories made (0755). */
static inline void test_put_file(const char *root, const char *rel, const char *text)
{
    char path[1024];
    cr_assert_lt((size_t)snprintf(path, sizeof path, "%s/%s", root, rel), sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

#endif
