/*
 * imports.c -- an NDJSON import run to its end through the API (a worker
 * must be running).
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

json_t *harness_import_run(const char *token, const char *body) {
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *h[] = {auth, "Content-Type: application/x-ndjson", NULL};
    struct http_res *r = http_request("POST", "/api/v1/imports", h, body, strlen(body));
    expect_status(r, 202, "import");
    char location[64];
    snprintf(location, sizeof location, "/api/v1/imports/%lld", jint(r->json, "id"));
    http_res_free(r);
    for (int i = 0; i < 600; i++) {
        r = call("GET", location, token, NULL);
        expect_status(r, 200, "import");
        const char *status = jstr(r->json, "status");
        if (strcmp(status, "done") == 0 || strcmp(status, "failed") == 0) {
            json_t *j = json_incref(r->json);
            http_res_free(r);
            return j;
        }
        http_res_free(r);
        usleep(100 * 1000);
    }
    fail_msg("import did not finish within 60 s");
    return NULL;
}

void harness_import_ndjson(const char *token, const char *body) {
    json_t *imp = harness_import_run(token, body);
    if (strcmp(jstr(imp, "status"), "done") != 0 || jint(imp, "failed") != 0)
        fail_msg("import: %s", dump(json_incref(imp)));
    json_decref(imp);
}
