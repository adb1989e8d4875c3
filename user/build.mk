# The programs that run in ring 3 (checkpoint 08 on): each user/NAME.c becomes the program
# NAME, a statically linked, position-independent ELF executable, built with the kernel's
# compiler and put into the kernel image by kernel/layers/08-user/layer.mk (no disk yet).
# Included from kernel/build.mk's layer.mk, with OUT, CC, CC_INCLUDE (the compiler's own
# headers), LD, OBJCOPY and LAYERS set.
#
#   user/include/user.h   the programs' C library: system calls, printf, malloc
#   user/lib/             its code: crt0.S (the entry), relocation, stubs, printf, malloc
#   kernel/kprintf.c, kernel/libc/string.c and lab 04's list_heap.c (from the checkpoint's
#                         LAYERS: labs/ or solutions/) are built into it too
#
# Writes $(USER_OUT)/NAME.elf (with symbols, for GDB and objdump) and NAME (stripped: what
# goes into the kernel).

USER_OUT := $(OUT)/user
USER_PROGRAMS := $(sort $(basename $(notdir $(wildcard user/*.c))))
USER_LIST_HEAP := $(firstword $(wildcard $(addsuffix /list_heap.c,$(filter %/04-linked-list,$(LAYERS)))))
USER_LIB_SRCS := user/lib/crt0.S $(filter-out user/lib/crt0.S,$(sort $(wildcard user/lib/*.c user/lib/*.S))) \
	kernel/kprintf.c kernel/libc/string.c $(USER_LIST_HEAP)

# Position-independent, no floating point (the kernel does not save those registers), no
# stack protector or unwind tables (nothing to support them), hidden symbols (so that code
# reaches them relative to rip, never through a table that would need relocating first).
USER_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fPIE -fvisibility=hidden \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
	-mno-sse -mno-sse2 -mno-mmx -mno-80387 -fno-omit-frame-pointer \
	-Wall -Wextra -Werror -Wno-unused-parameter \
	-nostdinc -isystem $(CC_INCLUDE) \
	-Iuser/include -Ikernel/libc -Ikernel -fmacro-prefix-map=$(SRCROOT)/= $(DEBUG_PREFIX_MAP)
# A static PIE: ELF type DYN, no interpreter, its own relocations (user/lib/start.c); each
# part on pages of its own: headers and rodata read-only, code executable, data writable.
USER_LDFLAGS := -pie --no-dynamic-linker -static -nostdlib -z noexecstack -z norelro \
	-z separate-code -z max-page-size=4096 -e _start

user_obj = $(USER_OUT)/obj/$(subst /,_,$(patsubst /%,%,$(1))).o
USER_LIB_OBJS := $(foreach s,$(USER_LIB_SRCS),$(call user_obj,$(s)))
USER_ELFS := $(addprefix $(USER_OUT)/,$(addsuffix .elf,$(USER_PROGRAMS)))
USER_IMAGES := $(addprefix $(USER_OUT)/,$(USER_PROGRAMS))

define user_compile_rule
$(call user_obj,$(1)): $(1) $(OUT)/flags | $(USER_OUT)/obj
	@$$(info $$(space) CC      $(1) (ring 3))$$(CC) $$(USER_CFLAGS) -MMD -MP -c $(1) -o $$@
endef
$(USER_OUT)/obj:
	@mkdir -p $@
$(foreach s,$(USER_LIB_SRCS) $(addprefix user/,$(addsuffix .c,$(USER_PROGRAMS))),$(eval $(call user_compile_rule,$(s))))

$(USER_OUT)/libuser.a: $(filter-out $(call user_obj,user/lib/crt0.S),$(USER_LIB_OBJS))
	@rm -f $@
	@ar rcs $@ $^

$(USER_ELFS): $(USER_OUT)/%.elf: $(call user_obj,user/%.c) $(call user_obj,user/lib/crt0.S) $(USER_OUT)/libuser.a
	@echo "  LD      $@"
	@$(LD) $(USER_LDFLAGS) -o $@ $(call user_obj,user/lib/crt0.S) $< $(USER_OUT)/libuser.a

$(USER_IMAGES): $(USER_OUT)/%: $(USER_OUT)/%.elf
	@$(OBJCOPY) --strip-all $< $@

-include $(patsubst %.o,%.d,$(USER_LIB_OBJS) $(foreach p,$(USER_PROGRAMS),$(call user_obj,user/$(p).c)))
