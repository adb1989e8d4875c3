# Builds a host test program: test sources that run outside the kernel (every file in the
# test directories but *_ktest.c), the pure-C layers they test, and kernel/host/host.c in
# place of the kernel, under AddressSanitizer and UBSan.
#
#   make -f kernel/host.mk OUT=build/host/03-bump LAYERS="solutions/03-bump" \
#        TESTS="grade/ktests/03-bump"
#
# Writes $(OUT)/tests; run it with ktest=... arguments like the kernel's command line.

OUT ?= $(error OUT is not set)
# One spelling of every target, as in kernel/build.mk, the one the .d files use: relative to
# the tree's root (where make runs) inside the tree, absolute outside it.
override OUT := $(patsubst $(CURDIR)/%,%,$(abspath $(OUT)))
.DEFAULT_GOAL := $(OUT)/tests
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
	-DKTEST_HOST -Ikernel -Igrade/ktests/include $(HOSTCFLAGS)

# One object per source, so that a change recompiles only the files it touches (the headers
# each includes come from the compiler's .d files), and a compiler cache, where CC has one
# (the project's tests pass CC="ccache gcc"), compiles a file shared by several host programs
# once. Sources outside the tree get flattened names, as in kernel/build.mk.
objname = $(OUT)/obj/$(subst /,_,$(patsubst /%,%,$(1))).o
OBJS := $(foreach s,$(SRCS),$(call objname,$(s)))

# The compiler, its flags and the sources, rewritten only when they change: every object
# depends on it, so that another CC or HOSTCFLAGS rebuilds everything.
$(OUT)/flags: FORCE
	@mkdir -p $(@D)/obj
	@echo "$(CC) $(CFLAGS) $(SRCS)" > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

define host_compile
$(call objname,$(1)): $(1) $(OUT)/flags
	@echo "  HOSTCC  $(1)"
	@$(CC) $(CFLAGS) -MMD -MP -c $(1) -o $$@
endef
$(foreach s,$(SRCS),$(eval $(call host_compile,$(s))))

$(OUT)/tests: $(OBJS)
	@echo "  HOSTLD  $(patsubst $(CURDIR)/%,%,$@)"
	@$(CC) $(CFLAGS) -o $@ $(OBJS)

.PHONY: FORCE
FORCE:

-include $(OBJS:.o=.d)
