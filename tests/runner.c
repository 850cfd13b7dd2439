// SPDX-License-Identifier: GPL-2.0
/*
 * klab-run-tests - the in-guest test runner.
 *
 * Runs every suite binary of a directory (default /tests/suites), each with a
 * time limit, and prints one KTAP document on stdout in which every suite is
 * a subtest. The results of the kernel's boot-time KUnit suites (read from
 * /sys/kernel/debug/kunit/<suite>/results) are included as further subtests,
 * so one parser on the host counts everything.
 *
 *	klab-run-tests [-d DIR] [-t SECONDS] [-K] [-f] [-x SUITE]... [SUITE...]
 *
 *	-d DIR		directory of suite binaries
 *	-t SECONDS	time limit of one suite (default 600)
 *	-K		do not include KUnit results
 *	-f		fail fast: end at the first failed test; the suite
 *			that failed is killed and the suites after it are
 *			reported "not ok ... # not run: fail-fast". For
 *			proving that something fails (an exercise's
 *			starting point), where the rest of the time limits
 *			would buy nothing.
 *	-x SUITE	leave SUITE out (repeatable): it is reported
 *			"ok N SUITE # SKIP left out of this run", so a run
 *			that leaves suites out never reads as one that ran
 *			them (make test SKIP_SUITES=..., CI's subset)
 *	SUITE		run only these suites (names in DIR); "kunit" alone
 *			selects only the KUnit results
 *
 * Exit status: 0 when every suite passed, 1 otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KUNIT_DIR "/sys/kernel/debug/kunit"
/* The usage line, next to the getopt() string it describes: keep them in step. */
#define USAGE "usage: %s [-d DIR] [-t SECONDS] [-K] [-f] [-x SUITE]... [SUITE...]\n"
#define OPTIONS "d:t:Kfx:"
#define MAX_SUITES 256
#define INDENT "    "

struct suite {
	char name[128];
	char path[512];
	bool kunit;
	bool left_out;	/* -x */
};

static struct suite suites[MAX_SUITES];
static unsigned int nsuites;
static bool fail_fast;
static char *left_out[MAX_SUITES];
static unsigned int nleft_out;

static int cmp_suite(const void *a, const void *b)
{
	return strcmp(((const struct suite *)a)->name, ((const struct suite *)b)->name);
}

static bool wanted(const char *name, int argc, char **argv, int first)
{
	if (first >= argc)
		return true;
	for (int i = first; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return false;
}

static void add_suite(const char *name, const char *path, bool kunit)
{
	struct suite *s;

	if (nsuites == MAX_SUITES)
		return;
	s = &suites[nsuites];
	if (snprintf(s->name, sizeof(s->name), "%s", name) >= (int)sizeof(s->name) ||
	    snprintf(s->path, sizeof(s->path), "%s", path) >= (int)sizeof(s->path))
		return;	/* a name that long is not one of ours */
	s->kunit = kunit;
	s->left_out = false;
	for (unsigned int i = 0; i < nleft_out; i++)
		if (!strcmp(left_out[i], name))
			s->left_out = true;
	nsuites++;
}

static void scan(const char *dir, bool kunit, int argc, char **argv, int first)
{
	unsigned int before = nsuites;
	struct dirent *de;
	char path[512];
	struct stat st;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (kunit) {
			snprintf(path, sizeof(path), "%s/%s/results", dir, de->d_name);
			if (stat(path, &st) || !(wanted("kunit", argc, argv, first) ||
						 wanted(de->d_name, argc, argv, first)))
				continue;
		} else {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (stat(path, &st) || !S_ISREG(st.st_mode) || !(st.st_mode & 0111) ||
			    !wanted(de->d_name, argc, argv, first))
				continue;
		}
		add_suite(de->d_name, path, kunit);
	}
	closedir(d);
	qsort(suites + before, nsuites - before, sizeof(*suites), cmp_suite);
}

static void kmsg(const char *fmt, const char *arg)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	dprintf(fd, fmt, arg);
	close(fd);
}

/* Re-emit a KUnit results file minus its outer "KTAP/1..1/ok 1" frame. */
static bool run_kunit(const struct suite *s)
{
	char line[1024], last[1024] = "";
	unsigned int n = 0;
	bool ok = false;
	FILE *f;

	f = fopen(s->path, "r");
	if (!f) {
		printf(INDENT "# cannot read %s: %s\n", s->path, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (n <= 2)
			continue;	/* "KTAP version 1" and "1..1" */
		if (last[0])
			fputs(last, stdout);
		snprintf(last, sizeof(last), "%s", line);
	}
	fclose(f);
	/* The last line is the suite's own verdict: "ok 1 name". */
	ok = !strncmp(last, "ok ", 3);
	if (strncmp(last, "ok ", 3) && strncmp(last, "not ok ", 7))
		printf(INDENT "# truncated KUnit results\n");
	return ok;
}

static bool run_binary(const struct suite *s, unsigned int limit_s)
{
	char buf[4096], line[4096];
	struct timespec start, now;
	size_t len = 0;
	int pipefd[2], status = 0;
	bool timed_out = false, test_failed = false;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC)) {
		printf(INDENT "# pipe: %s\n", strerror(errno));
		return false;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		printf(INDENT "# fork: %s\n", strerror(errno));
		return false;
	}
	if (pid == 0) {
		setpgid(0, 0);
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		execl(s->path, s->name, (char *)NULL);
		dprintf(STDOUT_FILENO, "# exec %s: %s\n", s->path, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	close(pipefd[1]);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		ssize_t r;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)limit_s) {
			timed_out = true;
			kill(-pid, SIGKILL);
			break;
		}
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		r = read(pipefd[0], buf, sizeof(buf));
		if (r <= 0)
			break;
		/* Indent whole lines; drop the suite's own KTAP header line. */
		for (ssize_t i = 0; i < r; i++) {
			if (len < sizeof(line) - 1)
				line[len++] = buf[i];
			if (buf[i] != '\n')
				continue;
			line[len] = 0;
			if (strcmp(line, "KTAP version 1\n"))
				printf(INDENT "%s", line);
			/* A test's own result line starts the line (subtests are indented). */
			if (!strncmp(line, "not ok ", 7))
				test_failed = true;
			len = 0;
		}
		if (fail_fast && test_failed)
			break;
	}
	if (len) {
		line[len] = 0;
		printf(INDENT "%s\n", line);
	}
	if (fail_fast && test_failed)
		kill(-pid, SIGKILL);
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	kill(-pid, SIGKILL);
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* Where the time goes: the first thing to read when a run gets slow. */
	printf(INDENT "# duration: %.1fs\n", (double)(now.tv_sec - start.tv_sec) +
	       (now.tv_nsec - start.tv_nsec) / 1e9);
	if (fail_fast && test_failed) {
		printf(INDENT "# fail-fast: suite ended at its first failed test\n");
		return false;
	}
	if (timed_out) {
		printf(INDENT "# suite timed out after %us\n", limit_s);
		return false;
	}
	if (WIFSIGNALED(status)) {
		printf(INDENT "# suite killed by signal %d\n", WTERMSIG(status));
		return false;
	}
	if (WEXITSTATUS(status)) {
		printf(INDENT "# suite exit status %d\n", WEXITSTATUS(status));
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	const char *dir = "/tests/suites";
	unsigned int limit_s = 600, failed = 0;
	bool with_kunit = true;
	int opt;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, OPTIONS)) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 't':
			limit_s = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'K':
			with_kunit = false;
			break;
		case 'f':
			fail_fast = true;
			break;
		case 'x':
			if (nleft_out < MAX_SUITES)
				left_out[nleft_out++] = optarg;
			break;
		default:
			fprintf(stderr, USAGE, argv[0]);
			return 2;
		}
	}
	if (with_kunit)
		scan(KUNIT_DIR, true, argc, argv, optind);
	scan(dir, false, argc, argv, optind);

	printf("KTAP version 1\n1..%u\n", nsuites);
	for (unsigned int i = 0; i < nsuites; i++) {
		const struct suite *s = &suites[i];
		bool ok;

		if (s->left_out) {
			printf("ok %u %s # SKIP left out of this run\n", i + 1, s->name);
			continue;
		}
		if (fail_fast && failed) {
			printf("not ok %u %s # not run: fail-fast\n", i + 1, s->name);
			failed++;
			continue;
		}
		kmsg("<5>klab: suite %s\n", s->name);
		if (s->kunit) {
			/* The results file carries its own subtest header. */
			ok = run_kunit(s);
		} else {
			printf(INDENT "KTAP version 1\n" INDENT "# Subtest: %s\n", s->name);
			ok = run_binary(s, limit_s);
		}
		printf("%s %u %s\n", ok ? "ok" : "not ok", i + 1, s->name);
		failed += !ok;
	}
	return failed ? 1 : 0;
}
