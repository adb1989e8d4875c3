"""Which console lines to believe: the kernel's authenticated output (kernel/attest.h).

For every boot the harness draws a fresh key and hands it to the kernel through QEMU's fw_cfg
device. The kernel's test runner follows each KTAP result with a tag, and the trap handler
and scenario runner print signed records:

        ok 3 alignment
        # mac 4f0c...              HMAC-SHA256(key, "result bump 3 alignment ok"), 16 bytes in hex
    # attest: trap vector=3 error=0x0 rip=0x... cr2=0x0 [mac 9a...]
                                   HMAC-SHA256(key, "attest trap vector=3 ...")

A line whose tag is missing or wrong was printed by something that does not hold this boot's
key, so it counts for nothing. What that does and does not stop: handouts/instructors.md.
"""
import hashlib
import hmac
import re
import secrets

KEY_FILE = "opt/teachos/ktest-key"  # ATTEST_KEY_FILE in kernel/attest.h
TAG_CHARS = 32                      # ATTEST_TAG_CHARS
MAC_LINE = re.compile(r"^\s*# mac ([0-9a-f]{%d})\s*$" % TAG_CHARS)
RECORD_LINE = re.compile(r"^# attest: (.*) \[mac ([0-9a-f]{%d})\]\s*$" % TAG_CHARS)


def new_key():
    """A fresh key for one boot: 128 random bits, as 32 hex digits (the bytes the kernel uses)."""
    return secrets.token_hex(16)


def qemu_args(key):
    return ["-fw_cfg", f"name={KEY_FILE},string={key}"]


def tag(key, message):
    return hmac.new(key.encode(), message.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:TAG_CHARS]


def valid(key, message, got):
    return hmac.compare_digest(tag(key, message), got)


def result_message(suite, number, name, ok):
    """What the tag after a KTAP result line signs (print_result in kernel/ktest.c)."""
    return f"result {suite} {number} {name} {'ok' if ok else 'not ok'}"


def records(text, key):
    """The signed records in a console log, [(line index, text)], checked with key; and how
    many record lines were there whose tag did not check out."""
    good, bad = [], 0
    for i, line in enumerate(text.splitlines()):
        m = RECORD_LINE.match(line)
        if m:
            if key is not None and valid(key, "attest " + m.group(1), m.group(2)):
                good.append((i, m.group(1)))
            else:
                bad += 1
    return good, bad
