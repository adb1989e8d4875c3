/*
 * SHA-256 (FIPS 180-4), in plain C for the kernel and its host test programs. The test runner
 * uses it, through HMAC (hmac.h), to authenticate the results it prints.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA256_BLOCK_SIZE  64
#define SHA256_DIGEST_SIZE 32

/* A hash being computed: sha256_init, any number of sha256_update, then sha256_final. */
struct sha256 {
	uint32_t state[8];
	uint64_t length; /* bytes hashed so far */
	uint8_t block[SHA256_BLOCK_SIZE];
	size_t used; /* bytes waiting in block */
};

void sha256_init(struct sha256 *s);
/* Hash len more bytes of data. */
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Finish: write the digest. s must be initialised again before another use. */
void sha256_final(struct sha256 *s, uint8_t digest[SHA256_DIGEST_SIZE]);
/* The digest of len bytes of data, in one call. */
void sha256_digest(const void *data, size_t len, uint8_t digest[SHA256_DIGEST_SIZE]);
