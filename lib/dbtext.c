/* Text the database layer prepares for PostgreSQL: valid UTF-8 (it refuses
 * anything else in text columns) and text[] literals passed as parameters. */
#include "db_internal.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Length of the valid UTF-8 sequence at s, 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

char *kf_db_utf8_clean(const char *s, size_t max)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    size_t in_len = strlen(s);
    size_t cap = in_len < max ? in_len : max;
    /* Each invalid byte may become three: size for the worst case, capped. */
    size_t alloc = cap <= (max / 3) ? cap * 3 + 1 : max + 1;
    char *out = malloc(alloc);
    if (!out)
        return NULL;
    const unsigned char *in = (const unsigned char *)s;
    size_t r = 0, w = 0;
    while (r < in_len) {
        size_t n = utf8_len(in + r, in_len - r);
        const char *piece = n ? s + r : replacement;
        size_t piece_len = n ? n : 3;
        if (w + piece_len > max || w + piece_len >= alloc)
            break;
        memcpy(out + w, piece, piece_len);
        w += piece_len;
        r += n ? n : 1;
    }
    out[w] = 0;
    return out;
}

char *kf_db_text_array(const char *const *items, size_t n)
{
    struct kf_buf b;
    kf_buf_init(&b, 0);
    if (kf_buf_append_str(&b, "{"))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (kf_buf_append_str(&b, i ? ",\"" : "\""))
            goto fail;
        for (const char *c = items[i]; *c;) {
            size_t plain = strcspn(c, "\"\\");
            if (kf_buf_append(&b, c, plain))
                goto fail;
            c += plain;
            if (*c) {
                char escaped[2] = {'\\', *c++};
                if (kf_buf_append(&b, escaped, 2))
                    goto fail;
            }
        }
        if (kf_buf_append_str(&b, "\""))
            goto fail;
    }
    if (kf_buf_append_str(&b, "}"))
        goto fail;
    return (char *)kf_buf_steal(&b, NULL);
fail:
    kf_buf_free(&b);
    return NULL;
}
