/*
 * test_condwait.c -- condition waits with a deadline on the monotonic
 * clock: a deadline is a now_us() moment, and the wait neither ends
 * before it nor misses a signal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/condwait.h"
#include "nexus/core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool signalled;

/* Wait until the deadline, past any spurious wakeup; what the last wait
 * returned. */
static int wait_out(uint64_t until_us) {
    int rc;
    pthread_mutex_lock(&lock);
    while ((rc = cond_wait_until(&wake, &lock, until_us)) == 0)
        ;
    pthread_mutex_unlock(&lock);
    return rc;
}

/* A now_us() moment is small next to the wall clock's: a wait that read it
 * on CLOCK_REALTIME would see it decades past and end at once. */
static void test_a_deadline_ahead_is_waited_for(void **state) {
    (void)state;
    uint64_t until = now_us() + 20000;
    assert_int_equal(wait_out(until), ETIMEDOUT);
    assert_true(now_us() >= until);
}

static void test_cond_wait_for_waits_from_now(void **state) {
    (void)state;
    uint64_t start = now_us();
    int rc;
    pthread_mutex_lock(&lock);
    while ((rc = cond_wait_for(&wake, &lock, 20000)) == 0)
        ;
    pthread_mutex_unlock(&lock);
    assert_int_equal(rc, ETIMEDOUT);
    assert_true(now_us() >= start + 20000);
}

static void test_a_deadline_passed_times_out(void **state) {
    (void)state;
    assert_int_equal(wait_out(now_us() - 1), ETIMEDOUT);
    assert_int_equal(wait_out(0), ETIMEDOUT);
}

static void *signal_once(void *arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    signalled = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* A signal ends the wait long before its deadline (an hour on). */
static void test_a_signal_wakes_the_wait(void **state) {
    (void)state;
    uint64_t until = now_us() + 3600u * 1000000u;
    pthread_t t;
    pthread_mutex_lock(&lock);
    signalled = false;
    assert_int_equal(pthread_create(&t, NULL, signal_once, NULL), 0);
    int rc = 0;
    while (!signalled && rc == 0)
        rc = cond_wait_until(&wake, &lock, until);
    pthread_mutex_unlock(&lock);
    pthread_join(t, NULL);
    assert_int_equal(rc, 0);
    assert_true(signalled);
}

/* A semaphore with a count is taken at once; one without is given up on
 * once the wait (on the monotonic clock) is over, not before. */
static void test_a_semaphore_is_taken_within_the_wait(void **state) {
    (void)state;
    sem_t sem;
    assert_int_equal(sem_init(&sem, 0, 1), 0);
    assert_true(sem_take_within(&sem, 3600u * 1000000u));
    uint64_t start = now_us();
    assert_false(sem_take_within(&sem, 20000));
    assert_true(now_us() >= start + 20000);
    sem_destroy(&sem);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_deadline_ahead_is_waited_for),
        cmocka_unit_test(test_cond_wait_for_waits_from_now),
        cmocka_unit_test(test_a_deadline_passed_times_out),
        cmocka_unit_test(test_a_signal_wakes_the_wait),
        cmocka_unit_test(test_a_semaphore_is_taken_within_the_wait),
    };
    return cmocka_run_group_tests_name("condwait", tests, NULL, NULL);
}
