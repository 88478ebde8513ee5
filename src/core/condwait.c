/*
 * condwait.c -- condition waits with a deadline on the monotonic clock.
 */
#define _GNU_SOURCE /* pthread_cond_clockwait (glibc 2.30) */
#include "nexus/core/condwait.h"

#include "nexus/core/log.h"

#include <errno.h>
#include <time.h>

int cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mutex, uint64_t until_us) {
    struct timespec at = {(time_t)(until_us / 1000000u), (long)(until_us % 1000000u) * 1000L};
    return pthread_cond_clockwait(cond, mutex, CLOCK_MONOTONIC, &at);
}

int cond_wait_for(pthread_cond_t *cond, pthread_mutex_t *mutex, uint64_t wait_us) {
    return cond_wait_until(cond, mutex, now_us() + wait_us);
}

bool sem_take_within(sem_t *sem, uint64_t wait_us) {
    uint64_t until_us = now_us() + wait_us;
    struct timespec at = {(time_t)(until_us / 1000000u), (long)(until_us % 1000000u) * 1000L};
    while (sem_clockwait(sem, CLOCK_MONOTONIC, &at) != 0)
        if (errno != EINTR)
            return false;
    return true;
}
