/*
 * attributes.c -- product attributes and images (see model/attributes.h).
 */
#include "nexus/model/attributes.h"

#include "nexus/core/jsonw.h"
#include "nexus/core/numtext.h"
#include "nexus/model/fields.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- URLs ---------------------------------------------------------------- */

static bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

static bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 pchar, "/" and "?" (what a path, query or fragment may hold),
 * a percent sign only as the start of "%XX". *i is advanced past it. */
static bool uri_char(const char *s, size_t len, size_t *i) {
    char c = s[*i];
    if (c == '%') {
        if (*i + 2 >= len || !is_hex(s[*i + 1]) || !is_hex(s[*i + 2]))
            return false;
        *i += 3;
        return true;
    }
    (*i)++;
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("-._~!$&'()*+,;=:@/?", c));
}

/* A dotted IPv4 address: four decimal parts of 0..255. */
static bool host_ipv4(const char *s, size_t len) {
    size_t parts = 0, i = 0;
    while (i < len) {
        unsigned value = 0, digits = 0;
        for (; i < len && is_digit(s[i]) && digits < 4; i++, digits++)
            value = value * 10 + (unsigned)(s[i] - '0');
        if (digits == 0 || digits > 3 || value > 255 || ++parts > 4)
            return false;
        if (i < len && (s[i] != '.' || i + 1 == len))
            return false;
        i += i < len;
    }
    return parts == 4;
}

/* A host name: dot-separated labels of letters, digits and hyphens, no
 * label starting or ending with a hyphen (RFC 1123); a name whose last
 * label is all digits is an IPv4 address, and must be one (no top-level
 * domain is numeric). */
static bool host_name(const char *s, size_t len) {
    size_t label = 0;
    bool numeric = true;
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            numeric = true;
        } else if (is_alpha(c) || is_digit(c) || (c == '-' && label > 0)) {
            numeric = numeric && is_digit(c);
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    if (label == 0 || s[len - 1] == '-')
        return false;
    return !numeric || host_ipv4(s, len);
}

/* "[" an IPv6 address "]" (RFC 3986's IP-literal, without a zone or a
 * future version): its characters, then the address itself, so that
 * "[::::]" is refused as every URI parser refuses it. */
static bool host_ipv6(const char *s, size_t len) {
    char text[INET6_ADDRSTRLEN];
    struct in6_addr addr;
    if (len < 4 || len - 2 >= sizeof text || s[0] != '[' || s[len - 1] != ']')
        return false;
    for (size_t i = 1; i + 1 < len; i++)
        if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
            return false;
    memcpy(text, s + 1, len - 2);
    text[len - 2] = '\0';
    return inet_pton(AF_INET6, text, &addr) == 1;
}

/* host[:port], without user information. */
static bool authority(const char *s, size_t len) {
    size_t host = len;
    if (memchr(s, '@', len))
        return false;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return false;
        host = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon)
            host = (size_t)(colon - s);
    }
    if (!(s[0] == '[' ? host_ipv6(s, host) : host_name(s, host)))
        return false;
    if (host == len)
        return true;
    size_t digits = len - host - 1;
    if (s[host] != ':' || digits < 1 || digits > 5)
        return false;
    long port = 0;
    for (size_t i = host + 1; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
        port = port * 10 + (s[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

bool url_is_http(const char *s, size_t len) {
    size_t scheme;
    if (len > NX_IMAGE_URL_MAX)
        return false;
    if (len >= 7 && strncasecmp(s, "http://", 7) == 0)
        scheme = 7;
    else if (len >= 8 && strncasecmp(s, "https://", 8) == 0)
        scheme = 8;
    else
        return false;
    size_t end = scheme;
    while (end < len && s[end] != '/' && s[end] != '?' && s[end] != '#')
        end++;
    if (!authority(s + scheme, end - scheme))
        return false;
    bool fragment = false;
    for (size_t i = end; i < len;) {
        if (s[i] == '#' && !fragment) {
            fragment = true;
            i++;
        } else if (!uri_char(s, len, &i)) {
            return false;
        }
    }
    return true;
}

/* ---- attributes ---------------------------------------------------------- */

bool attribute_key_is_valid(const char *k) {
    size_t n = strlen(k);
    if (n < 1 || n > NX_ATTRIBUTE_KEY_MAX || !(k[0] >= 'a' && k[0] <= 'z'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || is_digit(k[i]) || k[i] == '_'))
            return false;
    return true;
}

/* A number in its shortest spelling that reads back as the same value
 * (0.1 stays "0.1", not the 17 digits of the nearest double). */
static void write_number(struct jsonw *w, json_t *v) {
    char text[NUMTEXT_BUF];
    if (json_is_integer(v)) {
        jsonw_int(w, (int64_t)json_integer_value(v));
        return;
    }
    jsonw_raw(w, text, numtext_shortest(json_real_value(v), text, sizeof text));
}

/* A string of min..max code points (and no NUL byte inside). */
static bool text_fits(json_t *v, size_t min, size_t max) {
    const char *s = json_string_value(v);
    size_t n = s ? utf8_length(s) : 0;
    return s && strlen(s) == json_string_length(v) && n >= min && n <= max;
}

/* The writer's bytes appended to out. */
static void take_into(struct jsonw *w, struct buf *out) {
    size_t len;
    char *text = jsonw_take(w, &len);
    buf_append(out, text, len);
    free(text);
}

/* One attribute value: NULL when it is valid, else why not. */
static const char *value_error(json_t *v) {
    if (json_is_string(v))
        return text_fits(v, 1, NX_ATTRIBUTE_TEXT_MAX) ? NULL
                                                      : "must be a string of 1 to 200 characters";
    if (json_is_real(v) && !isfinite(json_real_value(v)))
        return "must be a finite number";
    if (json_is_number(v) || json_is_boolean(v))
        return NULL;
    return "must be a string, a number or a boolean";
}

enum nx_err attributes_parse(struct field_errors *errs, json_t *v, struct buf *out) {
    enum nx_err e = NX_OK;
    const char *key;
    json_t *value;
    char field[16 + NX_ATTRIBUTE_KEY_MAX];
    if (!json_is_object(v))
        return fielderr_add(errs, "attributes", "must be an object");
    if (json_object_size(v) > NX_ATTRIBUTES_MAX)
        return fielderr_add(errs, "attributes", "must have at most %d keys", NX_ATTRIBUTES_MAX);
    json_object_foreach(v, key, value) {
        if (!attribute_key_is_valid(key)) {
            /* the key is what is wrong: it names itself, whatever it holds */
            struct buf name = {0};
            buf_printf(&name, "attributes.%s", key);
            e = fielderr_add(errs, name.data,
                             "is not a valid key: 1 to 40 of a-z, 0-9 and _, starting with a "
                             "letter");
            buf_clear(&name);
            continue;
        }
        const char *why = value_error(value);
        snprintf(field, sizeof field, "attributes.%s", key);
        if (why)
            e = fielderr_add(errs, field, "%s", why);
    }
    if (e != NX_OK)
        return e;
    struct jsonw w = {0};
    jsonw_object_open(&w);
    json_object_foreach(v, key, value) {
        jsonw_key(&w, key);
        if (json_is_string(value))
            jsonw_string(&w, json_string_value(value));
        else if (json_is_boolean(value))
            jsonw_bool(&w, json_is_true(value));
        else
            write_number(&w, value);
    }
    jsonw_object_close(&w);
    take_into(&w, out);
    return NX_OK;
}

/* ---- images -------------------------------------------------------------- */

/* Image i ({url, alt}): its errors under "images[i].<key>". */
static enum nx_err image_check(struct field_errors *errs, size_t i, json_t *img) {
    enum nx_err e = NX_OK;
    char field[64];
    const char *key;
    json_t *v;
    if (!json_is_object(img)) {
        snprintf(field, sizeof field, "images[%zu]", i);
        return fielderr_add(errs, field, "must be an object with url and alt");
    }
    json_object_foreach(img, key, v) {
        if (strcmp(key, "url") == 0 || strcmp(key, "alt") == 0)
            continue;
        struct buf name = {0};
        buf_printf(&name, "images[%zu].%s", i, key);
        e = fielderr_add(errs, name.data, "is not a known field");
        buf_clear(&name);
    }
    json_t *url = json_object_get(img, "url"), *alt = json_object_get(img, "alt");
    snprintf(field, sizeof field, "images[%zu].url", i);
    if (!url)
        e = fielderr_add(errs, field, "is required");
    else if (!text_fits(url, 1, NX_IMAGE_URL_MAX) ||
             !url_is_http(json_string_value(url), json_string_length(url)))
        e = fielderr_add(errs, field,
                         "must be an absolute http or https URL of at most %d "
                         "characters",
                         NX_IMAGE_URL_MAX);
    snprintf(field, sizeof field, "images[%zu].alt", i);
    if (alt && !text_fits(alt, 0, NX_IMAGE_ALT_MAX))
        e = fielderr_add(errs, field, "must be a string of at most %d characters",
                         NX_IMAGE_ALT_MAX);
    return e;
}

enum nx_err images_parse(struct field_errors *errs, json_t *v, struct buf *out) {
    enum nx_err e = NX_OK;
    size_t i;
    json_t *img;
    if (!json_is_array(v))
        return fielderr_add(errs, "images", "must be an array");
    if (json_array_size(v) > NX_IMAGES_MAX)
        return fielderr_add(errs, "images", "must have at most %d images", NX_IMAGES_MAX);
    json_array_foreach(v, i, img) {
        if (image_check(errs, i, img) != NX_OK)
            e = NX_ERR_VALIDATION;
    }
    if (e != NX_OK)
        return e;
    struct jsonw w = {0};
    jsonw_array_open(&w);
    json_array_foreach(v, i, img) {
        const char *alt = json_string_value(json_object_get(img, "alt"));
        jsonw_object_open(&w);
        jsonw_key(&w, "url");
        jsonw_string(&w, json_string_value(json_object_get(img, "url")));
        jsonw_key(&w, "alt");
        jsonw_string(&w, alt ? alt : "");
        jsonw_object_close(&w);
    }
    jsonw_array_close(&w);
    take_into(&w, out);
    return NX_OK;
}

/* ---- a product body ------------------------------------------------------ */

enum nx_err product_extras_parse(struct field_errors *errs, json_t *body, bool defaults,
                                 struct product_extras *out) {
    enum nx_err e = NX_OK;
    json_t *attributes = json_object_get(body, "attributes");
    json_t *images = json_object_get(body, "images");
    memset(out, 0, sizeof *out);
    if (attributes && attributes_parse(errs, attributes, &out->attributes_json) != NX_OK)
        e = NX_ERR_VALIDATION;
    if (images && images_parse(errs, images, &out->images_json) != NX_OK)
        e = NX_ERR_VALIDATION;
    out->attributes = attributes ? out->attributes_json.data : defaults ? "{}" : NULL;
    out->images = images ? out->images_json.data : defaults ? "[]" : NULL;
    return e;
}

void product_extras_clear(struct product_extras *x) {
    buf_clear(&x->attributes_json);
    buf_clear(&x->images_json);
    x->attributes = x->images = NULL;
}
