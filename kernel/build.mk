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

# One spelling of every target, whoever calls (the Makefile says build/..., the harness an
# absolute path), and it must be the one the .d files use. gcc names an object in its .d file
# as it was built; ccache, whose base directory is the tree's root (CCACHE_BASEDIR), also
# rewrites every path under the root there as a path relative to it, the object's own name
# included. So an object inside the tree is named relative to the root (where make runs), one
# outside it by its absolute path. Named otherwise, the rules of the .d files would be for
# another target, and an object would not be compiled again when a header it includes changes.
override OUT := $(patsubst $(SRCROOT)/%,%,$(abspath $(OUT)))
# A target asked for by its absolute path (the harness asks for $(OUT)/kernel.bin so) is the
# same file.
ifneq ($(OUT),$(abspath $(OUT)))
$(abspath $(OUT))/%: $(OUT)/% ;
endif

empty :=
space := $(empty) $(empty)
comma := ,
define newline


endef

# A build runs often with nothing to do (each grading and test asks for its kernel), and on a
# virtual machine every process it starts costs several milliseconds. So this file starts as
# few as it can: the small files below are written by make itself (write_if_changed), each
# object is compiled without a shell around the compiler, and the compiler's own header
# directory is asked for once per build directory.
#
# $(call write_if_changed,path,text): path holds text (and a newline) afterwards; rewritten,
# and so newer than what depends on it, only when the text changed (apart from white space,
# which make does not always read back as it wrote it).
write_if_changed = $(if $(and $(wildcard $(1)),$(call same,$(file <$(1)),$(2))),,$(file >$(1),$(2)))
same = $(and $(findstring x$(strip $(1))x,x$(strip $(2))x),$(findstring x$(strip $(2))x,x$(strip $(1))x))
$(if $(wildcard $(OUT)/obj/.),,$(shell mkdir -p $(OUT)/obj))

# The compiler's own headers (stddef.h, stdint.h...): what `$(CC) -print-file-name=include`
# answers, kept in the build directory under the compiler that gave it.
CC_INCLUDE_SAVED := $(file <$(OUT)/cc-include)
CC_INCLUDE := $(if $(call same,$(CC_INCLUDE_SAVED),$(CC)$(newline)$(lastword $(CC_INCLUDE_SAVED))),$(lastword $(CC_INCLUDE_SAVED)))
ifeq ($(CC_INCLUDE),)
CC_INCLUDE := $(shell $(CC) -print-file-name=include)
$(call write_if_changed,$(OUT)/cc-include,$(CC)$(newline)$(CC_INCLUDE))
endif

# The kernel side of each layer: kernel/layers/NN-name/ for each NN-name in LAYERS.
LAYER_DIRS := $(foreach d,$(LAYERS),kernel/layers/$(notdir $(d)))

SRCS := $(wildcard kernel/*.c kernel/*.S kernel/libc/*.c) \
	$(foreach d,$(LAYER_DIRS),$(sort $(wildcard $(d)/*.c $(d)/*.S))) \
	$(foreach d,$(LAYERS),$(sort $(wildcard $(d)/*.c $(d)/*.S))) \
	$(foreach d,$(TESTS),$(sort $(wildcard $(d)/*.c))) \
	$(EXTRA_SRCS) $(OUT)/build_info.c

# The include path: kernel/, the folder of every layer with headers for other folders (a
# local.h is found beside the files of its own folder), and the tests' headers, the same for
# every checkpoint. A file then has one command line in the kernels of all checkpoints, and
# the compiler cache, where the project's tests use one, finds the object of a file compiled
# at one checkpoint for the next from the command line and the headers alone. (Which layer's
# headers a file may include is test_source.py's to check, not the include path's.) The one
# exception: a layer header that the core asks for with __has_include (PROBED_HEADERS: heap.h
# asks for layer 05's kmalloc_fast.h) must be found only from its layer's checkpoint on, so
# its folder joins the path there.
PROBED_HEADERS := kmalloc_fast.h
PROBED_DIRS := $(patsubst %/,%,$(dir $(wildcard $(addprefix kernel/layers/*/,$(PROBED_HEADERS)))))
HEADER_DIRS := $(patsubst %/,%,$(sort $(dir $(filter-out %/local.h,$(wildcard kernel/layers/*/*.h)))))
INCLUDE_DIRS := kernel/libc kernel $(filter-out $(PROBED_DIRS),$(HEADER_DIRS)) \
	$(filter $(PROBED_DIRS),$(LAYER_DIRS)) grade/ktests/include

# Debug information names files relative to the tree (./kernel/main.c), wherever the tree is:
# an object the compiler cache made for one copy of the course (a grading's, say) is then as
# good in another.
DEBUG_PREFIX_MAP := -fdebug-prefix-map=$(SRCROOT)=. -fdebug-prefix-map=$(SRCROOT)/=

CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-stack-protector -fno-pic -fno-pie \
	-mno-red-zone -mcmodel=kernel -mno-sse -mno-sse2 -mno-mmx -mno-80387 \
	-fno-omit-frame-pointer -fno-optimize-sibling-calls \
	-fno-asynchronous-unwind-tables -fno-unwind-tables \
	-Wall -Wextra -Werror -Wno-unused-parameter \
	-nostdinc -isystem $(CC_INCLUDE) \
	$(addprefix -I,$(INCLUDE_DIRS)) -fmacro-prefix-map=$(SRCROOT)/= $(DEBUG_PREFIX_MAP) \
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

# One object per source; sources outside the tree (a mutated copy, say) get flattened names,
# and build_info.c, written into the build directory, its own.
objname = $(OUT)/obj/$(subst /,_,$(patsubst /%,%,$(patsubst $(OUT)/%,%,$(1)))).o
OBJS := $(foreach s,$(SRCS),$(call objname,$(s)))

.PHONY: all
all: $(OUT)/kernel.bin $(OUT)/kernel.asm $(OUT)/kernel.sym $(OUT)/compile_commands.json

# What this kernel is made of, for its banner. Rewritten only when it changes.
BUILD_LAYERS := $(strip $(foreach d,$(LAYERS),$(notdir $(d)):$(notdir $(patsubst %/,%,$(dir $(d))))))
# The command that grades this same build, for the tour's last line: the layers taken from
# solutions/ become SOLUTIONS=all or a list, as the Makefile reads them.
layer_num = $(patsubst 0%,%,$(firstword $(subst -, ,$(notdir $(1)))))
SOL_NUMS := $(foreach d,$(LAYERS),$(if $(filter solutions,$(notdir $(patsubst %/,%,$(dir $(d))))),$(call layer_num,$(d))))
SOL_ARG := $(if $(SOL_NUMS),$(if $(filter $(words $(SOL_NUMS)),$(words $(LAYERS))),all,$(subst $(space),$(comma),$(strip $(SOL_NUMS)))))
GRADE_COMMAND := make grade LAB=$(CHECKPOINT)$(if $(SOL_ARG), SOLUTIONS=$(SOL_ARG))$(if $(filter-out gcc,$(notdir $(lastword $(CC)))), CC=$(notdir $(lastword $(CC))))
# Written into build_info.c (declared in kernel/layer.h), compiled with the kernel: the one
# source that differs between two builds of a checkpoint. Every other file's command line is
# the same in every kernel (the include path above), so the compiler cache (where the
# project's tests use one) finds its object from the command line and the headers alone,
# without running the preprocessor first; and main.c, which prints these, is not compiled
# again for each checkpoint and each mix of labs and solutions.
define BUILD_INFO
/* Written by kernel/build.mk for this build: what the kernel is made of (kernel/layer.h). */
const char build_checkpoint_name[] = "$(CHECKPOINT_NAME)";
const char build_layers[] = "$(BUILD_LAYERS)";
const char build_grade_command[] = "$(GRADE_COMMAND)";
endef
$(call write_if_changed,$(OUT)/build_info.c,$(BUILD_INFO))

# The exact flags, so that changing CC or KCFLAGS rebuilds everything.
$(call write_if_changed,$(OUT)/flags,$(CC) $(CFLAGS) $(SRCS)$(if $(EXTRA_SRCS), CHECKPOINT=$(CHECKPOINT)))

# Each object: its line of compile_commands.json (written by make), then the compiler, started
# directly (a kernel has over a hundred objects: no shell for each).
define compile_rule
$(call objname,$(1)): $(1) $(OUT)/flags | $(OUT)/obj
	@$$(info $$(space) CC      $(1))$$(file >$$@.json,{"directory": "$$(SRCROOT)", "file": "$(abspath $(1))", "arguments": [$$(foreach a,$$(filter-out ccache,$$(CC)) $$(CFLAGS) -c $(1) -o $$@,"$$(a)",)"-DCLANGD"]},)$$(CC) $$(CFLAGS) -MMD -MP -c $(1) -o $$@
endef
$(OUT)/obj:
	@mkdir -p $@
$(foreach s,$(SRCS),$(eval $(call compile_rule,$(s))))
# The one kind of source told the checkpoint's number: the bench's guest programs
# (EXTRA_SRCS, tools/bench/bench.py), which choose by it what they can measure.
$(foreach s,$(EXTRA_SRCS),$(eval $(call objname,$(s)): CFLAGS += -DCHECKPOINT=$(CHECKPOINT)))

# Relinked when the layout changes.
ifneq ($(strip $(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst 5,,$(subst 6,,$(subst 7,,$(subst 8,,$(subst 9,,$(KERNEL_LAYOUT_SEED)))))))))))),)
$(error KERNEL_LAYOUT_SEED=$(KERNEL_LAYOUT_SEED): a layout seed is a whole number.)
endif
$(call write_if_changed,$(OUT)/layout,seed $(KERNEL_LAYOUT_SEED))

# The linker's arguments go through a file, link.args, which also lets the project's tests
# relink a kernel with one object swapped (grade/harness/build.py's variant) without make.
$(OUT)/kernel.elf: $(OBJS) $(LAYER_OBJS) kernel/kernel.ld $(OUT)/layout
	@$(info $(space) LD      $@)$(file >$(OUT)/link.args,$(subst $(space),$(newline),$(strip $(LDFLAGS) -T kernel/kernel.ld -Map $(OUT)/kernel.map -o $@ $(OBJS) $(LAYER_OBJS))))$(LD) @$(OUT)/link.args

$(OUT)/kernel.bin: $(OUT)/kernel.elf
	@$(OBJCOPY) -O binary $< $@

$(OUT)/kernel.asm: $(OUT)/kernel.elf
	@$(OBJDUMP) -d -S --no-show-raw-insn $< > $@

$(OUT)/kernel.sym: $(OUT)/kernel.elf
	@$(NM) -n $< > $@

$(OUT)/compile_commands.json: $(OBJS)
	@(echo "["; cat $(addsuffix .json,$(OBJS)) | sed '$$ s/,$$//'; echo "]") > $@


-include $(OBJS:.o=.d)
