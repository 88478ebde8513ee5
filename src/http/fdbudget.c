/*
 * fdbudget.c -- the client connections the open-files limit allows
 * (http/fdbudget.h).
 */
#include "nexus/http/fdbudget.h"

#include "nexus/core/log.h"

#include <sys/resource.h>

unsigned long long fdbudget_wanted(int connections, unsigned long long soft,
                                   unsigned long long hard) {
    unsigned long long need = (unsigned long long)connections + FDBUDGET_KEPT;
    if (soft == 0 || soft >= need)
        return soft;
    return hard == 0 || hard >= need ? need : hard;
}

struct fd_budget fdbudget_fit(int connections, int per_ip, unsigned long long files) {
    struct fd_budget b = {connections, per_ip, false};
    if (files == 0 || files >= (unsigned long long)connections + FDBUDGET_KEPT)
        return b;
    b.connections = files > FDBUDGET_KEPT + 4 ? (int)(files - FDBUDGET_KEPT) : 4;
    if (b.per_ip > b.connections / 2)
        b.per_ip = b.connections / 2;
    b.reduced = true;
    return b;
}

/* rlim_t with RLIM_INFINITY as 0, as the functions above take it. */
static unsigned long long files_of(rlim_t v) {
    return v == RLIM_INFINITY ? 0 : (unsigned long long)v;
}

struct fd_budget fdbudget_apply(int connections, int per_ip) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return fdbudget_fit(connections, per_ip, 0);
    unsigned long long soft = files_of(rl.rlim_cur);
    unsigned long long want = fdbudget_wanted(connections, soft, files_of(rl.rlim_max));
    if (want != soft) {
        struct rlimit raised = {(rlim_t)want, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            soft = want;
    }
    struct fd_budget b = fdbudget_fit(connections, per_ip, soft);
    if (b.reduced)
        log_warn("http.limits", NULL,
                 "CONNECTION_LIMIT %d does not fit the open-files limit of %llu: at most %d "
                 "connections are admitted, %d from one address",
                 connections, soft, b.connections, b.per_ip);
    return b;
}
