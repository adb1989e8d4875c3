/*
 * A test's private arena for an allocator, static and aligned:
 *
 *     TEST_ARENA(arena, ARENA_SIZE, HEAP_MAX_ALIGN);
 *
 * makes `arena` a uint8_t * to ARENA_SIZE bytes (use ARENA_SIZE for its size, not sizeof).
 * In the kernel it is a plain array. On the host, under AddressSanitizer, it lies between two
 * guard areas that ASan is told are out of bounds: GCC gives a large aligned array no red
 * zones of its own, so without them a write just outside the arena (a poison memset that
 * starts before start, a node written past end) went unreported. With them ASan reports it
 * where it happens.
 */
#pragma once

#include <stdint.h>
#include "compiler.h"
#include "memlayout.h"

#ifdef KTEST_HOST
#include <sanitizer/asan_interface.h>

#define TEST_ARENA_GUARD(align) ((align) > PAGE_SIZE ? (align) : PAGE_SIZE)

#define TEST_ARENA(name, size, align)                                                          \
	static struct {                                                                        \
		uint8_t front[TEST_ARENA_GUARD(align)];                                        \
		uint8_t bytes[size];                                                           \
		uint8_t back[PAGE_SIZE];                                                       \
	} name##_guarded __aligned(align);                                                     \
	static uint8_t *const name = name##_guarded.bytes;                                     \
	__attribute__((constructor)) static void name##_guards_poison(void)                    \
	{                                                                                      \
		ASAN_POISON_MEMORY_REGION(name##_guarded.front, sizeof(name##_guarded.front)); \
		ASAN_POISON_MEMORY_REGION(name##_guarded.back, sizeof(name##_guarded.back));   \
	}
#else
#define TEST_ARENA(name, size, align) static uint8_t name[size] __aligned(align)
#endif
