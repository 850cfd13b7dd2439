// SPDX-License-Identifier: GPL-2.0
/*
 * ktest - see ktest.h. Each test runs in its own child process; the parent
 * turns the child's fate (exit code, signal, timeout) into one KTAP line.
 */
#include "ktest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KT_MAX_TESTS 256

/* Child exit codes understood by the parent. */
enum { KT_PASS = 0, KT_FAIL = 1, KT_SKIP = 77 };

struct kt_test {
	const char *name;
	kt_fn fn;
	unsigned int timeout_s;
};

static struct kt_test kt_tests[KT_MAX_TESTS];
static unsigned int kt_ntests;
static int kt_failures;	/* in the child: failures of the running test */
static const char *kt_running;	/* in the child: its name */

void kt_register(const char *name, kt_fn fn, unsigned int timeout_s)
{
	if (kt_ntests == KT_MAX_TESTS) {
		fprintf(stderr, "ktest: too many tests\n");
		exit(2);
	}
	kt_tests[kt_ntests++] = (struct kt_test){ name, fn, timeout_s };
}

static void kt_vlog(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* One write per line keeps lines whole when threads log at once. */
	dprintf(STDOUT_FILENO, "# %s%s\n", prefix, buf);
}

void kt_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kt_vlog("", fmt, ap);
	va_end(ap);
}

void kt_fail_at(const char *file, int line, const char *fmt, ...)
{
	char prefix[256];
	va_list ap;

	__atomic_add_fetch(&kt_failures, 1, __ATOMIC_RELAXED);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", file, line);
	va_start(ap, fmt);
	kt_vlog(prefix, fmt, ap);
	va_end(ap);
}

const char *kt_current(void)
{
	return kt_running;
}

int kt_failed(void)
{
	return __atomic_load_n(&kt_failures, __ATOMIC_RELAXED);
}

_Noreturn void kt_end_test(void)
{
	fflush(NULL);
	_exit(kt_failed() ? KT_FAIL : KT_PASS);
}

/*
 * The reason of a skip, written by the test's child into memory shared with
 * the parent, which puts it on the KTAP result line ("ok 3 name # SKIP why").
 */
static char *kt_skip_why;

_Noreturn void kt_skip(const char *why)
{
	dprintf(STDOUT_FILENO, "# SKIP %s\n", why);
	if (kt_skip_why)
		snprintf(kt_skip_why, 128, "%s", why);
	fflush(NULL);
	_exit(KT_SKIP);
}

bool kt_uml(void)
{
	char line[256];
	bool uml = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (!uml && fgets(line, sizeof(line), f))
		uml = !strncmp(line, "vendor_id", 9) && strstr(line, "User Mode Linux");
	fclose(f);
	return uml;
}

void kt_need_cpus(long n)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	char why[128];

	if (online >= n)
		return;
	if (kt_uml()) {
		snprintf(why, sizeof(why),
			 "needs %ld CPUs; User-Mode Linux 6.12 is uniprocessor", n);
		kt_skip(why);
	}
	kt_fail_at(__FILE__, __LINE__, "needs %ld CPUs, %ld online", n, online);
	kt_end_test();
}

static void kt_kmsg_marker(const char *suite, const char *test)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	char line[256];
	int len;

	if (fd < 0)
		return;
	/*
	 * One write(2) per record: dprintf() seeks the fd first, which
	 * /dev/kmsg refuses (EINVAL), and writes nothing. KERN_NOTICE: in
	 * the kernel log (dmesg, a vmcore), not on the lab console
	 * (loglevel=5), where a printk cuts the KTAP lines the serial port
	 * is still sending; the summary places a console splat by the KTAP
	 * results around it.
	 */
	len = snprintf(line, sizeof(line), "<5>klab: test %s.%s\n", suite, test);
	if (len > 0 && (size_t)len < sizeof(line) && write(fd, line, (size_t)len) < 0)
		perror("/dev/kmsg");
	close(fd);
}

static const char *kt_suite_name(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	return slash ? slash + 1 : argv0;
}

static bool kt_selected(const struct kt_test *t, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], t->name))
			return true;
	return false;
}

/* Run one test in a child; return its KTAP verdict and reason. */
static const char *kt_run_one(const struct kt_test *t, bool *ok, bool *skip)
{
	static char reason[128];
	struct timespec start, now;
	int status;
	pid_t pid, w;

	*ok = false;
	*skip = false;
	fflush(NULL);
	clock_gettime(CLOCK_MONOTONIC, &start);
	pid = fork();
	if (pid < 0) {
		snprintf(reason, sizeof(reason), "fork: %s", strerror(errno));
		return reason;
	}
	if (kt_skip_why)
		kt_skip_why[0] = '\0';
	if (pid == 0) {
		/* Own process group: a timeout kills the test's children too. */
		setpgid(0, 0);
		kt_failures = 0;
		kt_running = t->name;
		t->fn();
		kt_end_test();
	}
	setpgid(pid, pid);
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)t->timeout_s) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(reason, sizeof(reason), "timed out after %us", t->timeout_s);
			return reason;
		}
		usleep(2000);
	}
	kill(-pid, SIGKILL);	/* leftovers of the test, if any */
	if (WIFSIGNALED(status)) {
		snprintf(reason, sizeof(reason), "killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
		return reason;
	}
	if (WEXITSTATUS(status) == KT_SKIP) {
		*ok = true;
		*skip = true;
		return NULL;
	}
	if (WEXITSTATUS(status) != KT_PASS) {
		snprintf(reason, sizeof(reason), "exit status %d", WEXITSTATUS(status));
		return reason;
	}
	*ok = true;
	return NULL;
}

int kt_main(int argc, char **argv)
{
	const char *suite = kt_suite_name(argv[0]);
	unsigned int n = 0, failed = 0, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	kt_skip_why = mmap(NULL, 128, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (kt_skip_why == MAP_FAILED)
		kt_skip_why = NULL;
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (i = 0; i < kt_ntests; i++)
			printf("%s\n", kt_tests[i].name);
		return 0;
	}
	for (i = 0; i < kt_ntests; i++)
		n += kt_selected(&kt_tests[i], argc, argv);
	printf("KTAP version 1\n1..%u\n", n);
	n = 0;
	for (i = 0; i < kt_ntests; i++) {
		const struct kt_test *t = &kt_tests[i];
		const char *reason;
		bool ok, skip;

		if (!kt_selected(t, argc, argv))
			continue;
		kt_kmsg_marker(suite, t->name);
		reason = kt_run_one(t, &ok, &skip);
		if (reason)
			printf("# %s: %s\n", t->name, reason);
		printf("%s %u %s%s%s%s\n", ok ? "ok" : "not ok", ++n, t->name,
		       skip ? " # SKIP" : "",
		       skip && kt_skip_why && kt_skip_why[0] ? " " : "",
		       skip && kt_skip_why ? kt_skip_why : "");
		failed += !ok;
	}
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	return kt_main(argc, argv);
}
