/*
 * HMAC-SHA256 (RFC 2104, FIPS 198-1): a message authentication code. Only someone holding the
 * key can compute the code of a message, so a code that checks out says the message came
 * from a key holder, unchanged. The test runner signs its results this way (attest.h).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "sha256.h"

#define HMAC_SHA256_SIZE SHA256_DIGEST_SIZE

/* The code of len bytes of msg under key (any length; longer than a block is hashed first). */
void hmac_sha256(const void *key, size_t key_len, const void *msg, size_t len,
		 uint8_t mac[HMAC_SHA256_SIZE]);
