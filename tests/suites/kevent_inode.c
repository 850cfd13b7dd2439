// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_inode - the INODE storage (type 1) on tmpfs: every event with the
 * name it reports (create, mkdir, mknod, symlink, link, rename in, out and
 * within, unlink, rmdir, write), the same sequence as inotify reports it
 * in the same boot, the records (delivered once each, in order, OVERFLOW
 * when more wait than a kevent keeps), the request flags (ONESHOT, ET and
 * LAST_CHECK, WAKEUP_ONE for threads of one queue and for one queue per
 * worker, and the records of a removed one), MODIFY and READY,
 * a failed copy, the ring, fdinfo, the end of the watched inode (rmdir,
 * unlink, umount: the GONE event, then the kevent is removed), a queue
 * closed with events pending, the descriptor closed after ADD, teardown
 * racing entry changes, the per-user limit over many marks, and every
 * refused request with its exact errno.
 * docs/abi.md is the contract.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kevent_test.h"

#define CREATE		KEVENT_INODE_CREATE
#define REMOVE		KEVENT_INODE_REMOVE
#define MODIFY		KEVENT_INODE_MODIFY
#define GONE		KEVENT_INODE_GONE
#define ISDIR		KEVENT_INODE_ISDIR
#define MOVED		KEVENT_INODE_MOVED
#define OVERFLOW	KEVENT_INODE_OVERFLOW
#define ALL		(CREATE | REMOVE | MODIFY)

/* Records a kevent keeps before it merges (storage_inode.c, docs/abi.md). */
#define RECORDS		16

/* The name hash of ret_data[1]: FNV-1a, 32 bits, as the uapi header gives it. */
static __u32 name_hash(const char *s)
{
	__u32 h = KEVENT_INODE_HASH_BASIS;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= KEVENT_INODE_HASH_PRIME;
	}
	return h;
}

/* ... and checked against FNV-1a's published values, not only itself. */
TEST(name_hash_is_fnv1a)
{
	KT_EXPECT_EQ(name_hash(""), 0x811c9dc5u);
	KT_EXPECT_EQ(name_hash("a"), 0xe40c292cu);
	KT_EXPECT_EQ(name_hash("foobar"), 0xbf9cf968u);
}

static struct ukevent ukevent_inode(int fd, __u32 events, __u32 flags)
{
	struct ukevent uk;

	memset(&uk, 0, sizeof(uk));
	uk.id.raw[0] = (__u32)fd;
	uk.type = KEVENT_INODE;
	uk.event = events;
	uk.req_flags = flags;
	return uk;
}

/* Register an INODE kevent that must not complete at ADD. */
#define add_inode(...) add_inode_at(__FILE__, __LINE__, __VA_ARGS__)
static void add_inode_at(const char *file, int line, int q, int fd, __u32 events,
			 __u32 flags, __u64 user)
{
	struct ukevent uk = ukevent_inode(fd, events, flags);

	uk.user_u64 = user;
	kt_ctl1_must_at(file, line, q, KEVENT_CTL_ADD, &uk, 0, "ADD INODE");
}

/* The next event of q is mask about name (NULL: no name). */
#define expect_event(q, mask, name) expect_event_at(__FILE__, __LINE__, (q), (mask), (name))
static struct ukevent expect_event_at(const char *file, int line, int q, __u32 mask,
				      const char *name)
{
	struct ukevent ev = kt_wait_one_at(file, line, q, KT_SOON_MS);
	__u32 h = name ? name_hash(name) : 0;

	if (ev.type != KEVENT_INODE || ev.ret_data[0] != mask || ev.ret_data[1] != h)
		kt_fail_at(file, line,
			   "event type %u ret_data %#x %#x, expected %#x and the hash %#x of \"%s\"",
			   ev.type, ev.ret_data[0], ev.ret_data[1], mask, h, name ? name : "");
	return ev;
}

#define expect_none(q) expect_none_at(__FILE__, __LINE__, (q))
static void expect_none_at(const char *file, int line, int q)
{
	struct ukevent buf[4];
	int r = kt_get_now(q, buf, 4);

	if (r != 0)
		kt_fail_at(file, line, "%d event(s) ready, expected none (first %#x %#x)", r,
			   buf[0].ret_data[0], buf[0].ret_data[1]);
}

/* A fresh directory on the guest's /tmp (tmpfs); path into d. */
static void fresh_dir(char *d, size_t len)
{
	snprintf(d, len, "/tmp/kinode.XXXXXX");
	KT_ASSERT(mkdtemp(d) != NULL);
}

static const char *at(const char *dir, const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int open_dir(const char *d)
{
	return (int)KT_ASSERT_OK(open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

static void touch(const char *path)
{
	KT_ASSERT_OK(close((int)KT_ASSERT_OK(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644))));
}

static void write_to(const char *path)
{
	int fd = (int)KT_ASSERT_OK(open(path, O_WRONLY | O_APPEND | O_CLOEXEC));

	KT_ASSERT(write(fd, "x", 1) == 1);
	close(fd);
}

/* ---- every event, with its name -------------------------------------------- */

struct expected {
	__u32 mask;
	const char *name;
};

/*
 * In directory d (o: another directory): every kind of entry change once,
 * never the same event twice in a row (inotify merges those). The events
 * a watcher of d must see, in order, are in seq[].
 */
static const struct expected seq[] = {
	{ CREATE, "a" },		/* creat */
	{ MODIFY, "a" },		/* write */
	{ CREATE | ISDIR, "sub" },	/* mkdir */
	{ CREATE, "b" },		/* link */
	{ CREATE, "s" },		/* symlink */
	{ CREATE, "p" },		/* mknod (a FIFO) */
	{ REMOVE | MOVED, "a" },	/* rename within: from */
	{ CREATE | MOVED, "c" },	/* rename within: to */
	{ CREATE | MOVED, "in" },	/* rename in */
	{ REMOVE | MOVED, "in" },	/* rename out */
	{ REMOVE, "b" },		/* unlink */
	{ REMOVE | ISDIR, "sub" },	/* rmdir */
	{ MODIFY, "c" },		/* write */
};
#define NSEQ (sizeof(seq) / sizeof(seq[0]))

static void entry_changes(const char *d, const char *o)
{
	touch(at(d, "a"));
	write_to(at(d, "a"));
	KT_ASSERT_OK(mkdir(at(d, "sub"), 0755));
	KT_ASSERT_OK(link(at(d, "a"), at(d, "b")));
	KT_ASSERT_OK(symlink("a", at(d, "s")));
	KT_ASSERT_OK(mknod(at(d, "p"), S_IFIFO | 0644, 0));
	KT_ASSERT_OK(rename(at(d, "a"), at(d, "c")));
	touch(at(o, "in"));
	KT_ASSERT_OK(rename(at(o, "in"), at(d, "in")));
	KT_ASSERT_OK(rename(at(d, "in"), at(o, "out")));
	KT_ASSERT_OK(unlink(at(d, "b")));
	KT_ASSERT_OK(rmdir(at(d, "sub")));
	write_to(at(d, "c"));
}

TEST(every_event_named)
{
	char d[64], o[64];
	int q = kt_queue(), dfd;

	fresh_dir(d, sizeof(d));
	fresh_dir(o, sizeof(o));
	dfd = open_dir(d);
	add_inode(q, dfd, ALL, 0, 0x77);
	entry_changes(d, o);
	for (size_t i = 0; i < NSEQ; i++) {
		struct ukevent ev = expect_event(q, seq[i].mask, seq[i].name);

		KT_EXPECT_EQ(ev.user_u64, 0x77);
		KT_EXPECT_EQ(ev.ret_flags, KEVENT_RET_DONE);
		KT_EXPECT_EQ(ev.req_flags, 0);
	}
	expect_none(q);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
}

/* inotify's mask of an event, in INODE terms (0: not one of ours). */
static __u32 from_inotify(__u32 m)
{
	__u32 r = 0;

	if (m & IN_CREATE)
		r |= CREATE;
	if (m & IN_MOVED_TO)
		r |= CREATE | MOVED;
	if (m & IN_DELETE)
		r |= REMOVE;
	if (m & IN_MOVED_FROM)
		r |= REMOVE | MOVED;
	if (m & IN_MODIFY)
		r |= MODIFY;
	if (r && (m & IN_ISDIR))
		r |= ISDIR;
	return r;
}

TEST(same_as_inotify)
{
	char d[64], o[64], buf[4096] __attribute__((aligned(8)));
	int q = kt_queue(), dfd, in, n = 0;
	ssize_t len;

	fresh_dir(d, sizeof(d));
	fresh_dir(o, sizeof(o));
	dfd = open_dir(d);
	add_inode(q, dfd, ALL, 0, 0);
	in = (int)KT_ASSERT_OK(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
	KT_ASSERT_OK(inotify_add_watch(in, d, IN_CREATE | IN_DELETE | IN_MOVED_FROM |
				       IN_MOVED_TO | IN_MODIFY));
	entry_changes(d, o);
	len = read(in, buf, sizeof(buf));
	KT_ASSERT(len > 0);
	for (char *p = buf; p < buf + len;) {
		const struct inotify_event *ie = (const struct inotify_event *)p;
		__u32 want = from_inotify(ie->mask);

		p += sizeof(*ie) + ie->len;
		if (!want)
			continue;
		/* the same event, with the hash of the name inotify gives */
		expect_event(q, want, ie->len ? ie->name : NULL);
		n++;
	}
	KT_EXPECT_EQ(n, (int)NSEQ);
	expect_none(q);
}

TEST(watched_file)
{
	char d[64];
	int q = kt_queue(), fd;
	struct ukevent ev;

	fresh_dir(d, sizeof(d));
	touch(at(d, "f"));
	fd = (int)KT_ASSERT_OK(open(at(d, "f"), O_RDWR | O_CLOEXEC));
	add_inode(q, fd, ALL, 0, 0);
	KT_ASSERT(write(fd, "xy", 2) == 2);
	/* the watched inode's own data: no name */
	expect_event(q, MODIFY, NULL);
	KT_ASSERT_OK(ftruncate(fd, 0));
	expect_event(q, MODIFY, NULL);
	/* a second link and its removal are the directory's, not the file's */
	KT_ASSERT_OK(link(at(d, "f"), at(d, "g")));
	KT_ASSERT_OK(unlink(at(d, "g")));
	expect_none(q);
	/* the last link goes while the file is open: GONE at its last close */
	KT_ASSERT_OK(unlink(at(d, "f")));
	expect_none(q);
	KT_ASSERT_OK(close(fd));
	ev = expect_event(q, GONE, NULL);
	KT_EXPECT(ev.req_flags & KEVENT_REQ_ONESHOT);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	expect_none(q);
}

/* MODIFY is asked of fsnotify only while a kevent wants it; MODIFY changes it. */
TEST(modify_interest)
{
	char d[64];
	int q = kt_queue(), dfd;
	struct ukevent uk;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q, dfd, CREATE, 0, 5);
	touch(at(d, "a"));
	expect_event(q, CREATE, "a");
	write_to(at(d, "a"));
	expect_none(q);
	uk = ukevent_inode(dfd, CREATE | MODIFY, 0);
	uk.user_u64 = 5;
	kt_ctl1_must(q, KEVENT_CTL_MODIFY, &uk, 1, "MODIFY to CREATE|MODIFY");
	write_to(at(d, "a"));
	expect_event(q, MODIFY, "a");
	uk = ukevent_inode(dfd, REMOVE, 0);
	uk.user_u64 = 5;
	kt_ctl1_must(q, KEVENT_CTL_MODIFY, &uk, 1, "MODIFY to REMOVE");
	write_to(at(d, "a"));
	touch(at(d, "b"));
	KT_ASSERT_OK(unlink(at(d, "a")));
	expect_event(q, REMOVE, "a");
	expect_none(q);
}

/* ---- records and flags ------------------------------------------------------ */

/* Level (the default): each record once, one per call, in order. */
TEST(records_once_each)
{
	static const __u32 flags[] = { 0, KEVENT_REQ_ET, KEVENT_REQ_LAST_CHECK,
				       KEVENT_REQ_ET | KEVENT_REQ_LAST_CHECK };

	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		char d[64];
		int q = kt_queue(), dfd;
		struct ukevent buf[8];

		fresh_dir(d, sizeof(d));
		dfd = open_dir(d);
		add_inode(q, dfd, CREATE, flags[f], 0);
		touch(at(d, "x"));
		touch(at(d, "y"));
		touch(at(d, "z"));
		for (const char *n = "xyz"; *n; n++) {
			char name[2] = { *n, 0 };

			/* one kevent is delivered at most once per call */
			KT_ASSERT_EQ(kt_ready_now(q, buf, 8), 1);
			KT_EXPECT_EQ(buf[0].ret_data[0], CREATE);
			KT_EXPECT_EQ(buf[0].ret_data[1], name_hash(name));
		}
		expect_none(q);
		KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
		close(q);
		close(dfd);
	}
}

TEST(oneshot)
{
	char d[64];
	int q = kt_queue(), dfd;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q, dfd, CREATE, KEVENT_REQ_ONESHOT, 0);
	touch(at(d, "a"));
	touch(at(d, "b"));
	expect_event(q, CREATE, "a");
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	expect_none(q);
}

/* ALWAYS_QUEUE: nothing is ready at ADD, the request registers. */
TEST(always_queue)
{
	char d[64];
	int q = kt_queue(), dfd;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q, dfd, CREATE, KEVENT_REQ_ALWAYS_QUEUE, 0);
	expect_none(q);
	touch(at(d, "a"));
	expect_event(q, CREATE, "a");
}

/* More undelivered events than a kevent keeps: one merged record, last. */
TEST(overflow)
{
	char d[64], name[16];
	int q = kt_queue(), dfd;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q, dfd, CREATE | REMOVE, 0, 0);
	for (int i = 0; i < RECORDS + 4; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		touch(at(d, name));
	}
	KT_ASSERT_OK(unlink(at(d, "f00")));
	for (int i = 0; i < RECORDS; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		expect_event(q, CREATE, name);
	}
	/* the four CREATEs and the REMOVE that did not fit */
	expect_event(q, CREATE | REMOVE | OVERFLOW, NULL);
	expect_none(q);
	/* and records again */
	touch(at(d, "g"));
	expect_event(q, CREATE, "g");
}

/* A record whose copy failed stays first, with COPY_FAILED; none is lost. */
TEST(copy_failed_kept)
{
	char d[64];
	int q = kt_queue(), dfd;
	struct ukevent *bad = kt_bad_page(PROT_READ), ev;
	struct __kernel_timespec ts0 = kevent_ts(0, 0);

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q, dfd, CREATE, 0, 0);
	touch(at(d, "a"));
	touch(at(d, "b"));
	KT_EXPECT_ERRNO(kevent_get_events(q, 0, 1, &ts0, bad, 0), EFAULT);
	ev = expect_event(q, CREATE, "a");
	KT_EXPECT_EQ(ev.ret_flags, KEVENT_RET_DONE | KEVENT_RET_COPY_FAILED);
	ev = expect_event(q, CREATE, "b");
	KT_EXPECT_EQ(ev.ret_flags, KEVENT_RET_DONE);
	expect_none(q);
}

/* Through the ring: one record per kevent per kevent_wait(), in order. */
TEST(ring_records)
{
	struct kevent_ring *ring = kevent_ring_alloc(8);
	struct __kernel_timespec ts0 = kevent_ts(0, 0);
	char d[64];
	int q = (int)KT_ASSERT_OK(kevent_init(ring, 8, 0)), dfd;
	unsigned int idx = 0;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q, dfd, CREATE | REMOVE, 0, 0);
	touch(at(d, "a"));
	KT_ASSERT_OK(unlink(at(d, "a")));
	touch(at(d, "b"));
	for (int i = 0; i < 3; i++) {
		KT_ASSERT_EQ(kevent_wait(q, 8, idx, &ts0, 0), 1);
		idx++;
	}
	KT_EXPECT_EQ(kevent_wait(q, 8, idx, &ts0, 0), 0);
	KT_EXPECT_EQ(ring->event[0].ret_data[0], CREATE);
	KT_EXPECT_EQ(ring->event[0].ret_data[1], name_hash("a"));
	KT_EXPECT_EQ(ring->event[1].ret_data[0], REMOVE);
	KT_EXPECT_EQ(ring->event[1].ret_data[1], name_hash("a"));
	KT_EXPECT_EQ(ring->event[2].ret_data[0], CREATE);
	KT_EXPECT_EQ(ring->event[2].ret_data[1], name_hash("b"));
}

/* fdinfo shows the records waiting and what was merged. */
TEST(fdinfo_records)
{
	char d[64], name[64], line[512];
	int q = kt_queue(), dfd;
	FILE *f;
	bool found = false;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q, dfd, CREATE, 0, 0);
	for (int i = 0; i < RECORDS + 1; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		touch(at(d, name));
	}
	snprintf(name, sizeof(name), "/proc/self/fdinfo/%d", q);
	f = fopen(name, "r");
	KT_ASSERT(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "kevent:", 7)) {
			KT_EXPECT(strstr(line, "type=1 ") != NULL);
			KT_EXPECT(strstr(line, " state=ready records=16 lost=0x1\n") != NULL);
			found = true;
		}
	fclose(f);
	KT_EXPECT(found);
}

/* READY reports what the kevent asks for, without a name; GONE is not given. */
TEST(ready_command)
{
	char d[64];
	int q = kt_queue(), dfd;
	struct ukevent uk;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q, dfd, CREATE, 0, 9);
	uk = ukevent_inode(dfd, CREATE | GONE | MODIFY, 0);
	uk.user_u64 = 9;
	kt_ctl1_must(q, KEVENT_CTL_READY, &uk, 1, "READY");
	expect_event(q, CREATE, NULL);
	uk = ukevent_inode(dfd, GONE | REMOVE, 0);
	uk.user_u64 = 9;
	kt_ctl1_must(q, KEVENT_CTL_READY, &uk, 1, "READY of what it does not ask for");
	expect_none(q);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
}

/* Kevents of several queues share the inode's storage; each gets everything. */
TEST(shared_by_queues)
{
	char d[64];
	int q1 = kt_queue(), q2 = kt_queue(), dfd;
	struct ukevent uk;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q1, dfd, CREATE, 0, 1);
	add_inode(q2, dfd, CREATE | REMOVE, 0, 2);
	/* a second kevent of one queue on the same inode: another id.raw[1] */
	uk = ukevent_inode(dfd, REMOVE, 0);
	uk.id.raw[1] = 1;
	kt_ctl1_must(q1, KEVENT_CTL_ADD, &uk, 0, "ADD second");
	touch(at(d, "a"));
	KT_ASSERT_OK(unlink(at(d, "a")));
	expect_event(q1, CREATE, "a");
	expect_event(q1, REMOVE, "a");
	expect_event(q2, CREATE, "a");
	expect_event(q2, REMOVE, "a");
	expect_none(q1);
	expect_none(q2);
	/* one removed, the others still see */
	uk = ukevent_inode(dfd, CREATE, 0);
	uk.user_u64 = 1;
	kt_ctl1_must(q1, KEVENT_CTL_REMOVE, &uk, 1, "REMOVE");
	touch(at(d, "b"));
	expect_event(q2, CREATE, "b");
	expect_none(q1);
}

/* ---- WAKEUP_ONE ------------------------------------------------------------- */

static int count_done(struct kt_waiter *w, int n)
{
	int done = 0;

	for (int i = 0; i < n; i++)
		done += kt_waiter_done(&w[i]);
	return done;
}

/* Wait (bounded) until `want` waiters returned; then a little longer. */
static int settle_done(struct kt_waiter *w, int n, int want)
{
	for (int i = 0; i < 500 && count_done(w, n) < want; i++)
		kt_msleep(10);
	kt_msleep(100);
	return count_done(w, n);
}

#define NW 3

/* Threads of one queue: each created file wakes one of them. */
TEST(wakeup_one_threads)
{
	struct kt_waiter w[NW];
	char d[64], name[8];
	int q = kt_queue(), dfd;
	__u32 seen = 0;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q, dfd, CREATE, KEVENT_REQ_WAKEUP_ONE, 0);
	for (int i = 0; i < NW; i++) {
		kt_waiter_init(&w[i], q, KT_WAIT_GET);
		w[i].max_nr = 1;
		KT_ASSERT(kt_waiter_start_blocked(&w[i]));
	}
	for (int i = 0; i < NW; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		touch(at(d, name));
		KT_ASSERT_EQ(settle_done(w, NW, i + 1), i + 1);
	}
	for (int i = 0; i < NW; i++) {
		KT_ASSERT(kt_waiter_join(&w[i], 5000));
		KT_ASSERT_EQ(w[i].ret, 1);
		for (int j = 0; j < NW; j++) {
			snprintf(name, sizeof(name), "w%d", j);
			if (w[i].buf[0].ret_data[1] == name_hash(name))
				seen |= 1u << j;
		}
	}
	/* every file went to exactly one thread */
	KT_EXPECT_EQ(seen, (1u << NW) - 1);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_WAKEUPS), NW);
}

/* One queue per worker on a spool directory: one worker per file. */
TEST(wakeup_one_queues)
{
	struct kt_waiter w[NW];
	char d[64];
	int q[NW], dfd, woken = -1;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	for (int i = 0; i < NW; i++) {
		q[i] = kt_queue();
		add_inode(q[i], dfd, CREATE, KEVENT_REQ_WAKEUP_ONE, i);
		kt_waiter_init(&w[i], q[i], KT_WAIT_GET);
		w[i].max_nr = 1;
		KT_ASSERT(kt_waiter_start_blocked(&w[i]));
	}
	touch(at(d, "job"));
	KT_ASSERT_EQ(settle_done(w, NW, 1), 1);
	for (int i = 0; i < NW; i++)
		if (kt_waiter_done(&w[i]))
			woken = i;
	KT_ASSERT(woken >= 0);
	KT_ASSERT(kt_waiter_join(&w[woken], 1000));
	KT_EXPECT_EQ(w[woken].ret, 1);
	KT_EXPECT_EQ(w[woken].buf[0].ret_data[1], name_hash("job"));
	/* the others were not given the file */
	for (int i = 0; i < NW; i++)
		if (i != woken)
			KT_EXPECT_EQ(kevent_fdinfo(q[i], KFD_READY), 0);
	/* release the others */
	for (int i = 0; i < NW; i++) {
		if (i == woken)
			continue;
		KT_ASSERT_OK(kevent_ctl(q[i], KEVENT_CTL_READY, 0, NULL));
		KT_ASSERT(kt_waiter_join(&w[i], 5000));
	}
}

/*
 * A WAKEUP_ONE kevent removed with records undelivered takes them with it;
 * the other kevents get each event once. Its queue's sleeper is woken by
 * the first file but cannot run before the removal: it shares one CPU with
 * this thread, which runs SCHED_FIFO meanwhile. The second file comes
 * while q1's kevent is ready, woke nobody, so q2's kevent took it too.
 */
TEST(wakeup_one_removed)
{
	struct sched_param fifo = { .sched_priority = 10 }, other = { 0 };
	char d[64];
	int q1 = kt_queue(), q2 = kt_queue(), dfd;
	struct kt_waiter w;
	struct ukevent uk;
	cpu_set_t one;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q1, dfd, CREATE, KEVENT_REQ_WAKEUP_ONE, 1);
	add_inode(q2, dfd, CREATE, KEVENT_REQ_WAKEUP_ONE, 2);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	KT_ASSERT_OK(sched_setaffinity(0, sizeof(one), &one));
	kt_waiter_init(&w, q1, KT_WAIT_GET);
	w.max_nr = 1;
	KT_ASSERT(kt_waiter_start_blocked(&w));
	KT_ASSERT_OK(sched_setscheduler(0, SCHED_FIFO, &fifo));
	/* x wakes q1's sleeper: q2 is not told; y: q1 woke nobody, q2 takes it */
	touch(at(d, "x"));
	touch(at(d, "y"));
	uk = ukevent_inode(dfd, CREATE, 0);
	uk.user_u64 = 1;
	kt_ctl1_must(q1, KEVENT_CTL_REMOVE, &uk, 1, "REMOVE");
	/* the premise: x woke q1's thread (which then finds nothing) */
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_WAKEUPS), 1);
	KT_ASSERT_OK(sched_setscheduler(0, SCHED_OTHER, &other));
	expect_event(q2, CREATE, "y");
	expect_none(q2);
	KT_ASSERT_OK(kevent_ctl(q1, KEVENT_CTL_READY, 0, NULL));
	KT_ASSERT(kt_waiter_join(&w, 5000));
	KT_EXPECT_EQ(w.ret, 0);
}

/* ---- the end of the watched inode -------------------------------------------- */

/* rmdir with the descriptor closed after ADD: GONE at once, in every queue. */
TEST(rmdir_watched)
{
	char d[64];
	int q1 = kt_queue(), q2 = kt_queue(), dfd;
	struct ukevent ev;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q1, dfd, ALL, 0, 1);
	add_inode(q2, dfd, CREATE, KEVENT_REQ_ET, 2);
	/* the mark lives with the kevent, not with the descriptor */
	KT_ASSERT_OK(close(dfd));
	touch(at(d, "a"));
	KT_ASSERT_OK(unlink(at(d, "a")));
	KT_ASSERT_OK(rmdir(d));
	/* what happened first, then the end */
	expect_event(q1, CREATE, "a");
	expect_event(q1, REMOVE, "a");
	ev = expect_event(q1, GONE, NULL);
	KT_EXPECT_EQ(ev.user_u64, 1);
	KT_EXPECT_EQ(ev.req_flags, KEVENT_REQ_ONESHOT);
	expect_event(q2, CREATE, "a");
	ev = expect_event(q2, GONE, NULL);
	KT_EXPECT_EQ(ev.req_flags, KEVENT_REQ_ET | KEVENT_REQ_ONESHOT);
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q2, KFD_REGISTERED), 0);
	expect_none(q1);
	expect_none(q2);
}

/* GONE reaches every WAKEUP_ONE kevent, not one per notification. */
TEST(rmdir_wakeup_one)
{
	struct kt_waiter w[NW];
	char d[64];
	int q[NW], dfd;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	for (int i = 0; i < NW; i++) {
		q[i] = kt_queue();
		add_inode(q[i], dfd, CREATE, KEVENT_REQ_WAKEUP_ONE, i);
		kt_waiter_init(&w[i], q[i], KT_WAIT_GET);
		w[i].max_nr = 1;
		KT_ASSERT(kt_waiter_start_blocked(&w[i]));
	}
	KT_ASSERT_OK(close(dfd));
	KT_ASSERT_OK(rmdir(d));
	KT_EXPECT_EQ(settle_done(w, NW, NW), NW);
	for (int i = 0; i < NW; i++) {
		if (!kt_waiter_join(&w[i], 1000)) {
			kt_fail_at(__FILE__, __LINE__, "queue %d: no GONE", i);
			KT_ASSERT_OK(kevent_ctl(q[i], KEVENT_CTL_READY, 0, NULL));
			KT_ASSERT(kt_waiter_join(&w[i], 5000));
			continue;
		}
		KT_EXPECT_EQ(w[i].ret, 1);
		KT_EXPECT_EQ(w[i].buf[0].ret_data[0], GONE);
		KT_EXPECT_EQ(kevent_fdinfo(q[i], KFD_REGISTERED), 0);
	}
}

/* rmdir while the directory is open: it is gone at its last close. */
TEST(rmdir_while_open)
{
	char d[64];
	int q = kt_queue(), dfd;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q, dfd, ALL, 0, 0);
	KT_ASSERT_OK(rmdir(d));
	expect_none(q);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
	KT_ASSERT_OK(close(dfd));
	expect_event(q, GONE, NULL);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
}

/* A GONE not read yet: REMOVE and the queue's close still work. */
TEST(gone_unread)
{
	char d[64];
	int q1 = kt_queue(), q2 = kt_queue(), dfd;
	struct ukevent uk;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q1, dfd, CREATE, 0, 1);
	add_inode(q2, dfd, CREATE, 0, 2);
	KT_ASSERT_OK(close(dfd));
	KT_ASSERT_OK(rmdir(d));
	KT_ASSERT_EQ(kevent_fdinfo(q1, KFD_READY), 1);
	KT_ASSERT_EQ(kevent_fdinfo(q2, KFD_READY), 1);
	uk = ukevent_inode(dfd, CREATE, 0);
	uk.user_u64 = 1;
	kt_ctl1_must(q1, KEVENT_CTL_REMOVE, &uk, 1, "REMOVE after GONE");
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_REGISTERED), 0);
	expect_none(q1);
	KT_ASSERT_OK(close(q2));
}

/* umount of the watched filesystem: GONE. */
TEST(umount_watched)
{
	char m[64];
	int q = kt_queue(), dfd;

	fresh_dir(m, sizeof(m));
	KT_ASSERT_OK(mount("tmpfs", m, "tmpfs", 0, NULL));
	dfd = open_dir(m);
	add_inode(q, dfd, ALL, 0, 0);
	touch(at(m, "a"));
	KT_ASSERT_OK(close(dfd));
	KT_ASSERT_OK(umount(m));
	expect_event(q, CREATE, "a");
	expect_event(q, GONE, NULL);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
}

/* A process exits with kevents registered and records pending. */
TEST(process_exit)
{
	char d[64];
	int dfd, st, q;
	pid_t pid;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (!pid) {
		int cq = kevent_init(NULL, 0, 0);
		struct ukevent uk = ukevent_inode(dfd, ALL, 0);

		if (cq < 0 || kt_ctl1(cq, KEVENT_CTL_ADD, &uk) != 0)
			_exit(1);
		touch(at(d, "a"));
		_exit(kevent_fdinfo(cq, KFD_READY) == 1 ? 0 : 2);
	}
	KT_ASSERT_EQ(waitpid(pid, &st, 0), pid);
	KT_EXPECT(WIFEXITED(st));
	KT_EXPECT_EQ(WEXITSTATUS(st), 0);
	/* the inode lives on, without the exited process's mark */
	q = kt_queue();
	add_inode(q, dfd, CREATE, 0, 0);
	touch(at(d, "b"));
	expect_event(q, CREATE, "b");
	KT_ASSERT_OK(close(dfd));
	KT_ASSERT_OK(unlink(at(d, "a")));
	KT_ASSERT_OK(unlink(at(d, "b")));
	KT_ASSERT_OK(rmdir(d));
	expect_event(q, GONE, NULL);
}

/* A queue closed with records pending; the inode can be watched again. */
TEST(close_queue_pending)
{
	char d[64];
	int q = kt_queue(), dfd;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	add_inode(q, dfd, CREATE, 0, 0);
	touch(at(d, "a"));
	touch(at(d, "b"));
	KT_ASSERT_EQ(kevent_fdinfo(q, KFD_READY), 1);
	KT_ASSERT_OK(close(q));
	/* a new mark for the next watcher */
	q = kt_queue();
	add_inode(q, dfd, CREATE, 0, 0);
	touch(at(d, "c"));
	expect_event(q, CREATE, "c");
	expect_none(q);
}

/*
 * Teardown races: a thread creates and removes entries in a directory while
 * kevents of two queues are added, read, removed and their queues closed,
 * then the directory is removed under registered kevents. Nothing to
 * assert but the end: every kevent gone, no splat (the debug kernel's
 * KASAN and lockdep watch the rest).
 */
struct churn {
	char dir[64];
	atomic_int stop;
	long ops;
};

static void *churn_fn(void *arg)
{
	struct churn *c = arg;
	char path[96];	/* at()'s buffers are the main thread's */

	while (!atomic_load(&c->stop)) {
		int fd;

		snprintf(path, sizeof(path), "%s/c%ld", c->dir, c->ops % 8);
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			break;
		if (write(fd, "x", 1) != 1)
			break;
		close(fd);
		unlink(path);
		c->ops++;
	}
	return NULL;
}

TEST(teardown_races)
{
	static struct churn c;
	struct ukevent buf[8], uk;
	pthread_t th;
	int q2, dfd;
	long long end = kt_mono_ns() + 1500 * 1000000LL;
	int rounds = 0;

	fresh_dir(c.dir, sizeof(c.dir));
	atomic_store(&c.stop, 0);
	dfd = open_dir(c.dir);
	KT_ASSERT(pthread_create(&th, NULL, churn_fn, &c) == 0);
	while (kt_mono_ns() < end) {
		int q = kt_queue();

		add_inode(q, dfd, ALL, rounds & 1 ? KEVENT_REQ_WAKEUP_ONE : 0, 0);
		uk = ukevent_inode(dfd, CREATE, 0);
		uk.id.raw[1] = 1;
		kt_ctl1_must(q, KEVENT_CTL_ADD, &uk, 0, "ADD second");
		kt_get_now(q, buf, 8);
		kt_ctl1_must(q, KEVENT_CTL_REMOVE, &uk, 1, "REMOVE second");
		kt_get_now(q, buf, 8);
		close(q);	/* with records pending */
		rounds++;
	}
	KT_EXPECT(c.ops > 0);
	/* the end of the directory while kevents watch it */
	q2 = kt_queue();
	add_inode(q2, dfd, ALL, 0, 0);
	KT_ASSERT_OK(close(dfd));
	atomic_store(&c.stop, 1);
	KT_ASSERT(pthread_join(th, NULL) == 0);
	for (long i = 0; i < 8; i++) {
		char name[16];

		snprintf(name, sizeof(name), "c%ld", i);
		unlink(at(c.dir, name));
	}
	KT_ASSERT_OK(rmdir(c.dir));
	for (int i = 0; i < RECORDS + 2; i++) {
		struct ukevent ev = kt_wait_one(q2);

		if (ev.ret_data[0] & GONE)
			break;
	}
	KT_EXPECT_EQ(kevent_fdinfo(q2, KFD_REGISTERED), 0);
	kt_log("%d rounds, %ld entry operations", rounds, c.ops);
}

/* ---- many marks, the per-user limit ----------------------------------------- */

#define NDIRS 200

TEST(many_marks)
{
	char d[64], name[16];
	int q = kt_queue(), fds[NDIRS];
	long long old = kt_sysctl_read(KT_MAX_USER_PATH);
	struct ukevent uk;

	fresh_dir(d, sizeof(d));
	for (int i = 0; i < NDIRS; i++) {
		snprintf(name, sizeof(name), "d%03d", i);
		KT_ASSERT_OK(mkdir(at(d, name), 0755));
		fds[i] = open_dir(at(d, name));
		add_inode(q, fds[i], CREATE, 0, (__u64)i);
	}
	for (int i = 0; i < NDIRS; i++) {
		snprintf(name, sizeof(name), "d%03d/x", i);
		touch(at(d, name));
	}
	for (int i = 0; i < NDIRS; i++) {
		struct ukevent ev = expect_event(q, CREATE, "x");

		KT_EXPECT_EQ(ev.user_u64, (__u64)i);
	}
	expect_none(q);
	KT_ASSERT_OK(close(q));

	/* the cap counts INODE kevents as any other */
	KT_ASSERT(old > 0);
	KT_ASSERT_OK(kt_sysctl_write(KT_MAX_USER_PATH, 50));
	q = kt_queue();
	for (int i = 0; i < 50; i++)
		add_inode(q, fds[i], CREATE, 0, 0);
	uk = ukevent_inode(fds[50], CREATE, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_BROKEN(uk, ENOSPC);
	KT_ASSERT_OK(kt_sysctl_write(KT_MAX_USER_PATH, old));
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 50);
}

/* ---- refused requests -------------------------------------------------------- */

static void expect_broken(int q, struct ukevent uk, int err)
{
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_BROKEN(uk, err);
}

TEST(refused_requests)
{
	int q = kt_queue(), p[2], s[2], efd, dfd, opath;
	char d[64];
	struct ukevent uk;

	fresh_dir(d, sizeof(d));
	dfd = open_dir(d);
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC));
	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
	efd = (int)KT_ASSERT_OK(eventfd(0, EFD_CLOEXEC));
	opath = (int)KT_ASSERT_OK(open(d, O_PATH | O_CLOEXEC));
	/* not open, O_PATH */
	expect_broken(q, ukevent_inode(1000, CREATE, 0), EBADF);
	expect_broken(q, ukevent_inode(opath, CREATE, 0), EBADF);
	/* files of pseudo filesystems: pipe, socket, eventfd, a queue */
	expect_broken(q, ukevent_inode(p[0], CREATE, 0), EOPNOTSUPP);
	expect_broken(q, ukevent_inode(s[0], CREATE, 0), EOPNOTSUPP);
	expect_broken(q, ukevent_inode(efd, CREATE, 0), EOPNOTSUPP);
	expect_broken(q, ukevent_inode(q, CREATE, 0), EOPNOTSUPP);
	/* masks: empty, GONE and the flags (reported only), unknown bits */
	expect_broken(q, ukevent_inode(dfd, 0, 0), EINVAL);
	expect_broken(q, ukevent_inode(dfd, GONE, 0), EINVAL);
	expect_broken(q, ukevent_inode(dfd, CREATE | ISDIR, 0), EINVAL);
	expect_broken(q, ukevent_inode(dfd, CREATE | OVERFLOW, 0), EINVAL);
	expect_broken(q, ukevent_inode(dfd, 0x100, 0), EINVAL);
	/* an unknown request flag */
	expect_broken(q, ukevent_inode(dfd, CREATE, 0x20), EINVAL);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	/* a duplicate key */
	add_inode(q, dfd, CREATE, 0, 1);
	expect_broken(q, ukevent_inode(dfd, REMOVE, 0), EEXIST);
	/* MODIFY to a bad mask; MODIFY and REMOVE of what is not there */
	uk = ukevent_inode(dfd, GONE, 0);
	uk.user_u64 = 1;
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_MODIFY, &uk), 0);
	KT_EXPECT_BROKEN(uk, EINVAL);
	uk = ukevent_inode(efd, CREATE, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_REMOVE, &uk), 0);
	KT_EXPECT_BROKEN(uk, ENOENT);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
}

/* Watching needs read permission on the inode, as inotify_add_watch(). */
TEST(refused_without_read)
{
	char d[64];
	int dfd, st;
	pid_t pid;

	fresh_dir(d, sizeof(d));
	KT_ASSERT_OK(chmod(d, 0700));
	dfd = open_dir(d);
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (!pid) {
		struct ukevent uk = ukevent_inode(dfd, CREATE, 0);
		int q;

		/* a descriptor opened before the process lost the right */
		if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
			_exit(10);
		q = kevent_init(NULL, 0, 0);
		if (q < 0)
			_exit(11);
		if (kt_ctl1(q, KEVENT_CTL_ADD, &uk) != 1)
			_exit(12);
		_exit(uk.ret_flags == (KEVENT_RET_DONE | KEVENT_RET_BROKEN) &&
		      uk.ret_data[0] == EACCES ? 0 : 13);
	}
	KT_ASSERT_EQ(waitpid(pid, &st, 0), pid);
	KT_EXPECT(WIFEXITED(st));
	KT_EXPECT_EQ(WEXITSTATUS(st), 0);
	/* with read permission for others it registers */
	KT_ASSERT_OK(chmod(d, 0755));
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (!pid) {
		struct ukevent uk = ukevent_inode(dfd, CREATE, 0);
		int q;

		if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
			_exit(10);
		q = kevent_init(NULL, 0, 0);
		_exit(q >= 0 && kt_ctl1(q, KEVENT_CTL_ADD, &uk) == 0 ? 0 : 14);
	}
	KT_ASSERT_EQ(waitpid(pid, &st, 0), pid);
	KT_EXPECT(WIFEXITED(st));
	KT_EXPECT_EQ(WEXITSTATUS(st), 0);
}
