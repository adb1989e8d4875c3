/*
 * Authenticated console lines: what the grading harness trusts as printed by the kernel's own
 * code (the test runner, the trap handler) and not by lab code imitating it.
 *
 * For each boot the harness draws a fresh random key and hands it to the kernel through QEMU's
 * fw_cfg device (fw_cfg.h), never on the command line. A trusted line carries a tag: the
 * first ATTEST_TAG_BYTES bytes of HMAC-SHA256(key, message), in hex, where the message says
 * what the line claims. Two kinds of line are signed:
 *
 *         ok 3 alignment                       a KTAP result (ktest.c), then on the next line
 *         # mac 4f0c...e1                      HMAC(key, "result bump 3 alignment ok")
 *
 *     # attest: trap vector=3 ... [mac 9a..]   a record, HMAC(key, "attest trap vector=3 ...")
 *
 * The harness recomputes every tag and ignores lines whose tag is missing or wrong. Without a
 * key (`make qemu`, host test programs) nothing is signed and no tag is printed. What this
 * does and does not stop is in handouts/instructors.md ("Forged results").
 */
#pragma once

#include <stdbool.h>
#include "compiler.h"

#define ATTEST_KEY_FILE	 "opt/teachos/ktest-key" /* the fw_cfg file holding the key */
#define ATTEST_KEY_MAX	 64			 /* bytes */
#define ATTEST_TAG_BYTES 16
#define ATTEST_TAG_CHARS (2 * ATTEST_TAG_BYTES) /* in hex */
#define ATTEST_TEXT_MAX	 256

/*
 * Write into tag the hex tag of msg (ATTEST_TAG_CHARS digits and a NUL). Returns false, with
 * tag empty, if this boot has no key.
 */
bool attest_tag(const char *msg, char tag[ATTEST_TAG_CHARS + 1]);

/*
 * Print "# attest: <text> [mac <tag>]" for the formatted text (at most ATTEST_TEXT_MAX - 1
 * characters; line breaks become spaces). Prints nothing if this boot has no key.
 */
void attest_printf(const char *fmt, ...) __printf(1, 2);
