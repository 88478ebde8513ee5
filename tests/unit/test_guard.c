/*
 * test_guard.c -- the pure decisions at the edges: request framing, JSON
 * content types, client request ids, SQLSTATE mapping, REDIS_URL parsing and
 * the shape of an Idempotency-Key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/cache/cache.h"
#include "nexus/db/db.h"
#include "nexus/http/conditional.h"
#include "nexus/http/guard.h"
#include "nexus/http/idempotency.h"
#include "nexus/http/server.h"

#include <string.h>

/* ---- framing_check ------------------------------------------------------ */

static enum nx_err check(unsigned cl, unsigned te, unsigned host, const char *te_value,
                         const char **why) {
    struct framing f = {cl, te, host, te_value, false, 0, 0, 0};
    *why = NULL;
    return framing_check(&f, why);
}

static void assert_framing_rejected(unsigned cl, unsigned te, unsigned host, const char *te_value) {
    const char *why = NULL;
    assert_int_equal(check(cl, te, host, te_value, &why), NX_ERR_BAD_REQUEST);
    assert_non_null(why);
    assert_true(strlen(why) > 0);
}

static void test_framing_ok_with_one_host(void **state) {
    (void)state;
    const char *why = NULL;
    assert_int_equal(check(0, 0, 1, NULL, &why), NX_OK);
}

static void test_framing_ok_with_one_content_length(void **state) {
    (void)state;
    const char *why = NULL;
    assert_int_equal(check(1, 0, 1, NULL, &why), NX_OK);
}

static void test_framing_rejects_missing_host(void **state) {
    (void)state;
    assert_framing_rejected(0, 0, 0, NULL);
}

/* RFC 9112 3.2: Host is required of HTTP/1.1 requests; an HTTP/1.0
 * request may leave it out, but never send two. */
static void test_framing_lets_http10_leave_out_host(void **state) {
    (void)state;
    const char *why = NULL;
    struct framing none = {0, 0, 0, NULL, true, 0, 0, 0}, two = {0, 0, 2, NULL, true, 0, 0, 0};
    assert_int_equal(framing_check(&none, &why), NX_OK);
    assert_int_equal(framing_check(&two, &why), NX_ERR_BAD_REQUEST);
}

/* Framing a proxy may read otherwise: a name with white space before its
 * colon, a second Content-Type, chunked framing in HTTP/1.0 (RFC 9112
 * 5.1, 6.1). */
static void test_framing_rejects_what_a_proxy_may_read_otherwise(void **state) {
    (void)state;
    const char *why = NULL;
    struct framing spaced = {0, 0, 1, NULL, false, 0, 1, 0};
    struct framing two_types = {1, 0, 1, NULL, false, 2, 0, 0};
    struct framing old_chunked = {0, 1, 1, "chunked", true, 0, 0, 0};
    struct framing fine = {1, 0, 1, NULL, false, 1, 0, 0};
    assert_int_equal(framing_check(&spaced, &why), NX_ERR_BAD_REQUEST);
    assert_int_equal(framing_check(&two_types, &why), NX_ERR_BAD_REQUEST);
    assert_int_equal(framing_check(&old_chunked, &why), NX_ERR_BAD_REQUEST);
    assert_int_equal(framing_check(&fine, &why), NX_OK);
    assert_true(header_name_is_token("Content-Length"));
    assert_true(header_name_is_token("X-Weird!#$%&'*+.^_`|~9"));
    assert_false(header_name_is_token("Content-Length "));
    assert_false(header_name_is_token("Content-Length\t"));
    assert_false(header_name_is_token("a:b"));
    assert_false(header_name_is_token(""));
}

/* libmicrohttpd 0.9.75 appends a folded line to the header's name: a
 * folded framing header frames nothing for it, but a length for a proxy
 * that unfolds it. */
static void test_framing_rejects_a_folded_framing_header(void **state) {
    (void)state;
    const char *why = NULL;
    struct framing folded = {.host_count = 1, .folded_framing_count = 1};
    assert_int_equal(framing_check(&folded, &why), NX_ERR_BAD_REQUEST);
    assert_non_null(strstr(why, "folded"));
    assert_true(header_name_is_folded_framing("Content-Length45"));
    assert_true(header_name_is_folded_framing("content-lengthx"));
    assert_true(header_name_is_folded_framing("Transfer-Encodingchunked"));
    assert_true(header_name_is_folded_framing("TRANSFER-ENCODING-x"));
    assert_false(header_name_is_folded_framing("Content-Length"));
    assert_false(header_name_is_folded_framing("transfer-encoding"));
    assert_false(header_name_is_folded_framing("Content-Type"));
    assert_false(header_name_is_folded_framing("Content-Lengt"));
    assert_false(header_name_is_folded_framing(""));
}

static void test_framing_rejects_two_hosts(void **state) {
    (void)state;
    assert_framing_rejected(0, 0, 2, NULL);
}

static void test_framing_rejects_two_content_lengths(void **state) {
    (void)state;
    assert_framing_rejected(2, 0, 1, NULL);
}

static void test_framing_rejects_two_transfer_encodings(void **state) {
    (void)state;
    assert_framing_rejected(0, 2, 1, "chunked");
}

static void test_framing_rejects_content_length_with_transfer_encoding(void **state) {
    (void)state;
    assert_framing_rejected(1, 1, 1, "chunked");
}

static void test_framing_rejects_gzip_transfer_encoding(void **state) {
    (void)state;
    assert_framing_rejected(0, 1, 1, "gzip");
}

static void test_framing_rejects_chunked_gzip_list(void **state) {
    (void)state;
    assert_framing_rejected(0, 1, 1, "chunked, gzip");
    assert_framing_rejected(0, 1, 1, "gzip, chunked");
}

static void test_framing_rejects_transfer_encoding_without_value(void **state) {
    (void)state;
    assert_framing_rejected(0, 1, 1, NULL);
    assert_framing_rejected(0, 1, 1, "");
}

static void test_framing_accepts_chunked(void **state) {
    (void)state;
    const char *why = NULL;
    assert_int_equal(check(0, 1, 1, "chunked", &why), NX_OK);
}

static void test_framing_accepts_chunked_case_insensitive(void **state) {
    (void)state;
    const char *why = NULL;
    assert_int_equal(check(0, 1, 1, "Chunked", &why), NX_OK);
    assert_int_equal(check(0, 1, 1, "CHUNKED", &why), NX_OK);
}

/* ---- content_type_is_json ----------------------------------------------- */

static void test_content_type_accepts_application_json(void **state) {
    (void)state;
    assert_true(content_type_is_json("application/json"));
}

static void test_content_type_accepts_any_case_with_parameters(void **state) {
    (void)state;
    assert_true(content_type_is_json("Application/JSON; charset=utf-8"));
    assert_true(content_type_is_json("application/json;charset=UTF-8"));
    assert_true(content_type_is_json("application/json ; charset=utf-8"));
}

static void test_content_type_accepts_surrounding_whitespace(void **state) {
    (void)state;
    assert_true(content_type_is_json(" application/json"));
    assert_true(content_type_is_json("\tapplication/json\t"));
}

static void test_content_type_rejects_text_plain(void **state) {
    (void)state;
    assert_false(content_type_is_json("text/plain"));
}

static void test_content_type_rejects_longer_subtype(void **state) {
    (void)state;
    assert_false(content_type_is_json("application/jsonx"));
    assert_false(content_type_is_json("application/json-patch+json"));
    assert_false(content_type_is_json("application/json/x"));
}

static void test_content_type_rejects_other_json_flavours(void **state) {
    (void)state;
    assert_false(content_type_is_json("application/problem+json"));
    assert_false(content_type_is_json("text/json"));
    assert_false(content_type_is_json("application/js"));
}

/* The body is read as UTF-8: another declared charset would be misread. */
static void test_content_type_rejects_charsets_other_than_utf8(void **state) {
    (void)state;
    assert_true(content_type_is_json("application/json; charset=\"UTF-8\""));
    assert_true(content_type_is_json("application/json; charset=us-ascii"));
    assert_true(content_type_is_json("application/json; v=1; Charset = utf8"));
    assert_false(content_type_is_json("application/json; charset=latin1"));
    assert_false(content_type_is_json("application/json; charset=utf-16"));
    assert_false(content_type_is_json("application/json; charset=utf-8x"));
    assert_false(content_type_is_json("application/json; charset="));
    assert_true(content_type_is("text/csv; header=present; charset=utf-8", "text/csv"));
    assert_false(content_type_is("text/csv; charset=windows-1252", "text/csv"));
}

static void test_content_coding_only_identity(void **state) {
    (void)state;
    assert_true(content_coding_is_identity(NULL));
    assert_true(content_coding_is_identity(""));
    assert_true(content_coding_is_identity(" Identity "));
    assert_false(content_coding_is_identity("gzip"));
    assert_false(content_coding_is_identity("identity, gzip"));
    assert_false(content_coding_is_identity("identityx"));
}

/* ---- etag_matches ------------------------------------------------------- */

static void test_etag_wildcard_only_as_the_whole_value(void **state) {
    (void)state;
    const char *tag = "\"abc\"";
    assert_true(etag_matches("*", tag, false));
    assert_true(etag_matches(" * ", tag, false));
    assert_false(etag_matches("**", tag, false));
    assert_false(etag_matches("*x", tag, false));
    assert_false(etag_matches("*,*", tag, false));
    assert_false(etag_matches("\"x\" *", tag, false));
    assert_false(etag_matches("*, \"stale\"", tag, false));
}

static void test_etag_lists_match_any_tag_and_malformed_lists_none(void **state) {
    (void)state;
    const char *tag = "\"abc\"";
    assert_true(etag_matches("\"x\", \"abc\"", tag, false));
    assert_true(etag_matches(" ,\"abc\" , ", tag, false));
    assert_true(etag_matches("W/\"abc\"", tag, true));
    assert_false(etag_matches("W/\"abc\"", tag, false));
    assert_false(etag_matches("\"x\" \"abc\"", tag, true)); /* no comma */
    assert_false(etag_matches("\"abc\", nonsense", tag, true));
    assert_false(etag_matches("abc", tag, true));
    assert_false(etag_matches("", tag, true));
}

static void test_etag_list_kinds(void **state) {
    (void)state;
    assert_int_equal(etag_list_kind(" * "), ETAG_LIST_WILDCARD);
    assert_int_equal(etag_list_kind("\"a\""), ETAG_LIST_STRONG);
    assert_int_equal(etag_list_kind("W/\"a\", \"b\""), ETAG_LIST_STRONG);
    assert_int_equal(etag_list_kind("W/\"a\""), ETAG_LIST_WEAK_ONLY);
    assert_int_equal(etag_list_kind("W/\"a\", ,W/\"b\""), ETAG_LIST_WEAK_ONLY);
    assert_int_equal(etag_list_kind(""), ETAG_LIST_MALFORMED);
    assert_int_equal(etag_list_kind(" , "), ETAG_LIST_MALFORMED);
    assert_int_equal(etag_list_kind("*x"), ETAG_LIST_MALFORMED);
    assert_int_equal(etag_list_kind("\"a\" \"b\""), ETAG_LIST_MALFORMED);
    assert_int_equal(etag_list_kind("W/\"a\", nonsense"), ETAG_LIST_MALFORMED);
}

static void test_content_type_rejects_null_and_empty(void **state) {
    (void)state;
    assert_false(content_type_is_json(NULL));
    assert_false(content_type_is_json(""));
    assert_false(content_type_is_json("   "));
}

/* ---- request_id_is_sane ------------------------------------------------- */

static void test_request_id_accepts_allowed_characters(void **state) {
    (void)state;
    assert_true(request_id_is_sane("a"));
    assert_true(request_id_is_sane("abc-DEF_123.xyz"));
    assert_true(request_id_is_sane("0123456789abcdef01234567"));
}

static void test_request_id_accepts_128_characters(void **state) {
    (void)state;
    char id[129];
    memset(id, 'a', 128);
    id[128] = '\0';
    assert_true(request_id_is_sane(id));
}

static void test_request_id_rejects_129_characters(void **state) {
    (void)state;
    char id[130];
    memset(id, 'a', 129);
    id[129] = '\0';
    assert_false(request_id_is_sane(id));
}

static void test_request_id_rejects_empty_and_null(void **state) {
    (void)state;
    assert_false(request_id_is_sane(""));
    assert_false(request_id_is_sane(NULL));
}

static void test_request_id_rejects_space_and_slash(void **state) {
    (void)state;
    assert_false(request_id_is_sane("a b"));
    assert_false(request_id_is_sane(" ab"));
    assert_false(request_id_is_sane("a/b"));
    assert_false(request_id_is_sane("a\"b"));
    assert_false(request_id_is_sane("a\r\nb"));
}

static void test_request_id_rejects_non_ascii(void **state) {
    (void)state;
    assert_false(request_id_is_sane("caf\xc3\xa9"));
    assert_false(request_id_is_sane("\xff"));
}

/* ---- db_map_sqlstate ---------------------------------------------------- */

static void test_sqlstate_connection_and_resource_errors_are_unavailable(void **state) {
    (void)state;
    assert_int_equal(db_map_sqlstate("08006"), NX_ERR_UNAVAILABLE);
    assert_int_equal(db_map_sqlstate("08001"), NX_ERR_UNAVAILABLE);
    assert_int_equal(db_map_sqlstate("57P01"), NX_ERR_UNAVAILABLE);
    assert_int_equal(db_map_sqlstate("53300"), NX_ERR_UNAVAILABLE);
    assert_int_equal(db_map_sqlstate("57014"), NX_ERR_UNAVAILABLE);
}

static void test_sqlstate_serialization_and_deadlock_are_unavailable(void **state) {
    (void)state;
    assert_int_equal(db_map_sqlstate("40001"), NX_ERR_UNAVAILABLE);
    assert_int_equal(db_map_sqlstate("40P01"), NX_ERR_UNAVAILABLE);
    assert_int_equal(db_map_sqlstate("55P03"), NX_ERR_UNAVAILABLE);
}

static void test_sqlstate_unique_and_foreign_key_are_conflict(void **state) {
    (void)state;
    assert_int_equal(db_map_sqlstate("23505"), NX_ERR_CONFLICT);
    assert_int_equal(db_map_sqlstate("23503"), NX_ERR_CONFLICT);
}

static void test_sqlstate_check_and_bad_text_are_validation(void **state) {
    (void)state;
    assert_int_equal(db_map_sqlstate("23514"), NX_ERR_VALIDATION);
    assert_int_equal(db_map_sqlstate("22P02"), NX_ERR_VALIDATION);
    assert_int_equal(db_map_sqlstate("22003"), NX_ERR_VALIDATION);
    assert_int_equal(db_map_sqlstate("23502"), NX_ERR_VALIDATION);
}

static void test_sqlstate_syntax_error_is_internal(void **state) {
    (void)state;
    assert_int_equal(db_map_sqlstate("42601"), NX_ERR_INTERNAL);
    assert_int_equal(db_map_sqlstate("42P01"), NX_ERR_INTERNAL);
    assert_int_equal(db_map_sqlstate("XX000"), NX_ERR_INTERNAL);
}

static void test_sqlstate_missing_is_unavailable(void **state) {
    (void)state;
    assert_int_equal(db_map_sqlstate(NULL), NX_ERR_UNAVAILABLE);
    assert_int_equal(db_map_sqlstate(""), NX_ERR_UNAVAILABLE);
    assert_int_equal(db_map_sqlstate("2350"), NX_ERR_UNAVAILABLE);
}

/* ---- redis_url_parse ---------------------------------------------------- */

static void test_redis_url_host_only_uses_defaults(void **state) {
    (void)state;
    struct redis_target t;
    assert_true(redis_url_parse("redis://localhost", &t));
    assert_string_equal(t.host, "localhost");
    assert_int_equal(t.port, 6379);
    assert_int_equal(t.db, 0);
    assert_string_equal(t.password, "");
}

static void test_redis_url_trailing_slash_is_db_zero(void **state) {
    (void)state;
    struct redis_target t;
    assert_true(redis_url_parse("redis://localhost/", &t));
    assert_string_equal(t.host, "localhost");
    assert_int_equal(t.db, 0);
}

static void test_redis_url_port_and_db(void **state) {
    (void)state;
    struct redis_target t;
    assert_true(redis_url_parse("redis://h:6380/2", &t));
    assert_string_equal(t.host, "h");
    assert_int_equal(t.port, 6380);
    assert_int_equal(t.db, 2);
    assert_string_equal(t.password, "");
}

static void test_redis_url_password_port_and_db(void **state) {
    (void)state;
    struct redis_target t;
    assert_true(redis_url_parse("redis://:pw@h:1/3", &t));
    assert_string_equal(t.password, "pw");
    assert_string_equal(t.host, "h");
    assert_int_equal(t.port, 1);
    assert_int_equal(t.db, 3);
}

static void test_redis_url_user_and_password(void **state) {
    (void)state;
    struct redis_target t;
    assert_true(redis_url_parse("redis://default:s3cret@cache.internal", &t));
    assert_string_equal(t.user, "default");
    assert_string_equal(t.password, "s3cret");
    assert_string_equal(t.host, "cache.internal");
    assert_int_equal(t.port, 6379);
    assert_true(redis_url_parse("redis://nx:secretpw@h:6380/0", &t));
    assert_string_equal(t.user, "nx");
    assert_string_equal(t.password, "secretpw");
    assert_string_equal(t.host, "h");
    assert_int_equal(t.port, 6380);
    /* a password alone, with or without its ':' */
    assert_true(redis_url_parse("redis://:pw@h", &t));
    assert_string_equal(t.user, "");
    assert_string_equal(t.password, "pw");
    assert_true(redis_url_parse("redis://pw@h", &t));
    assert_string_equal(t.user, "");
    assert_string_equal(t.password, "pw");
    assert_true(redis_url_parse("redis://h", &t));
    assert_string_equal(t.user, "");
}

/* The userinfo ends at the last '@' (a password may hold one), and is
 * percent-decoded (RFC 3986). */
static void test_redis_url_userinfo_is_decoded_up_to_the_last_at(void **state) {
    (void)state;
    struct redis_target t;
    assert_true(redis_url_parse("redis://nx:p@ss:w/rd@h:7/1", &t));
    assert_string_equal(t.user, "nx");
    assert_string_equal(t.password, "p@ss:w/rd");
    assert_string_equal(t.host, "h");
    assert_int_equal(t.port, 7);
    assert_int_equal(t.db, 1);
    assert_true(redis_url_parse("redis://a%3Ab%40c:%25p%40%2fw%3a@[::1]", &t));
    assert_string_equal(t.user, "a:b@c");
    assert_string_equal(t.password, "%p@/w:");
    assert_string_equal(t.host, "::1");
    assert_true(redis_url_parse("redis://:caf%C3%A9@h", &t));
    assert_string_equal(t.password, "caf\xc3\xa9");
}

static void test_redis_url_unix_socket_with_userinfo(void **state) {
    (void)state;
    struct redis_target t;
    assert_true(redis_url_parse("unix://nx:secret%40pw@/tmp/r.sock?db=3", &t));
    assert_string_equal(t.user, "nx");
    assert_string_equal(t.password, "secret@pw");
    assert_string_equal(t.host, "/tmp/r.sock");
    assert_int_equal(t.port, 0);
    assert_int_equal(t.db, 3);
    assert_true(redis_url_parse("unix://:p@w@/run/a@b/r.sock", &t));
    assert_string_equal(t.user, "");
    assert_string_equal(t.password, "p@w");
    assert_string_equal(t.host, "/run/a@b/r.sock");
    assert_true(redis_url_parse("unix:///run/a@b/r.sock", &t));
    assert_string_equal(t.password, "");
    assert_string_equal(t.host, "/run/a@b/r.sock");
}

static void test_redis_url_unix_socket(void **state) {
    (void)state;
    struct redis_target t;
    assert_true(redis_url_parse("unix:///tmp/r.sock", &t));
    assert_string_equal(t.host, "/tmp/r.sock");
    assert_int_equal(t.port, 0);
    assert_int_equal(t.db, 0);
}

static void test_redis_url_unix_socket_with_db(void **state) {
    (void)state;
    struct redis_target t;
    assert_true(redis_url_parse("unix:///tmp/r.sock?db=4", &t));
    assert_string_equal(t.host, "/tmp/r.sock");
    assert_int_equal(t.port, 0);
    assert_int_equal(t.db, 4);
}

static void test_redis_url_ipv6_address(void **state) {
    (void)state;
    struct redis_target t;
    assert_true(redis_url_parse("redis://[::1]:6380/1", &t));
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 6380);
    assert_int_equal(t.db, 1);
    assert_true(redis_url_parse("redis://:pw@[fd00::12]", &t));
    assert_string_equal(t.host, "fd00::12");
    assert_string_equal(t.password, "pw");
    assert_int_equal(t.port, 6379);
}

static void assert_redis_url_rejected(const char *url) {
    struct redis_target t;
    if (redis_url_parse(url, &t))
        fail_msg("redis_url_parse accepted \"%s\"", url);
}

static void test_redis_url_rejects_other_scheme(void **state) {
    (void)state;
    assert_redis_url_rejected("http://x");
    assert_redis_url_rejected("rediss://x");
    assert_redis_url_rejected("REDIS://x");
    assert_redis_url_rejected("");
}

static void test_redis_url_rejects_missing_host(void **state) {
    (void)state;
    assert_redis_url_rejected("redis://");
    assert_redis_url_rejected("redis://:6379");
    assert_redis_url_rejected("redis://:pw@");
    assert_redis_url_rejected("redis://[::1");
    assert_redis_url_rejected("redis://[]:6379");
    assert_redis_url_rejected("redis://[::1]x");
}

static void test_redis_url_rejects_port_zero(void **state) {
    (void)state;
    assert_redis_url_rejected("redis://h:0");
}

static void test_redis_url_rejects_port_out_of_range(void **state) {
    (void)state;
    assert_redis_url_rejected("redis://h:99999");
    assert_redis_url_rejected("redis://h:65536");
    assert_redis_url_rejected("redis://h:");
    assert_redis_url_rejected("redis://h:abc");
}

static void test_redis_url_rejects_db_above_15(void **state) {
    (void)state;
    assert_redis_url_rejected("redis://h/16");
    assert_redis_url_rejected("redis://h/x");
    assert_redis_url_rejected("redis://h/1/2");
}

static void test_redis_url_rejects_relative_unix_path(void **state) {
    (void)state;
    assert_redis_url_rejected("unix://relative");
    assert_redis_url_rejected("unix://");
}

static void test_redis_url_rejects_bad_unix_query(void **state) {
    (void)state;
    assert_redis_url_rejected("unix:///tmp/r.sock?db=16");
    assert_redis_url_rejected("unix:///tmp/r.sock?db=");
    assert_redis_url_rejected("unix:///tmp/r.sock?x=1");
}

static void test_redis_url_rejects_bad_userinfo(void **state) {
    (void)state;
    char url[400];
    assert_redis_url_rejected("redis://:p%4@h");
    assert_redis_url_rejected("redis://:p%@h");
    assert_redis_url_rejected("redis://:p%zz@h");
    assert_redis_url_rejected("redis://:p%00w@h");
    assert_redis_url_rejected("redis://u%0:p@h");
    assert_redis_url_rejected("unix://nx:pw@relative");
    assert_redis_url_rejected("unix://nx:pw%2@/tmp/r.sock");
    snprintf(url, sizeof url, "redis://:%0128d@h", 0); /* 128 bytes: one too many */
    assert_redis_url_rejected(url);
    snprintf(url, sizeof url, "redis://%0128d:pw@h", 0);
    assert_redis_url_rejected(url);
    snprintf(url, sizeof url, "redis://:%0127d@h", 0);
    struct redis_target t;
    assert_true(redis_url_parse(url, &t));
    assert_int_equal(strlen(t.password), 127);
}

static void test_redis_url_rejects_overlong_host(void **state) {
    (void)state;
    char url[400] = "redis://";
    memset(url + 8, 'h', 300);
    url[308] = '\0';
    assert_redis_url_rejected(url);
}

/* ---- Idempotency-Key: 1..255 printable ASCII characters ---------------- */

static void test_idempotency_key_of_printable_ascii_is_accepted(void **state) {
    (void)state;
    assert_true(idempotency_key_valid("a"));
    assert_true(idempotency_key_valid("8e03978e-40d5-43e8-bc93-6894a57f9324"));
    assert_true(idempotency_key_valid("with spaces and ~!@#$%^&*()"));
}

static void test_idempotency_key_length_is_bounded_to_255(void **state) {
    (void)state;
    char key[300];
    memset(key, 'k', sizeof key);
    key[255] = '\0';
    assert_true(idempotency_key_valid(key));
    key[255] = 'k';
    key[256] = '\0';
    assert_false(idempotency_key_valid(key));
    assert_false(idempotency_key_valid(""));
}

static void test_idempotency_key_with_control_or_non_ascii_bytes_is_rejected(void **state) {
    (void)state;
    assert_false(idempotency_key_valid("tab\there"));
    assert_false(idempotency_key_valid("new\nline"));
    assert_false(idempotency_key_valid("del\x7f"));
    assert_false(idempotency_key_valid("caf\xc3\xa9"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idempotency_key_of_printable_ascii_is_accepted),
        cmocka_unit_test(test_idempotency_key_length_is_bounded_to_255),
        cmocka_unit_test(test_idempotency_key_with_control_or_non_ascii_bytes_is_rejected),
        cmocka_unit_test(test_framing_ok_with_one_host),
        cmocka_unit_test(test_framing_rejects_what_a_proxy_may_read_otherwise),
        cmocka_unit_test(test_framing_rejects_a_folded_framing_header),
        cmocka_unit_test(test_framing_ok_with_one_content_length),
        cmocka_unit_test(test_framing_rejects_missing_host),
        cmocka_unit_test(test_framing_lets_http10_leave_out_host),
        cmocka_unit_test(test_framing_rejects_two_hosts),
        cmocka_unit_test(test_framing_rejects_two_content_lengths),
        cmocka_unit_test(test_framing_rejects_two_transfer_encodings),
        cmocka_unit_test(test_framing_rejects_content_length_with_transfer_encoding),
        cmocka_unit_test(test_framing_rejects_gzip_transfer_encoding),
        cmocka_unit_test(test_framing_rejects_chunked_gzip_list),
        cmocka_unit_test(test_framing_rejects_transfer_encoding_without_value),
        cmocka_unit_test(test_framing_accepts_chunked),
        cmocka_unit_test(test_framing_accepts_chunked_case_insensitive),
        cmocka_unit_test(test_content_type_accepts_application_json),
        cmocka_unit_test(test_content_type_accepts_any_case_with_parameters),
        cmocka_unit_test(test_content_type_accepts_surrounding_whitespace),
        cmocka_unit_test(test_content_type_rejects_text_plain),
        cmocka_unit_test(test_content_type_rejects_longer_subtype),
        cmocka_unit_test(test_content_type_rejects_other_json_flavours),
        cmocka_unit_test(test_content_type_rejects_null_and_empty),
        cmocka_unit_test(test_content_type_rejects_charsets_other_than_utf8),
        cmocka_unit_test(test_content_coding_only_identity),
        cmocka_unit_test(test_etag_wildcard_only_as_the_whole_value),
        cmocka_unit_test(test_etag_lists_match_any_tag_and_malformed_lists_none),
        cmocka_unit_test(test_etag_list_kinds),
        cmocka_unit_test(test_request_id_accepts_allowed_characters),
        cmocka_unit_test(test_request_id_accepts_128_characters),
        cmocka_unit_test(test_request_id_rejects_129_characters),
        cmocka_unit_test(test_request_id_rejects_empty_and_null),
        cmocka_unit_test(test_request_id_rejects_space_and_slash),
        cmocka_unit_test(test_request_id_rejects_non_ascii),
        cmocka_unit_test(test_sqlstate_connection_and_resource_errors_are_unavailable),
        cmocka_unit_test(test_sqlstate_serialization_and_deadlock_are_unavailable),
        cmocka_unit_test(test_sqlstate_unique_and_foreign_key_are_conflict),
        cmocka_unit_test(test_sqlstate_check_and_bad_text_are_validation),
        cmocka_unit_test(test_sqlstate_syntax_error_is_internal),
        cmocka_unit_test(test_sqlstate_missing_is_unavailable),
        cmocka_unit_test(test_redis_url_host_only_uses_defaults),
        cmocka_unit_test(test_redis_url_trailing_slash_is_db_zero),
        cmocka_unit_test(test_redis_url_port_and_db),
        cmocka_unit_test(test_redis_url_password_port_and_db),
        cmocka_unit_test(test_redis_url_user_and_password),
        cmocka_unit_test(test_redis_url_userinfo_is_decoded_up_to_the_last_at),
        cmocka_unit_test(test_redis_url_unix_socket_with_userinfo),
        cmocka_unit_test(test_redis_url_rejects_bad_userinfo),
        cmocka_unit_test(test_redis_url_unix_socket),
        cmocka_unit_test(test_redis_url_unix_socket_with_db),
        cmocka_unit_test(test_redis_url_ipv6_address),
        cmocka_unit_test(test_redis_url_rejects_other_scheme),
        cmocka_unit_test(test_redis_url_rejects_missing_host),
        cmocka_unit_test(test_redis_url_rejects_port_zero),
        cmocka_unit_test(test_redis_url_rejects_port_out_of_range),
        cmocka_unit_test(test_redis_url_rejects_db_above_15),
        cmocka_unit_test(test_redis_url_rejects_relative_unix_path),
        cmocka_unit_test(test_redis_url_rejects_bad_unix_query),
        cmocka_unit_test(test_redis_url_rejects_overlong_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
