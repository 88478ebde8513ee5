/*
 * mail.c -- message rendering, SMTP (libcurl) and file transports.
 */
#include "nexus/jobs/mail.h"

#include "nexus/core/log.h"
#include "nexus/core/xmem.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Append a header value with CR and LF removed. */
static void header_value(struct buf *b, const char *v) {
    for (; *v; v++)
        if (*v != '\r' && *v != '\n')
            buf_append(b, v, 1);
}

static void header(struct buf *b, const char *name, const char *value) {
    buf_puts(b, name);
    buf_puts(b, ": ");
    header_value(b, value);
    buf_puts(b, "\r\n");
}

/* Subject: as it is when it is printable ASCII, else as encoded words of
 * at most 45 bytes of UTF-8 each (60 base64 characters, 75 with their
 * frame), never splitting a character, on folded lines. */
static void subject_header(struct buf *b, const char *subject) {
    bool ascii = true;
    for (const unsigned char *p = (const unsigned char *)subject; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            ascii = false;
    if (ascii) {
        header(b, "Subject", subject);
        return;
    }
    buf_puts(b, "Subject:");
    size_t len = strlen(subject);
    for (size_t i = 0; i < len;) {
        size_t n = len - i > 45 ? 45 : len - i;
        while (i + n < len && ((unsigned char)subject[i + n] & 0xC0) == 0x80)
            n--; /* end before a continuation byte */
        char enc[64];
        sodium_bin2base64(enc, sizeof enc, (const unsigned char *)subject + i, n,
                          sodium_base64_VARIANT_ORIGINAL);
        buf_puts(b, i ? "\r\n =?UTF-8?B?" : " =?UTF-8?B?");
        buf_puts(b, enc);
        buf_puts(b, "?=");
        i += n;
    }
    buf_puts(b, "\r\n");
}

/* A body with every line end made CRLF. */
static void body_lines(struct buf *b, const char *text) {
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            buf_append(b, "\r\n", 2);
        else if (*p != '\r')
            buf_append(b, p, 1);
    }
    buf_puts(b, "\r\n");
}

static void part(struct buf *b, const char *boundary, const char *type, const char *text) {
    buf_printf(b,
               "--%s\r\nContent-Type: %s; charset=utf-8\r\n"
               "Content-Transfer-Encoding: 8bit\r\n\r\n",
               boundary, type);
    body_lines(b, text);
}

/* The recipients, folded between addresses (RFC 5322 2.2.3) where a line
 * would pass 78 characters: a low-stock alert goes to every staff user,
 * and a line may not pass 998. */
static void to_header(struct buf *b, const struct mail *m) {
    size_t line_start = b->len;
    buf_puts(b, "To: ");
    for (size_t i = 0; i < m->to_count; i++) {
        if (i && b->len - line_start + 2 + strlen(m->to[i]) > 78) {
            buf_puts(b, ",\r\n");
            line_start = b->len;
            buf_puts(b, " ");
        } else if (i) {
            buf_puts(b, ", ");
        }
        header_value(b, m->to[i]);
    }
    buf_puts(b, "\r\n");
}

char *mail_render(const struct config *cfg, const struct mail *m, size_t *len) {
    struct buf b = {0};
    char date[64], id[300];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(id, sizeof id, "<%s>", m->message_id);
    header(&b, "From", cfg->mail_from);
    to_header(&b, m);
    subject_header(&b, m->subject);
    header(&b, "Date", date);
    header(&b, "Message-ID", id);
    buf_puts(&b, "MIME-Version: 1.0\r\n");
    if (!m->html) {
        buf_puts(&b, "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 8bit\r\n\r\n");
        body_lines(&b, m->body);
        return buf_take(&b, len);
    }
    /* 128 random bits: no text of the message can contain the boundary. */
    unsigned char raw[16];
    char boundary[2 * sizeof raw + 16] = "=_nexus_";
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(boundary + 8, sizeof boundary - 8, raw, sizeof raw);
    buf_printf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
    part(&b, boundary, "text/plain", m->body);
    part(&b, boundary, "text/html", m->html);
    buf_printf(&b, "--%s--\r\n", boundary);
    return buf_take(&b, len);
}

struct upload {
    const char *data;
    size_t len, sent;
};

static size_t read_message(char *out, size_t size, size_t n, void *ud) {
    struct upload *u = ud;
    size_t room = size * n, left = u->len - u->sent;
    size_t chunk = left < room ? left : room;
    memcpy(out, u->data + u->sent, chunk);
    u->sent += chunk;
    return chunk;
}

/* The recipients the server refused, from the conversation libcurl
 * reports: each RCPT TO is answered before the next is sent. */
struct refusals {
    char asked[320]; /* the address of the RCPT TO awaiting its reply */
    struct buf list; /* "address (code), ..." */
};

static void note_rcpt(struct refusals *f, const char *line, size_t len) {
    const char *open = memchr(line, '<', len), *close = memchr(line, '>', len);
    f->asked[0] = '\0';
    if (open && close > open)
        snprintf(f->asked, sizeof f->asked, "%.*s", (int)(close - open - 1), open + 1);
}

/* A reply's last line ("550 ..." rather than "550-..."). */
static void note_reply(struct refusals *f, const char *line, size_t len) {
    if (!f->asked[0] || len < 4 || line[3] != ' ')
        return;
    if (line[0] != '2')
        buf_printf(&f->list, "%s%s (%.3s)", f->list.len ? ", " : "", f->asked, line);
    f->asked[0] = '\0';
}

static int watch_replies(CURL *c, curl_infotype type, char *data, size_t size, void *ud) {
    (void)c;
    if (type == CURLINFO_HEADER_OUT && size > 8 && strncasecmp(data, "RCPT TO:", 8) == 0)
        note_rcpt(ud, data, size);
    else if (type == CURLINFO_HEADER_IN)
        note_reply(ud, data, size);
    return 0;
}

static bool send_smtp(const struct config *cfg, const struct mail *m, const char *msg, size_t len,
                      char *err, size_t errcap) {
    CURL *c = curl_easy_init();
    struct curl_slist *rcpt = NULL;
    struct upload u = {msg, len, 0};
    struct refusals refused = {.asked = ""};
    char from[300];
    if (!c) {
        snprintf(err, errcap, "libcurl could not start");
        return false;
    }
    snprintf(from, sizeof from, "<%s>", cfg->mail_from);
    for (size_t i = 0; i < m->to_count; i++)
        rcpt = curl_slist_append(rcpt, m->to[i]);
    curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    /* A recipient the server refuses (a mistyped staff address) is left
     * out, and the message goes to the others: it fails only when every
     * recipient is refused. (libcurl 7.88 spells the option with LLL.) */
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, watch_replies);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, &refused);
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK)
        snprintf(err, errcap, "SMTP: %s (last reply %ld)", curl_easy_strerror(rc), code);
    else if (refused.list.len)
        log_warn("mail.refused", NULL, "message %s went to the other recipients; refused: %s",
                 m->message_id, refused.list.data);
    buf_clear(&refused.list);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    return rc == CURLE_OK;
}

/* The directory and its parents, as `mkdir -p` (var/mail in a fresh
 * working directory has neither). Errors show when the file is opened. */
static void make_dirs(const char *dir) {
    char path[1024];
    size_t n = (size_t)snprintf(path, sizeof path, "%s", dir);
    if (n >= sizeof path)
        return;
    for (size_t i = 1; i < n; i++)
        if (path[i] == '/') {
            path[i] = '\0';
            mkdir(path, 0755);
            path[i] = '/';
        }
    mkdir(path, 0755);
}

/* Write atomically: a reader never sees half a message. */
static bool write_file(const struct config *cfg, const struct mail *m, const char *msg, size_t len,
                       char *err, size_t errcap) {
    char path[1024], tmp[1100];
    make_dirs(cfg->mail_dir);
    snprintf(path, sizeof path, "%s/%s.eml", cfg->mail_dir, m->message_id);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    bool ok = fd >= 0 && write(fd, msg, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok)
        snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
    return ok;
}

bool mail_send(const struct config *cfg, const struct mail *m, char *err, size_t errcap) {
    size_t len;
    char *msg = mail_render(cfg, m, &len);
    bool ok = cfg->smtp_url ? send_smtp(cfg, m, msg, len, err, errcap)
                            : write_file(cfg, m, msg, len, err, errcap);
    free(msg);
    return ok;
}
