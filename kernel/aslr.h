/*
 * Address space layout randomization (checkpoint 08): each start of a program puts its image,
 * its heap and its stack at new random places, so an attacker cannot know where anything is.
 * Lab 08 writes the entropy source and the choice (labs/08-user/aslr.c, step 8); the kernel
 * gives the random number generator.
 *
 *   image: load_base, a page in [USER_BOTTOM, USER_LOAD_MAX - hi]    about 2^28 choices
 *   heap:  image_end + a gap of whole pages in [0, USER_HEAP_GAP_MAX)        2^18
 *   stack: stack_top, a page in [USER_STACK_TOP_MIN, USER_STACK_TOP_MAX]     about 2^28
 *
 * Randomness. aslr_random() draws from a generator (splitmix64) whose state the kernel seeds at
 * boot: from aslr.seed=N or ktest.seed=N on the command line when there is one, so that a
 * run can be repeated exactly; otherwise from aslr_entropy(), which it also mixes in at every
 * draw.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "elf.h"
#include "user_abi.h"

/* ---- lab 08, step 8 (labs/08-user/aslr.c) ------------------------------------------------ */

/*
 * 64 bits from the CPU that are hard to guess: RDRAND when CPUID says the CPU has it (leaf 1,
 * ECX bit 30), tried up to ASLR_RDRAND_TRIES times (it sets CF when it delivered a value);
 * otherwise, or if it never did, the time-stamp counter (rdtsc).
 */
uint64_t aslr_entropy(void);
#define ASLR_RDRAND_TRIES 10

/*
 * Choose the layout of a program whose image elf_check described in *img: every field of *l.
 * ET_DYN (img->relocatable): load_base a random page with load_base >= USER_BOTTOM and
 * load_base + img->hi <= USER_LOAD_MAX; ET_EXEC: load_base 0. Then image_start/end = load_base
 * + img->lo/hi, entry = load_base + img->entry, heap_start = brk = image_end + a random number
 * of whole pages below USER_HEAP_GAP_MAX, stack_top a random page in [USER_STACK_TOP_MIN,
 * USER_STACK_TOP_MAX] and stack_bottom = stack_top - USER_STACK_SIZE. Every random choice
 * comes from aslr_random(), uniform over its range.
 */
void aslr_choose(struct user_layout *l, const struct elf_info *img);

/* ---- given (kernel/layers/08-user/random.c) ----------------------------------------------- */

/* The next 64 random bits. */
uint64_t aslr_random(void);

/* From now on, aslr_random() gives the sequence of this seed (tests; aslr.seed=N at boot). */
void aslr_seed(uint64_t seed);

/* The seed in use, and whether there is one (false: seeded from aslr_entropy()). */
bool aslr_seeded(uint64_t *seed);

/*
 * For the tests: while values is not NULL, aslr_random() returns values[0], values[1], ...,
 * values[count - 1], then values[0] again, and the generator is left as it is; NULL gives the
 * generator back. The tests of step 8 make every draw an edge of a range (0, the number of
 * pages in it, UINT64_MAX, ...), so that a range one page too large fails every time, and not
 * once in 2^18 starts. values must stay valid until the next call.
 */
void aslr_force_values(const uint64_t *values, size_t count);

/* The layout without randomization, used until aslr_choose is written: the image at
 * USER_BOTTOM (ET_DYN) or its own addresses, the heap right after it, the stack at the top. */
void aslr_fixed(struct user_layout *l, const struct elf_info *img);
