/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktest - the lab's tiny in-guest test harness.
 *
 * A suite is one static binary made of TEST() functions. Each test runs in a
 * forked child, so a crash, a hang (per-test alarm) or a leaked fd of one test
 * cannot take the others down. The suite prints a KTAP document:
 *
 *	KTAP version 1
 *	1..N
 *	ok 1 test_name
 *	not ok 2 other_test
 *
 * with the diagnostics of a failing test as "# " lines just before its
 * result. Before each test a marker "klab: test <suite>.<test>" is written to
 * /dev/kmsg so that a kernel splat on the console is blamed on the test that
 * caused it.
 *
 * Inside a test:
 *	KT_EXPECT(cond)			   record a failure, go on
 *	KT_ASSERT(cond)			   record a failure, end the test
 *	KT_EXPECT_EQ(a, b)		   integers, both values printed on failure
 *	KT_EXPECT_ERRNO(call, err)	   call must return -1 with errno == err
 *	KT_ASSERT_OK(call)		   call must not return -1
 *	kt_skip("why")			   end the test as skipped
 *	kt_need_cpus(n)			   skip, with the reason, on a
 *					   uniprocessor User-Mode Linux guest
 *	kt_log("fmt", ...)		   diagnostic line
 *	kt_current()			   name of the running test
 *
 * A suite binary runs every test, or only those named as arguments;
 * "--list" prints the names of its tests, one a line, and runs none.
 */
#ifndef KLAB_KTEST_H
#define KLAB_KTEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef void (*kt_fn)(void);

void kt_register(const char *name, kt_fn fn, unsigned int timeout_s);
void kt_fail_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void kt_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void kt_end_test(void);
_Noreturn void kt_skip(const char *why);
/* Is the guest User-Mode Linux (make test BACKEND=uml)? */
bool kt_uml(void);
/*
 * A test that needs n CPUs online: on User-Mode Linux, uniprocessor in 6.12,
 * it is skipped with the reason in its KTAP line (never silently dropped);
 * elsewhere fewer CPUs is a failure of the guest, and the test ends.
 */
void kt_need_cpus(long n);
int kt_failed(void);
/*
 * The name of the running test: lets one function serve several tests
 * registered at run time (one per row of a table).
 */
const char *kt_current(void);
/* Run all registered tests (or only those named in argv) and print KTAP. */
int kt_main(int argc, char **argv);

#define KT_DEFAULT_TIMEOUT 60

/* TEST(name) { ... } defines and registers a test with the default timeout. */
#define TEST(name) TEST_TIMEOUT(name, KT_DEFAULT_TIMEOUT)
#define TEST_TIMEOUT(name, secs)					\
	static void name(void);						\
	__attribute__((constructor)) static void kt_reg_##name(void)	\
	{								\
		kt_register(#name, name, secs);				\
	}								\
	static void name(void)

#define KT_EXPECT(cond)							\
	do {								\
		if (!(cond))						\
			kt_fail_at(__FILE__, __LINE__, "expected %s", #cond); \
	} while (0)

#define KT_ASSERT(cond)							\
	do {								\
		if (!(cond)) {						\
			kt_fail_at(__FILE__, __LINE__, "assertion %s", #cond); \
			kt_end_test();					\
		}							\
	} while (0)

#define KT_EXPECT_EQ(a, b)						\
	do {								\
		long long kt_a_ = (long long)(a), kt_b_ = (long long)(b); \
		if (kt_a_ != kt_b_)					\
			kt_fail_at(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", \
				   #a, kt_a_, #b, kt_b_);		\
	} while (0)

#define KT_ASSERT_EQ(a, b)						\
	do {								\
		long long kt_a_ = (long long)(a), kt_b_ = (long long)(b); \
		if (kt_a_ != kt_b_) {					\
			kt_fail_at(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", \
				   #a, kt_a_, #b, kt_b_);		\
			kt_end_test();					\
		}							\
	} while (0)

#define KT_EXPECT_ERRNO(call, err)					\
	do {								\
		errno = 0;						\
		long kt_r_ = (long)(call);				\
		int kt_e_ = errno;					\
		if (kt_r_ != -1 || kt_e_ != (err))			\
			kt_fail_at(__FILE__, __LINE__,			\
				   "%s returned %ld errno %d (%s), expected -1 errno %d (%s)", \
				   #call, kt_r_, kt_e_, strerror(kt_e_),	\
				   (err), strerror(err));		\
	} while (0)

#define KT_ASSERT_OK(call)						\
	({								\
		errno = 0;						\
		long kt_r_ = (long)(call);				\
		if (kt_r_ == -1) {					\
			kt_fail_at(__FILE__, __LINE__, "%s failed: %s",	\
				   #call, strerror(errno));		\
			kt_end_test();					\
		}							\
		kt_r_;							\
	})

#endif /* KLAB_KTEST_H */
