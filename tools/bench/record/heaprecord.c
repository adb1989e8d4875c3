/*
 * heaprecord: an LD_PRELOAD library that records every call a program makes to malloc and its
 * friends, so that `make bench` can replay the allocation pattern of a real program against
 * every heap allocator (tools/bench/realtrace.py turns the records into a heap trace).
 *
 *     HEAPRECORD_DIR=dir LD_PRELOAD=build/bench/heaprecord.so program args...
 *
 * Each process writes dir/<program>.<pid>.rec (its short name, as in `ps`: cc1, python3),
 * so a compiler driver and the cc1 it starts leave one file each. A file is a sequence of
 * fixed records, in the order the calls returned:
 *
 *     struct heaprecord { uint64_t kind; uint64_t ptr; uint64_t old; uint64_t size; }
 *     kind 'a'  ptr = malloc(size), calloc, memalign, posix_memalign, aligned_alloc, valloc
 *     kind 'f'  free(ptr)
 *     kind 'r'  ptr = realloc(old, size), both not NULL (ptr may equal old)
 *
 * realloc(NULL, n) is recorded as an allocation, realloc(p, 0) that frees p as a free; a call
 * that fails (NULL) is not recorded. The alignment a program asks for is not kept: the trace
 * format has none, and malloc's 16 bytes serve nearly every request.
 *
 * The real allocator underneath is the C library's own (glibc exports it as __libc_malloc and
 * so on), so the library never needs dlsym, which itself allocates. It allocates nothing: its
 * buffer is static, written out with write(2) when full and when the process exits. A child
 * made by fork starts a file of its own. Calls made after the exit handlers ran (rare: a
 * library's own destructor) are lost; realtrace.py frees what is still live at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);

#define RECORD_BUFFER 4096 /* records kept before a write */
#define PATH_MAX_LEN  512

struct heaprecord {
	uint64_t kind, ptr, old, size;
};

static struct heaprecord buffer[RECORD_BUFFER];
static unsigned used;
static int fd = -1;	   /* the output file, opened at the first record */
static bool failed;	   /* opening or writing failed once: record nothing more */
static bool finished;	   /* the exit handler ran */
static volatile char lock; /* threads take turns; the lock is never held across a call */

static void take(void)
{
	while (__atomic_test_and_set(&lock, __ATOMIC_ACQUIRE))
		;
}

static void give(void)
{
	__atomic_clear(&lock, __ATOMIC_RELEASE);
}

/* Append the decimal digits of v to s; returns the end. */
static char *put_num(char *s, unsigned long v)
{
	char digits[24];
	int n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n > 0)
		*s++ = digits[--n];
	return s;
}

static bool open_output(void)
{
	const char *dir = getenv("HEAPRECORD_DIR");
	char path[PATH_MAX_LEN], *s = path;
	const char *name = program_invocation_short_name;

	if (!dir || !*dir || strlen(dir) + strlen(name) + 32 > sizeof(path))
		return false;
	s = stpcpy(s, dir);
	*s++ = '/';
	s = stpcpy(s, name);
	*s++ = '.';
	s = put_num(s, (unsigned long)getpid());
	strcpy(s, ".rec");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	return fd >= 0;
}

static void flush(void)
{
	const char *p = (const char *)buffer;
	size_t left = used * sizeof(buffer[0]);

	used = 0;
	if (failed || left == 0)
		return;
	if (fd < 0 && !open_output()) {
		failed = true;
		return;
	}
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			failed = true;
			return;
		}
		p += n;
		left -= (size_t)n;
	}
}

static void record(uint64_t kind, const void *ptr, const void *old, size_t size)
{
	int saved = errno; /* the caller may look at errno after malloc: leave it as it was */

	take();
	if (!finished && !failed) {
		buffer[used++] = (struct heaprecord){kind, (uintptr_t)ptr, (uintptr_t)old, size};
		if (used == RECORD_BUFFER)
			flush();
	}
	give();
	errno = saved;
}

/* fork: the child's records go to a file of its own, without the parent's unwritten ones. */
static void after_fork_child(void)
{
	used = 0;
	fd = -1;
	lock = 0;
}

__attribute__((constructor)) static void heaprecord_start(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
}

/* Run as late as possible, after the program's own exit handlers. */
__attribute__((destructor(65535))) static void heaprecord_stop(void)
{
	take();
	flush();
	finished = true;
	if (fd >= 0)
		close(fd);
	give();
}

void *malloc(size_t size)
{
	void *p = __libc_malloc(size);

	if (p)
		record('a', p, NULL, size);
	return p;
}

void free(void *p)
{
	if (p)
		record('f', p, NULL, 0);
	__libc_free(p);
}

void *calloc(size_t n, size_t size)
{
	void *p = __libc_calloc(n, size);

	if (p)
		record('a', p, NULL, n * size);
	return p;
}

void *realloc(void *old, size_t size)
{
	void *p = __libc_realloc(old, size);

	if (!old) {
		if (p)
			record('a', p, NULL, size);
	} else if (size == 0 && !p) {
		record('f', old, NULL, 0); /* glibc frees old and returns NULL */
	} else if (p) {
		record('r', p, old, size);
	}
	return p;
}

void *reallocarray(void *old, size_t n, size_t size)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(old, bytes);
}

void *memalign(size_t align, size_t size)
{
	void *p = __libc_memalign(align, size);

	if (p)
		record('a', p, NULL, size);
	return p;
}

void *aligned_alloc(size_t align, size_t size)
{
	return memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = memalign(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *valloc(size_t size)
{
	return memalign((size_t)sysconf(_SC_PAGESIZE), size);
}

void *pvalloc(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return memalign(page, (size + page - 1) & ~(page - 1));
}
