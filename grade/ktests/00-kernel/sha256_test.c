/*
 * SHA-256 and HMAC-SHA256, which authenticate the test runner's results (kernel/attest.h),
 * against known answers: FIPS 180-4's examples, messages around the padding boundaries, and
 * the test cases of RFC 4231. Runs in the kernel and on the host.
 */
#include <stdint.h>
#include "hmac.h"
#include "ktest.h"
#include "sha256.h"

#define BOUNDARY_MAX 1000

static void to_hex(const uint8_t *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	out[2 * n] = '\0';
}

#define EXPECT_SHA256(t, data, len, expected)          \
	do {                                           \
		uint8_t d_[SHA256_DIGEST_SIZE];        \
		char hex_[2 * SHA256_DIGEST_SIZE + 1]; \
		sha256_digest(data, len, d_);          \
		to_hex(d_, sizeof(d_), hex_);          \
		EXPECT_STREQ(t, hex_, expected);       \
	} while (0)

#define EXPECT_HMAC(t, key, key_len, data, len, expected) \
	do {                                              \
		uint8_t m_[HMAC_SHA256_SIZE];             \
		char hex_[2 * HMAC_SHA256_SIZE + 1];      \
		hmac_sha256(key, key_len, data, len, m_); \
		to_hex(m_, sizeof(m_), hex_);             \
		EXPECT_STREQ(t, hex_, expected);          \
	} while (0)

KTEST(sha256, fips_examples, 0)
{
	EXPECT_SHA256(t, "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	EXPECT_SHA256(t, "abc", 3,
		      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	EXPECT_SHA256(t, two_blocks, strlen(two_blocks),
		      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* Bytes 0, 1, 2, ... of each length: where the padding needs one block or spills into two. */
KTEST(sha256, lengths_around_the_padding_boundaries, 0)
{
	static uint8_t data[BOUNDARY_MAX];
	static const struct {
		size_t len;
		const char *digest;
	} cases[] = {
		{55, "463eb28e72f82e0a96c0a4cc53690c571281131f672aa229e0d45ae59b598b59"},
		{56, "da2ae4d6b36748f2a318f23e7ab1dfdf45acdc9d049bd80e59de82a60895f562"},
		{63, "29af2686fd53374a36b0846694cc342177e428d1647515f078784d69cdb9e488"},
		{64, "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108"},
		{65, "4bfd2c8b6f1eec7a2afeb48b934ee4b2694182027e6d0fc075074f2fabb31781"},
		{119, "da18797ed7c3a777f0847f429724a2d8cd5138e6ed2895c3fa1a6d39d18f7ec6"},
		{120, "f52b23db1fbb6ded89ef42a23ce0c8922c45f25c50b568a93bf1c075420bbb7c"},
		{1000, "a8af099bf2e878609558dbf69d8f88f4a31040a8cf84b549a0cfa912f12ffc3f"},
	};

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		EXPECT_SHA256(t, data, cases[i].len, cases[i].digest);
}

KTEST(sha256, pieces_hash_like_the_whole, 0)
{
	const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	uint8_t whole[SHA256_DIGEST_SIZE], pieces[SHA256_DIGEST_SIZE];
	struct sha256 s;

	sha256_digest(msg, strlen(msg), whole);
	sha256_init(&s);
	for (const char *p = msg; *p; p++) /* one byte at a time, across the block boundary */
		sha256_update(&s, p, 1);
	sha256_final(&s, pieces);
	EXPECT_EQ(t, memcmp(whole, pieces, sizeof(whole)), 0);
}

/* RFC 4231, test cases 1-4, 6 and 7 (5 is about truncation, which HMAC itself does not do). */
KTEST(hmac, rfc4231_test_cases, 0)
{
	static uint8_t key[131], data[50];

	memset(key, 0x0b, 20);
	EXPECT_HMAC(t, key, 20, "Hi There", 8,
		    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	EXPECT_HMAC(t, "Jefe", 4, "what do ya want for nothing?", 28,
		    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, 20);
	memset(data, 0xdd, 50);
	EXPECT_HMAC(t, key, 20, data, 50,
		    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	for (int i = 0; i < 25; i++)
		key[i] = (uint8_t)(i + 1);
	memset(data, 0xcd, 50);
	EXPECT_HMAC(t, key, 25, data, 50,
		    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

	/* A key longer than a block is hashed first. */
	memset(key, 0xaa, sizeof(key));
	const char *six = "Test Using Larger Than Block-Size Key - Hash Key First";
	EXPECT_HMAC(t, key, sizeof(key), six, strlen(six),
		    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	const char *seven = "This is a test using a larger than block-size key and a larger than "
			    "block-size data. The key needs to be hashed before being used by the "
			    "HMAC algorithm.";
	EXPECT_HMAC(t, key, sizeof(key), seven, strlen(seven),
		    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

KTEST(hmac, every_key_byte_matters, 0)
{
	uint8_t a[HMAC_SHA256_SIZE], b[HMAC_SHA256_SIZE];
	char key[] = "0123456789abcdef0123456789abcdef";

	hmac_sha256(key, strlen(key), "result s 1 x ok", 15, a);
	key[31] ^= 1;
	hmac_sha256(key, strlen(key), "result s 1 x ok", 15, b);
	EXPECT_NE(t, memcmp(a, b, sizeof(a)), 0);
	hmac_sha256(key, strlen(key), "result s 1 x not ok", 19, a);
	EXPECT_NE(t, memcmp(a, b, sizeof(a)), 0);
}
