/*
 * SHA-256 (FIPS 180-4, see sha256.h): 64-byte blocks, each mixed into eight 32-bit words of
 * state by 64 rounds. The message is padded with a 1 bit, zeros, and its length in bits as a
 * big-endian 64-bit number, so that it fills a whole number of blocks.
 */
#include <string.h>
#include "sha256.h"

#define SHA256_ROUNDS	   64
#define SHA256_BLOCK_WORDS (SHA256_BLOCK_SIZE / 4) /* 32-bit words of one block */
#define SHA256_LENGTH_SIZE 8			   /* the bit count that ends the padding */
#define SHA256_PAD_FIRST   0x80			   /* the 1 bit right after the message */

static const uint32_t round_constants[SHA256_ROUNDS] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static const uint32_t initial_state[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Mix one 64-byte block into the state. */
static void compress(uint32_t state[8], const uint8_t block[SHA256_BLOCK_SIZE])
{
	uint32_t w[SHA256_ROUNDS];
	uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
	uint32_t e = state[4], f = state[5], g = state[6], h = state[7];

	for (int i = 0; i < SHA256_BLOCK_WORDS; i++)
		w[i] = load_be32(block + 4 * i);
	for (int i = SHA256_BLOCK_WORDS; i < SHA256_ROUNDS; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	for (int i = 0; i < SHA256_ROUNDS; i++) {
		uint32_t s1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
		uint32_t choose = (e & f) ^ (~e & g);
		uint32_t t1 = h + s1 + choose + round_constants[i] + w[i];
		uint32_t s0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
		uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = s0 + majority;

		h = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	state[0] += a;
	state[1] += b;
	state[2] += c;
	state[3] += d;
	state[4] += e;
	state[5] += f;
	state[6] += g;
	state[7] += h;
}

void sha256_init(struct sha256 *s)
{
	memcpy(s->state, initial_state, sizeof(s->state));
	s->length = 0;
	s->used = 0;
}

void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->length += len;
	while (len) {
		size_t n = SHA256_BLOCK_SIZE - s->used;

		if (n > len)
			n = len;
		memcpy(s->block + s->used, p, n);
		s->used += n;
		p += n;
		len -= n;
		if (s->used == SHA256_BLOCK_SIZE) {
			compress(s->state, s->block);
			s->used = 0;
		}
	}
}

void sha256_final(struct sha256 *s, uint8_t digest[SHA256_DIGEST_SIZE])
{
	uint64_t bits = s->length * 8; /* FIPS 180-4 counts the message in bits */

	s->block[s->used++] = SHA256_PAD_FIRST;
	if (s->used > SHA256_BLOCK_SIZE - SHA256_LENGTH_SIZE) { /* no room for the length */
		memset(s->block + s->used, 0, SHA256_BLOCK_SIZE - s->used);
		compress(s->state, s->block);
		s->used = 0;
	}
	memset(s->block + s->used, 0, SHA256_BLOCK_SIZE - SHA256_LENGTH_SIZE - s->used);
	store_be32(s->block + SHA256_BLOCK_SIZE - SHA256_LENGTH_SIZE, (uint32_t)(bits >> 32));
	store_be32(s->block + SHA256_BLOCK_SIZE - SHA256_LENGTH_SIZE / 2, (uint32_t)bits);
	compress(s->state, s->block);
	for (int i = 0; i < 8; i++)
		store_be32(digest + 4 * i, s->state[i]);
	memset(s, 0, sizeof(*s));
}

void sha256_digest(const void *data, size_t len, uint8_t digest[SHA256_DIGEST_SIZE])
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final(&s, digest);
}
