/*
 * Addresses no system call may read or write through, for the programs that try them all on
 * every call that takes a pointer (hostile for lab 08's calls, forktest hostile for lab 09's).
 */
#pragma once

#include <stdint.h>
#include "user_abi.h"

#define BAD_ADDRESSES 13

struct bad_address {
	uint64_t addr;
	const char *what; /* "the guard page under the stack", for messages */
};

/*
 * Fill out with the bad addresses of the program whose layout is l: NULL (always out[0]: a
 * call for which NULL means "none" skips it), low, non-canonical, the kernel's, unmapped, the
 * guard page under the stack and the page above it.
 */
void bad_addresses(const struct user_layout *l, struct bad_address out[BAD_ADDRESSES]);
