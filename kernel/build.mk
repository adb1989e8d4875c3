# Builds one kernel: the shared kernel/, the layers of one checkpoint and their tests.
# The top-level Makefile and the grading harness both call it:
#
#   make -f kernel/build.mk OUT=build/03-bump-ssl CHECKPOINT=3 CHECKPOINT_NAME=03-bump \
#        LAYERS="solutions/01-boot solutions/02-paging labs/03-bump" \
#        TESTS="grade/ktests/00-kernel grade/ktests/01-boot grade/ktests/02-paging grade/ktests/03-bump"
#
# Writes $(OUT)/kernel.elf (with debug information), kernel.bin (what QEMU boots),
# kernel.asm (disassembly with source), kernel.sym (symbol table), kernel.map (link map)
# and compile_commands.json (for clangd).

.DEFAULT_GOAL := all
OUT ?= $(error OUT is not set)
# One spelling of every target, whoever calls: the .d files gcc writes name an object as it was
# built, so an object built as build/x/obj/a.o and later wanted as /abs/build/x/obj/a.o would
# lose its header dependencies (and not be rebuilt when a header changes).
override OUT := $(abspath $(OUT))
CHECKPOINT ?= $(error CHECKPOINT is not set)
CHECKPOINT_NAME ?= $(CHECKPOINT)
LAYERS ?=
TESTS ?=
EXTRA_SRCS ?=

ifeq ($(origin CC),default)
CC := gcc
endif
LD := ld
OBJCOPY := objcopy
OBJDUMP := objdump
NM := nm

SRCROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)

# The kernel side of each layer: kernel/layers/NN-name/ for each NN-name in LAYERS.
LAYER_DIRS := $(foreach d,$(LAYERS),kernel/layers/$(notdir $(d)))

SRCS := $(wildcard kernel/*.c kernel/*.S kernel/libc/*.c) \
	$(foreach d,$(LAYER_DIRS),$(sort $(wildcard $(d)/*.c $(d)/*.S))) \
	$(foreach d,$(LAYERS),$(sort $(wildcard $(d)/*.c $(d)/*.S))) \
	$(foreach d,$(TESTS),$(sort $(wildcard $(d)/*.c))) \
	$(EXTRA_SRCS)

# Debug information names files relative to the tree (./kernel/main.c), wherever the tree is:
# an object the compiler cache made for one copy of the course (a grading's, say) is then as
# good in another.
DEBUG_PREFIX_MAP := -fdebug-prefix-map=$(SRCROOT)=. -fdebug-prefix-map=$(SRCROOT)/=

CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-stack-protector -fno-pic -fno-pie \
	-mno-red-zone -mcmodel=kernel -mno-sse -mno-sse2 -mno-mmx -mno-80387 \
	-fno-omit-frame-pointer -fno-optimize-sibling-calls \
	-fno-asynchronous-unwind-tables -fno-unwind-tables \
	-Wall -Wextra -Werror -Wno-unused-parameter \
	-nostdinc -isystem $(shell $(CC) -print-file-name=include) \
	-Ikernel/libc -Ikernel $(addprefix -I,$(wildcard $(LAYER_DIRS))) -Igrade/ktests/include \
	-DCHECKPOINT=$(CHECKPOINT) -fmacro-prefix-map=$(SRCROOT)/= $(DEBUG_PREFIX_MAP) \
	$(KCFLAGS)
LDFLAGS := -n -nostdlib -z max-page-size=0x1000 -z noexecstack --no-warn-rwx-segments

# KERNEL_LAYOUT_SEED=N (a whole number) links the kernel at a layout drawn from N (see
# kernel/kernel.ld); the instructor's graders give every submission a fresh one. Empty: the
# fixed layout.
KERNEL_LAYOUT_SEED ?=
LDFLAGS += $(if $(KERNEL_LAYOUT_SEED),--defsym=KERNEL_LAYOUT_SEED=$(KERNEL_LAYOUT_SEED))

# A layer that needs more built than its C and assembly files (the user programs of 08-user,
# say) says how in kernel/layers/NN-name/layer.mk: it may add sources to SRCS, and objects
# it builds by its own rules to LAYER_OBJS, which the kernel links too.
LAYER_OBJS :=
include $(wildcard $(addsuffix /layer.mk,$(LAYER_DIRS)))

# One object per source; sources outside the tree (a mutated copy, say) get flattened names.
objname = $(OUT)/obj/$(subst /,_,$(patsubst /%,%,$(1))).o
OBJS := $(foreach s,$(SRCS),$(call objname,$(s)))

.PHONY: all
all: $(OUT)/kernel.bin $(OUT)/kernel.asm $(OUT)/kernel.sym $(OUT)/compile_commands.json

# What this kernel is made of, for its banner. Rewritten only when it changes.
BUILD_LAYERS := $(strip $(foreach d,$(LAYERS),$(notdir $(d)):$(notdir $(patsubst %/,%,$(dir $(d))))))
# The command that grades this same build, for the tour's last line: the layers taken from
# solutions/ become SOLUTIONS=all or a list, as the Makefile reads them.
layer_num = $(patsubst 0%,%,$(firstword $(subst -, ,$(notdir $(1)))))
SOL_NUMS := $(foreach d,$(LAYERS),$(if $(filter solutions,$(notdir $(patsubst %/,%,$(dir $(d))))),$(call layer_num,$(d))))
empty :=
space := $(empty) $(empty)
comma := ,
SOL_ARG := $(if $(SOL_NUMS),$(if $(filter $(words $(SOL_NUMS)),$(words $(LAYERS))),all,$(subst $(space),$(comma),$(strip $(SOL_NUMS)))))
GRADE_COMMAND := make grade LAB=$(CHECKPOINT)$(if $(SOL_ARG), SOLUTIONS=$(SOL_ARG))$(if $(filter-out gcc,$(notdir $(lastword $(CC)))), CC=$(notdir $(lastword $(CC))))
define BUILD_INFO
#pragma once
#define CHECKPOINT_NAME "$(CHECKPOINT_NAME)"
#define BUILD_LAYERS "$(BUILD_LAYERS)"
#define GRADE_COMMAND "$(GRADE_COMMAND)"
endef
export BUILD_INFO
$(OUT)/build_info.h: FORCE
	@mkdir -p $(@D)
	@echo "$$BUILD_INFO" > $@.tmp
	@cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

# The exact flags, so that changing CC or KCFLAGS rebuilds everything.
$(OUT)/flags: FORCE
	@mkdir -p $(@D)
	@echo "$(CC) $(CFLAGS) $(SRCS)" > $@.tmp
	@cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

# Only these read build_info.h, and only they are compiled with -I$(OUT): every other file's
# command line is the same in every kernel of a checkpoint, so the compiler cache (where the
# project's tests use one) finds its object from the command line and the headers alone,
# without running the preprocessor first.
BUILD_INFO_USERS := kernel/main.c kernel/layer.c
$(foreach s,$(BUILD_INFO_USERS),$(call objname,$(s))): CFLAGS += -I$(OUT)
$(foreach s,$(BUILD_INFO_USERS),$(call objname,$(s))): $(OUT)/build_info.h

# One shell per object (a kernel has over a hundred): the compiler, then its line of
# compile_commands.json.
define compile_rule
$(call objname,$(1)): $(1) $(OUT)/flags | $(OUT)/obj
	@echo "  CC      $(1)"; \
	$$(CC) $$(CFLAGS) -MMD -MP -c $(1) -o $$@ && \
	printf '{"directory": "%s", "file": "%s", "arguments": [%s]},\n' "$$(SRCROOT)" "$(abspath $(1))" \
		"$$(foreach a,$$(filter-out ccache,$$(CC)) $$(CFLAGS) -c $(1) -o $$@,\"$$(a)\",)\"-DCLANGD\"" > $$@.json
endef
$(OUT)/obj:
	@mkdir -p $@
$(foreach s,$(SRCS),$(eval $(call compile_rule,$(s))))

# Relinked when the layout changes.
$(OUT)/layout: FORCE
	@case "$(KERNEL_LAYOUT_SEED)" in *[!0-9]*) \
		echo "KERNEL_LAYOUT_SEED=$(KERNEL_LAYOUT_SEED): a layout seed is a whole number." >&2; exit 2;; esac
	@mkdir -p $(@D)
	@echo "$(KERNEL_LAYOUT_SEED)" > $@.tmp
	@cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

# The linker's arguments go through a file, link.args, which also lets the project's tests
# relink a kernel with one object swapped (grade/harness/build.py's variant) without make.
$(OUT)/kernel.elf: $(OBJS) $(LAYER_OBJS) kernel/kernel.ld $(OUT)/layout
	@echo "  LD      $@"
	@printf '%s\n' $(LDFLAGS) -T kernel/kernel.ld -Map $(OUT)/kernel.map -o $@ $(OBJS) $(LAYER_OBJS) > $(OUT)/link.args
	@$(LD) @$(OUT)/link.args

$(OUT)/kernel.bin: $(OUT)/kernel.elf
	@$(OBJCOPY) -O binary $< $@

$(OUT)/kernel.asm: $(OUT)/kernel.elf
	@$(OBJDUMP) -d -S --no-show-raw-insn $< > $@

$(OUT)/kernel.sym: $(OUT)/kernel.elf
	@$(NM) -n $< > $@

$(OUT)/compile_commands.json: $(OBJS)
	@(echo "["; cat $(addsuffix .json,$(OBJS)) | sed '$$ s/,$$//'; echo "]") > $@

.PHONY: FORCE
FORCE:

-include $(OBJS:.o=.d)
