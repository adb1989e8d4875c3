# Builds a host test program: test sources that run outside the kernel (every file in the
# test directories but *_ktest.c), the pure-C layers they test, and kernel/host/host.c in
# place of the kernel, under AddressSanitizer and UBSan.
#
#   make -f kernel/host.mk OUT=build/host/03-bump CHECKPOINT=3 \
#        LAYERS="solutions/03-bump" TESTS="grade/ktests/03-bump"
#
# Writes $(OUT)/tests; run it with ktest=... arguments like the kernel's command line.

OUT ?= $(error OUT is not set)
CHECKPOINT ?= 0
LAYERS ?=
TESTS ?=

ifeq ($(origin CC),default)
CC := gcc
endif

SRCS := kernel/kprintf.c kernel/ktest.c kernel/ktry.c kernel/cmdline.c kernel/host/host.c \
	kernel/attest.c kernel/hmac.c kernel/sha256.c \
	$(foreach d,$(LAYERS),$(sort $(wildcard $(d)/*.c))) \
	$(foreach d,$(TESTS),$(sort $(filter-out %_ktest.c,$(wildcard $(d)/*.c))))

CFLAGS := -std=gnu11 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unused-parameter \
	-DKTEST_HOST -DCHECKPOINT=$(CHECKPOINT) -Ikernel -Igrade/ktests/include $(HOSTCFLAGS)

# FORCE runs the recipe every time, so that a change of compiler or flags (the .flags file)
# rebuilds too; otherwise it rebuilds when a source or header is newer ($$? without FORCE).
$(OUT)/tests: $(SRCS) $(wildcard kernel/*.h kernel/host/*.h grade/ktests/include/*.h) \
		$(foreach d,$(LAYERS) $(TESTS),$(wildcard $(d)/*.h)) FORCE
	@mkdir -p $(@D)
	@echo "$(CC) $(CFLAGS) $(SRCS)" > $@.flags.tmp
	@if ! cmp -s $@.flags.tmp $@.flags || [ ! -e $@ ] || [ -n "$(filter-out FORCE,$?)" ]; then \
		echo "  HOSTCC  $@"; \
		$(CC) $(CFLAGS) -o $@ $(SRCS) && mv $@.flags.tmp $@.flags; \
	else rm -f $@.flags.tmp; fi

.PHONY: FORCE
FORCE:
