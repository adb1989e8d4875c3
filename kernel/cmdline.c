/* The kernel command line (see cmdline.h). Plain C: host test programs parse argv with it. */
#include <string.h>
#include "cmdline.h"

static char cmdline[CMDLINE_MAX];

void cmdline_set(const char *s)
{
	size_t n = strnlen(s, CMDLINE_MAX - 1);

	memcpy(cmdline, s, n);
	cmdline[n] = '\0';
}

const char *cmdline_raw(void)
{
	return cmdline;
}

/* Find the word for key; sets *value to its value (after '=') or NULL. */
static const char *find_word(const char *key, const char **value, size_t *value_len)
{
	size_t klen = strlen(key);

	for (const char *p = cmdline; *p;) {
		while (*p == ' ')
			p++;
		const char *word = p;
		while (*p && *p != ' ')
			p++;
		size_t wlen = (size_t)(p - word);
		if (wlen >= klen && !strncmp(word, key, klen) &&
		    (wlen == klen || word[klen] == '=')) {
			*value = wlen > klen ? word + klen + 1 : NULL;
			*value_len = wlen > klen ? wlen - klen - 1 : 0;
			return word;
		}
	}
	return NULL;
}

bool cmdline_has(const char *key)
{
	const char *v;
	size_t n;

	return find_word(key, &v, &n) != NULL;
}

bool cmdline_get(const char *key, char *buf, size_t size)
{
	const char *v;
	size_t n;

	if (!find_word(key, &v, &n) || !v || !size)
		return false;
	if (n > size - 1)
		n = size - 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return true;
}

bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	unsigned base = 10;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		len -= 2;
	}
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false; /* overflow */
		v = v * base + d;
	}
	*out = v;
	return true;
}

uint64_t cmdline_get_u64(const char *key, uint64_t dflt)
{
	const char *v;
	size_t n;
	uint64_t out;

	if (!find_word(key, &v, &n) || !v || !parse_u64(v, n, &out))
		return dflt;
	return out;
}
