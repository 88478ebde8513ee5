/*
 * handlers.c -- one function per job kind.
 *
 * welcome_email   {user_id, email, name}: greet a new customer.
 * verification_email {user_id}: a link that verifies the user's address.
 * password_reset_email {email}: a link that sets a new password, when an
 *                 active account has that address.
 * low_stock_alert {product_id, sku, name, stock, threshold}: tell every
 *                 active staff member and admin that a product runs low.
 * import          {import_id}: apply an uploaded import (jobs/import.c).
 * noop            {}: does nothing; measures the queue itself.
 */
#include "nexus/jobs/account_mail.h"
#include "nexus/jobs/import.h"
#include "nexus/jobs/mail.h"
#include "nexus/jobs/worker.h"

#include "nexus/core/xmem.h"

#include <stdio.h>
#include <string.h>

static struct db_stmt SQL_STAFF_EMAILS = {
    "SELECT email FROM users WHERE role IN ('staff', 'admin') AND is_active ORDER BY id LIMIT 256",
    0, 0};

/* <nexus-job-ID.CREATED@domain of MAIL_FROM>: the same for every attempt,
 * and not the Message-ID of another database's job ID (a staging copy, a
 * database created again), which a mailbox would drop as a duplicate. */
static void message_id(const struct config *cfg, const struct job *job, char *out, size_t cap) {
    const char *at = strchr(cfg->mail_from, '@');
    char domain[128] = "localhost";
    size_t n = 0;
    for (const char *p = at ? at + 1 : ""; *p && *p != '>' && n + 1 < sizeof domain; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '-')
            domain[n++] = *p;
    if (n)
        domain[n] = '\0';
    snprintf(out, cap, "nexus-job-%lld.%lld@%s", (long long)job->id, (long long)job->created_us,
             domain);
}

static const char *payload_string(const struct job *job, const char *key) {
    const char *v = json_string_value(json_object_get(job->payload, key));
    return v ? v : "";
}

static bool low_stock_alert(const struct config *cfg, struct db *db, const struct job *job,
                            char *err, size_t errcap) {
    PGresult *r = NULL;
    if (db_exec(db, &SQL_STAFF_EMAILS, NULL, &r) != NX_OK) {
        snprintf(err, errcap, "cannot read the staff list");
        return false;
    }
    struct mail m = {.to_count = 0};
    for (int i = 0; i < PQntuples(r) && m.to_count < NX_MAIL_MAX_RECIPIENTS; i++)
        m.to[m.to_count++] = PQgetvalue(r, i, 0);
    bool ok = true;
    if (m.to_count) { /* nobody to tell is not a failure */
        char id[200], subject[300];
        struct buf body = {0};
        json_t *p = job->payload;
        snprintf(subject, sizeof subject, "Low stock: %s", payload_string(job, "sku"));
        buf_printf(&body,
                   "Product %lld (%s, \"%s\") is down to %lld in stock, below the alert "
                   "threshold of %lld.\n",
                   (long long)json_integer_value(json_object_get(p, "product_id")),
                   payload_string(job, "sku"), payload_string(job, "name"),
                   (long long)json_integer_value(json_object_get(p, "stock")),
                   (long long)json_integer_value(json_object_get(p, "threshold")));
        message_id(cfg, job, id, sizeof id);
        m.subject = subject;
        m.body = body.data;
        m.message_id = id;
        ok = mail_send(cfg, &m, err, errcap);
        buf_clear(&body);
    }
    PQclear(r);
    return ok;
}

void job_dead(const struct config *cfg, struct db *db, const struct job *job) {
    if (strcmp(job->kind, "import") == 0)
        import_job_dead(cfg, db, job);
}

bool job_handle(const struct config *cfg, struct db *db, const struct job *job, char *err,
                size_t errcap) {
    if (!json_is_object(job->payload)) {
        snprintf(err, errcap, "payload is not a JSON object");
        return false;
    }
    char id[200];
    message_id(cfg, job, id, sizeof id);
    if (strcmp(job->kind, "welcome_email") == 0)
        return account_mail_welcome(cfg, db, job, id, err, errcap);
    if (strcmp(job->kind, "verification_email") == 0)
        return account_mail_verify(cfg, db, job, id, err, errcap);
    if (strcmp(job->kind, "password_reset_email") == 0)
        return account_mail_reset(cfg, db, job, id, err, errcap);
    if (strcmp(job->kind, "noop") == 0)
        return true;
    if (strcmp(job->kind, "low_stock_alert") == 0)
        return low_stock_alert(cfg, db, job, err, errcap);
    if (strcmp(job->kind, "import") == 0)
        return import_job(cfg, db, job, err, errcap);
    snprintf(err, errcap, "no handler for job kind '%s'", job->kind);
    return false;
}
