/*
 * Authenticated console lines (see attest.h). The key is read from fw_cfg the first time it
 * is needed and kept here; a boot without one signs nothing.
 */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include "attest.h"
#include "fw_cfg.h"
#include "hmac.h"
#include "kprintf.h"

#define ATTEST_PREFIX "attest "

static uint8_t key[ATTEST_KEY_MAX];
static size_t key_len;
static bool key_loaded;

/* The key's length, reading it on the first call; 0 if this boot has none. */
static size_t load_key(void)
{
	if (!key_loaded) {
		long n = fw_cfg_read_file(ATTEST_KEY_FILE, key, sizeof(key));

		key_loaded = true;
		if (n > (long)sizeof(key)) {
			kprintf("attest: the key in fw_cfg %s is longer than %d bytes; ignored\n",
				ATTEST_KEY_FILE, ATTEST_KEY_MAX);
			n = 0;
		}
		key_len = n > 0 ? (size_t)n : 0;
	}
	return key_len;
}

bool attest_tag(const char *msg, char tag[ATTEST_TAG_CHARS + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mac[HMAC_SHA256_SIZE];

	tag[0] = '\0';
	if (!load_key())
		return false;
	hmac_sha256(key, key_len, msg, strlen(msg), mac);
	for (int i = 0; i < ATTEST_TAG_BYTES; i++) {
		tag[2 * i] = hex[mac[i] >> 4];
		tag[2 * i + 1] = hex[mac[i] & 0xf];
	}
	tag[ATTEST_TAG_CHARS] = '\0';
	return true;
}

void attest_printf(const char *fmt, ...)
{
	char msg[sizeof(ATTEST_PREFIX) + ATTEST_TEXT_MAX], tag[ATTEST_TAG_CHARS + 1];
	char *text = msg + sizeof(ATTEST_PREFIX) - 1;
	va_list ap;

	if (!load_key())
		return;
	memcpy(msg, ATTEST_PREFIX, sizeof(ATTEST_PREFIX) - 1);
	va_start(ap, fmt);
	kvsnprintf(text, ATTEST_TEXT_MAX, fmt, ap);
	va_end(ap);
	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	attest_tag(msg, tag);
	kprintf("# attest: %s [mac %s]\n", text, tag);
}
