/*
 * HMAC-SHA256 (see hmac.h): H((K ^ opad) || H((K ^ ipad) || message)), where K is the key
 * padded with zeros to one block (or its digest, if it is longer than a block).
 */
#include <string.h>
#include "hmac.h"

#define HMAC_IPAD 0x36
#define HMAC_OPAD 0x5c

void hmac_sha256(const void *key, size_t key_len, const void *msg, size_t len,
		 uint8_t mac[HMAC_SHA256_SIZE])
{
	uint8_t k[SHA256_BLOCK_SIZE] = {0}, pad[SHA256_BLOCK_SIZE], inner[SHA256_DIGEST_SIZE];
	struct sha256 s;

	if (key_len > SHA256_BLOCK_SIZE)
		sha256_digest(key, key_len, k);
	else if (key_len)
		memcpy(k, key, key_len);

	for (int i = 0; i < SHA256_BLOCK_SIZE; i++)
		pad[i] = k[i] ^ HMAC_IPAD;
	sha256_init(&s);
	sha256_update(&s, pad, sizeof(pad));
	sha256_update(&s, msg, len);
	sha256_final(&s, inner);

	for (int i = 0; i < SHA256_BLOCK_SIZE; i++)
		pad[i] = k[i] ^ HMAC_OPAD;
	sha256_init(&s);
	sha256_update(&s, pad, sizeof(pad));
	sha256_update(&s, inner, sizeof(inner));
	sha256_final(&s, mac);

	memset(k, 0, sizeof(k));
	memset(pad, 0, sizeof(pad));
}
