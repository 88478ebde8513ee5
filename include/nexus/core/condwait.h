/*
 * condwait.h -- condition waits with a deadline on the monotonic clock.
 *
 * pthread_cond_timedwait counts its deadline on CLOCK_REALTIME unless the
 * condition was made for another clock: a deadline computed from the
 * wall clock moves when that clock is set, and one stepped back an hour
 * makes a wait of 200 ms last an hour. These waits take a now_us()
 * moment (core/log.h, CLOCK_MONOTONIC) and wait on that clock, whatever
 * the condition was initialised with (PTHREAD_COND_INITIALIZER too).
 */
#ifndef NEXUS_CORE_CONDWAIT_H
#define NEXUS_CORE_CONDWAIT_H

#include <pthread.h>
#include <stdbool.h>
#include <semaphore.h>
#include <stdint.h>

/* Wait on cond (mutex held) until it is signalled or now_us() reaches
 * until_us: 0 when woken (a wakeup may be spurious: check the condition),
 * ETIMEDOUT once the deadline has passed. */
int cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mutex, uint64_t until_us);

/* cond_wait_until now_us() + wait_us. */
int cond_wait_for(pthread_cond_t *cond, pthread_mutex_t *mutex, uint64_t wait_us);

/* Take sem, waiting at most wait_us on the monotonic clock (through
 * signals): true when taken, false once the wait is over. */
bool sem_take_within(sem_t *sem, uint64_t wait_us);

#endif
