# teachos: a teaching x86_64 kernel in numbered checkpoints. `make help` lists the commands.
#
# Checkpoint N is kernel/ plus the layers 01..N. By default each layer comes from labs/ (the
# student's files); SOLUTIONS=all, or a list such as SOLUTIONS=1,2,3, takes those layers from
# solutions/ instead.

.DEFAULT_GOAL := help
SHELL := /bin/bash
.SUFFIXES:

PYTHON := /usr/bin/python3
LABS := $(sort $(notdir $(wildcard labs/[0-9][0-9]-*)))

LAB ?=
SOLUTIONS ?=
MEM ?= 128M
QEMUEXTRA ?=
ACCEL ?= tcg
MACHINE ?= microvm
TEST ?=
SEED ?=
JUNIT ?=
RESULTS ?=
GRADESCOPE ?=
HIDDEN ?=
HIDDEN_VISIBILITY ?= after_published
BOOT_TIMEOUT ?=
# Every variable that asks the system (nproc, ccache's presence) asks once: make runs for each
# boot and grading of the project's tests, and each process it starts costs milliseconds.
JOBS_ORIGIN := $(origin JOBS)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
JOBS := $(JOBS)
ifeq ($(origin CC),default)
CC := gcc
endif
export MEM QEMUEXTRA ACCEL MACHINE CC
# Kernels compile through ccache where it is installed, with the cache the grader uses
# (grade/harness/build.py): a file compiled once, for a grade or a boot, is not compiled again.
# Only a compiler itself (gcc..., clang...), never a wrapper such as the instructor tools'
# sandbox (tools/instructor/cc); CCACHE= turns it off.
CCACHE ?= $(if $(shell command -v ccache 2>/dev/null),ccache)
CCACHE := $(CCACHE)
KCC := $(strip $(if $(filter gcc% clang%,$(notdir $(firstword $(CC)))),$(CCACHE)) $(CC))
export CCACHE_DIR ?= $(CURDIR)/build/ccache
export CCACHE_BASEDIR := $(CURDIR)
# The kernel's prefix maps (kernel/build.mk) name the tree's root, which the base directory
# already takes out of every path ccache hashes: left out of the hash, they let a copy of the
# course elsewhere (a grading's, say) find the objects another copy compiled.
export CCACHE_IGNOREOPTIONS := -fmacro-prefix-map=* -fdebug-prefix-map=*
# A kernel whose flags no other build shares (-Og, clang) skips the preprocessor run ccache
# would make on a miss to look for the same text compiled before (grade/harness/build.py's
# ccache_env says more).
CCACHE_ALONE = $(if $(or $(DEBUG),$(filter-out gcc,$(CC))),CCACHE_DEPEND=1)

comma := ,
empty :=
space := $(empty) $(empty)

# Lab names: 03-bump -> number 3, name bump. LAB may be 3, 03, 03-bump or bump.
labnum = $(patsubst 0%,%,$(firstword $(subst -, ,$(1))))
labname = $(patsubst $(firstword $(subst -, ,$(1)))-%,%,$(1))
lab_matches = $(filter $(2),$(1) $(call labnum,$(1)) 0$(call labnum,$(1)) $(call labname,$(1)))
LAB_DIR = $(if $(LAB),$(firstword $(foreach d,$(LABS),$(if $(call lab_matches,$(d),$(LAB)),$(d)))),$(lastword $(LABS)))
LAB_NUM = $(call labnum,$(LAB_DIR))
# The layers of the checkpoint: every lab up to and including LAB_DIR (the labs sort by number).
LAB_DIR := $(LAB_DIR)
LAB_UPTO := $(foreach d,$(LABS),$(if $(filter $(d),$(firstword $(sort $(d) $(LAB_DIR)))),$(d)))

ALL_NUMS := $(foreach d,$(LABS),$(call labnum,$(d)))
# The labs whose solutions this copy of the course has: all of them, or (in a students' copy
# from `make release`) some or none. SOLUTIONS=all means these.
HAVE_NUMS := $(strip $(foreach d,$(LABS),$(if $(wildcard solutions/$(d)/.),$(call labnum,$(d)))))
# SOLUTIONS=all, none, or a list of numbers and ranges: 1,2,3 or 1-6 or 1-3,5.
SOL_ITEMS = $(subst $(comma),$(space),$(SOLUTIONS))
sol_range = $(if $(findstring -,$(1)),$(shell seq $(subst -, ,$(1)) 2>/dev/null),$(1))
SOL_NUMS := $(if $(filter all,$(SOLUTIONS)),$(HAVE_NUMS),$(if $(filter none,$(SOLUTIONS)),,$(patsubst 0%,%,$(foreach x,$(SOL_ITEMS),$(call sol_range,$(x))))))
BAD_SOLUTIONS = $(filter-out $(ALL_NUMS),$(SOL_NUMS))
layer_src = $(if $(filter $(call labnum,$(1)),$(SOL_NUMS)),solutions,labs)/$(1)
LAYERS = $(foreach d,$(LAB_UPTO),$(call layer_src,$(d)))
TESTDIRS = grade/ktests/00-kernel $(wildcard $(addprefix grade/ktests/,$(LAB_UPTO))) \
	$(if $(HIDDEN),$(wildcard $(addprefix $(HIDDEN)/ktests/,00-kernel $(LAB_UPTO))))
SRCTAG = $(subst $(space),,$(foreach d,$(LAB_UPTO),$(if $(filter $(call labnum,$(d)),$(SOL_NUMS)),s,l)))
OUT = build/$(LAB_DIR)-$(SRCTAG)$(if $(filter-out gcc,$(CC)),-$(notdir $(CC)))$(if $(HIDDEN),-hidden)$(if $(DEBUG),-debug)
# `make qemu-gdb` builds with -Og: slower code, but GDB steps through it line by line.
DEBUG =
qemu-gdb: DEBUG = 1

# Empty: `make qemu-gdb` picks a free port itself and `make gdb` finds it in .gdbinit.
GDBPORT ?=
HARNESS = PYTHONPATH=grade $(PYTHON) -m harness

# The variables that decide what a run builds and how it boots: every command the grader or
# the kernel suggests repeats them, so that it does again what this run did.
RUN_VARS = LAB=$(LAB_NUM) $(if $(SOLUTIONS),SOLUTIONS=$(SOLUTIONS)) \
	$(if $(filter-out gcc,$(CC)),CC=$(CC)) $(if $(filter-out 128M,$(MEM)),MEM=$(MEM)) \
	$(if $(filter-out tcg,$(ACCEL)),ACCEL=$(ACCEL)) $(if $(filter-out microvm,$(MACHINE)),MACHINE=$(MACHINE)) \
	$(if $(QEMUEXTRA),QEMUEXTRA='$(QEMUEXTRA)') $(if $(HIDDEN),HIDDEN=$(HIDDEN)) \
	$(if $(BOOT_TIMEOUT),BOOT_TIMEOUT=$(BOOT_TIMEOUT))

.PHONY: help
help:
	@echo "teachos: a teaching x86_64 kernel, built up in checkpoints ($(words $(LABS)) labs)."
	@echo
	@echo "  make qemu [LAB=N]        build checkpoint N (default: the last) and boot it: a tour"
	@echo "  make qemu TEST=suite     boot it and run one test suite on the console"
	@echo "  make qemu-gdb [LAB=N]    boot it halted, waiting for GDB (on a free port it names)"
	@echo "  make gdb                 attach GDB (in another terminal), symbols and helpers loaded"
	@echo "  make grade [LAB=N]       grade checkpoint N (default: all labs): a points table"
	@echo "  make test [TESTS=...]    the project's own tests (TESTS: some of them, as pytest names them)"
	@echo "  make site                the handouts as a web edition, in build/site/"
	@echo "  make clean               remove build output"
	@echo
	@echo "Variables: LAB=N  SOLUTIONS=all|1,2,3|1-6  MEM=$(MEM)  QEMUEXTRA=...  ACCEL=tcg|kvm  CC=gcc|clang  GDBPORT=N"
	@echo "           SEED=N (randomized tests)  JUNIT=file.xml  RESULTS=file.json  GRADESCOPE=results.json"
	@echo "Labs: $(LABS)"
	@echo "Instructors: handouts/instructors.md (grade-submission, grade-batch, release, autograder)"

# --- checks -----------------------------------------------------------------------------------

# What SOLUTIONS may be in this copy of the course, for the errors below.
HAVE_LIST = $(subst $(space),$(comma),$(HAVE_NUMS))
HAVE_SOME = This copy has the solutions of lab$(if $(word 2,$(HAVE_NUMS)),s) $(HAVE_LIST): use \
	SOLUTIONS=all for $(if $(word 2,$(HAVE_NUMS)),them all or a list or range of them such as \
	$(firstword $(HAVE_NUMS))-$(lastword $(HAVE_NUMS)),it); or leave SOLUTIONS out to build \
	every layer from labs/.
HAVE_NONE = This copy of the course has no solutions: leave SOLUTIONS out to build every layer \
	from your files in labs/.
SOLUTIONS_HINT = $(if $(HAVE_NUMS),$(HAVE_SOME),$(HAVE_NONE))

# One shell for every check (each recipe line would start one).
.PHONY: check-lab
check-lab:
	@if [ -z "$(LABS)" ]; then echo "There are no labs in labs/." >&2; exit 2; fi; \
	if [ -z "$(LAB_DIR)" ]; then \
		echo "Unknown LAB=$(LAB). The labs are:" >&2; \
		$(foreach l,$(LABS),echo "    LAB=$(call labnum,$(l))   $(l)" >&2;) \
		exit 2; fi; \
	for x in $(SOL_ITEMS); do case "$$x" in all|none) ;; *[!0-9-]*|-*|*-|*-*-*) \
		echo "SOLUTIONS=$(SOLUTIONS): \"$$x\" is not a lab number or a range. $(SOLUTIONS_HINT)" >&2; \
		exit 2;; *-*) [ "$${x%-*}" -le "$${x#*-}" ] || { \
		echo "SOLUTIONS=$(SOLUTIONS): the range $$x runs backwards. $(SOLUTIONS_HINT)" >&2; exit 2; };; \
		esac; done; \
	if [ -n "$(BAD_SOLUTIONS)" ]; then \
		echo "SOLUTIONS=$(SOLUTIONS): no lab numbered $(BAD_SOLUTIONS). $(SOLUTIONS_HINT)" >&2; \
		exit 2; fi; \
	for d in $(filter solutions/%,$(LAYERS)); do if [ ! -d $$d ]; then \
		echo "SOLUTIONS=$(SOLUTIONS): $$d is not part of this copy of the course. $(SOLUTIONS_HINT)" >&2; \
		exit 2; fi; done; \
	if [ -n "$(HIDDEN)" ] && [ ! -d "$(HIDDEN)/ktests" ] && [ ! -d "$(HIDDEN)/tests" ]; then \
		echo "HIDDEN=$(HIDDEN) is not a hidden test directory: one holds ktests/NN-lab/*.c," \
			"tests/test_*.py or both (handouts/instructors.md)." >&2; exit 2; fi; \
	case "$(SEED)" in *[!0-9]*) \
		echo "SEED=$(SEED): a seed is a whole number, as the grade prints it (seed 12345)." >&2; \
		exit 2;; esac; \
	case "$(ACCEL)" in tcg|kvm) ;; *) \
		echo "ACCEL=$(ACCEL): use tcg (the default) or kvm." >&2; exit 2;; esac; \
	case "$(JOBS)" in ""|*[!0-9]*|0) \
		echo "JOBS=$(JOBS): the number of parallel boots, a whole number from 1." >&2; exit 2;; esac; \
	case "$(BOOT_TIMEOUT)" in *[!0-9.]*|.|*.*.*) \
		echo "BOOT_TIMEOUT=$(BOOT_TIMEOUT): seconds per boot, a number such as 10 or 2.5." >&2; \
		exit 2;; ""|*[1-9]*) ;; *) \
		echo "BOOT_TIMEOUT=$(BOOT_TIMEOUT): seconds per boot, more than 0 (every boot would time" \
			"out at once)." >&2; exit 2;; esac

# --- building ---------------------------------------------------------------------------------

.PHONY: kernel
kernel: check-lab
	@tools/need build && echo "checkpoint $(LAB_DIR): $(LAYERS)" && mkdir -p build && \
	$(CCACHE_ALONE) flock $(OUT).lock $(MAKE) --no-print-directory -j$(JOBS) -f kernel/build.mk OUT=$(OUT) CC="$(KCC)" \
		CHECKPOINT=$(LAB_NUM) CHECKPOINT_NAME=$(LAB_DIR) LAYERS="$(LAYERS)" TESTS="$(TESTDIRS)" \
		$(if $(DEBUG),KCFLAGS=-Og) && \
	cp $(OUT)/compile_commands.json compile_commands.json

.PHONY: labs
labs:
	@$(PYTHON) tools/mklab.py

# --- running ----------------------------------------------------------------------------------

.PHONY: qemu
qemu: kernel
	@tools/need qemu && $(HARNESS) qemu --kernel $(OUT) $(if $(TEST),--append "ktest=$(TEST)") \
		--make "make qemu $(RUN_VARS) $(if $(TEST),TEST=$(TEST))"

# QEMU waits for GDB on GDBPORT, or on a free port it names; the .gdbinit it writes tells
# `make gdb` where, and loads the GDB helpers of tools/gdb/.
.PHONY: qemu-gdb
qemu-gdb: kernel
	@tools/need qemu
	@$(HARNESS) qemu --kernel $(OUT) --gdb $(or $(GDBPORT),auto) --gdbinit .gdbinit \
		$(if $(TEST),--append "ktest=$(TEST)") --make "make qemu $(RUN_VARS) $(if $(TEST),TEST=$(TEST))"

.PHONY: gdb
gdb:
	@tools/need gdb
	@$(HARNESS) gdb --gdbinit .gdbinit

# --- grading and testing ----------------------------------------------------------------------

# With JOBS=1 (each submission of a batch) pytest runs the tests itself: xdist's one worker
# would be a second Python process doing what the first could, and starting up twice.
GRADE_PYTEST = $(PYTHON) -m pytest grade/tests -q --tb=no -rN \
	$(if $(filter 1,$(JOBS)),-p no:xdist,-n $(JOBS) --dist loadgroup) \
	--kernel $(OUT) --checkpoint $(LAB_NUM) $(GRADE_RERUN) \
	$(if $(SEED),--seed $(SEED)) $(if $(JUNIT),--junitxml=$(JUNIT)) \
	$(if $(RESULTS),--results $(RESULTS)) $(if $(GRADESCOPE),--gradescope $(GRADESCOPE)) \
	$(if $(BOOT_TIMEOUT),--boot-timeout $(BOOT_TIMEOUT)) \
	$(if $(HIDDEN),--hidden $(HIDDEN) --hidden-visibility $(HIDDEN_VISIBILITY) $(wildcard $(HIDDEN)/tests))

# MEM is left out of the grader's rerun hints: the grader boots the sizes its tests ask for.
GRADE_RERUN =
.PHONY: grade
grade: GRADE_RERUN = --rerun "make grade $(strip $(filter-out MEM=%,$(RUN_VARS)))"
grade: kernel
	@$(if $(filter-out 128M,$(MEM)),echo "MEM=$(MEM) is for make qemu: make grade boots the machines its tests ask \
	for (128 MiB, and the sizes the memory tests name)." &&) \
	tools/need qemu grade && echo "grading checkpoint $(LAB_DIR) on $(JOBS) core$(if $(filter-out 1,$(JOBS)),s) ..." && \
	$(GRADE_PYTEST)

# `make test TESTS=grade/selftest/test_harness.py` or TESTS="grade/selftest -k mutant": some tests,
# with the same Python and plugins as the whole run (another python3 first on the PATH may
# lack pytest). JOBS=1 runs them in pytest's own process, as `make grade` does: a single
# worker would only collect every test a second time.
#
# Unless JOBS is given, the tests run in one worker more than there are cores: a test waits
# at times (for a guest asleep until its next timer tick, for a grading another test holds
# the lock of, for the last output of a boot), and the extra worker takes up those waits.
# Five runs each way on a quiet 2-core machine, alternating: the cores idle 5-7 s of a run
# with three workers, 22-25 s with two; 150-174 s a run (median 154) against 158-176 s
# (median 160). (Worked out only for `make test`: a shell per make run costs milliseconds.)
TESTS ?=
TEST_JOBS = $(if $(filter undefined,$(JOBS_ORIGIN)),$(shell echo $$(($(JOBS) + 1))),$(JOBS))
.PHONY: test
test:
	@tools/need build qemu grade test site
	@$(if $(TESTS)$(wildcard $(CCACHE_DIR)/.),,echo "The compiler cache ($(patsubst $(CURDIR)/%,%,$(CCACHE_DIR))) is empty: \
	this first run compiles every kernel once, and takes longer than the next ones.")
	@$(PYTHON) -m pytest $(or $(TESTS),grade/selftest) $(if $(filter 1,$(TEST_JOBS)),-p no:xdist,-n $(TEST_JOBS)) -q -rfEs

# --- the handouts as a web edition -----------------------------------------------------------

# `make site`: build/site/, from handouts/*.md, with figures drawn from real boots of the
# reference kernels (tools/site/build.py). `make excerpts [FILE=handouts/NN-name.md]`
# rewrites the handouts' console excerpts from real runs; `make test` checks them.
FILE ?=

.PHONY: site
site:
	@tools/need build qemu site
	@$(PYTHON) tools/site/build.py --out build/site

.PHONY: excerpts
excerpts:
	@tools/need build qemu grade
	@$(PYTHON) tools/site/excerpts.py --update $(FILE)

# --- instructors: every command is explained in handouts/instructors.md ---------------------

SUBMISSION ?=
SUBMISSIONS ?=
GRADING_DIR ?=
BUILD_LOG ?=
RELEASE_DIR ?= release
RELEASE_SOLUTIONS ?=
AUTOGRADER ?= build/autograder/autograder.zip
INSTRUCTOR_ARGS = $(if $(LAB),--lab $(LAB)) $(if $(SOLUTIONS),--solutions $(SOLUTIONS)) \
	$(if $(HIDDEN),--hidden $(HIDDEN) --hidden-visibility $(HIDDEN_VISIBILITY)) \
	$(if $(BOOT_TIMEOUT),--boot-timeout $(BOOT_TIMEOUT))

# One submission (a directory, a git bundle or a tarball), graded from outside: only its lab
# files, in a pristine copy of this repository, compiled in a sandbox (bubblewrap) and linked at
# a layout of their own. Writes build/grading/<name>/ (or GRADING_DIR).
.PHONY: grade-submission
grade-submission:
	@if [ -z "$(SUBMISSION)" ]; then echo "usage: make grade-submission SUBMISSION=path [LAB=N] [HIDDEN=dir]" >&2; exit 2; fi
	@tools/need build qemu grade sandbox
	@$(PYTHON) tools/grade-submission $(INSTRUCTOR_ARGS) $(if $(GRADING_DIR),--out $(GRADING_DIR)) \
		--jobs $(JOBS) $(SUBMISSION)

# A folder of submissions, JOBS at a time: a CSV of scores, each student's logs, a summary.
.PHONY: grade-batch
grade-batch:
	@if [ -z "$(SUBMISSIONS)" ]; then echo "usage: make grade-batch SUBMISSIONS=dir [LAB=N] [JOBS=n] [HIDDEN=dir]" >&2; exit 2; fi
	@tools/need build qemu grade sandbox
	@$(PYTHON) tools/grade-batch $(INSTRUCTOR_ARGS) $(if $(GRADING_DIR),--out $(GRADING_DIR)) \
		--jobs $(JOBS) $(SUBMISSIONS)

# The kernel already built by `make kernel`, graded without building; with BUILD_LOG=file, a
# build that failed: every test fails quoting the log. tools/grade-submission uses it.
.PHONY: grade-nobuild
grade-nobuild: check-lab
	@$(GRADE_PYTEST) $(if $(BUILD_LOG),--build-failed $(BUILD_LOG))

# The students' copy: no solutions/ (but those of RELEASE_SOLUTIONS=1,2), no hidden tests.
.PHONY: release
release:
	@$(PYTHON) tools/release --out $(RELEASE_DIR) $(if $(RELEASE_SOLUTIONS),--solutions $(RELEASE_SOLUTIONS)) \
		$(if $(HIDDEN),--exclude $(HIDDEN))

# Gradescope's autograder: setup.sh, run_autograder and the course, zipped into AUTOGRADER.
.PHONY: autograder
autograder:
	@$(PYTHON) tools/autograder/build --out $(AUTOGRADER) $(INSTRUCTOR_ARGS)

# grade/imports/NN-name.txt: what each lab's solution and starter use from the rest of the
# kernel, which grading allows that lab without a note for review. Run it when a lab changes
# what it calls, and read the diff (`make test` says when a list is out of date).
.PHONY: imports
imports:
	@tools/need build
	@PYTHONPATH=tools:grade $(PYTHON) -m instructor.objects --write-lists

.PHONY: clean
clean:
	rm -rf build .gdbinit compile_commands.json

.PHONY: format
format:
	clang-format -i $$(find kernel solutions grade/harness grade/ktests grade/selftest/ktests tools user -name '*.[ch]')
	@$(PYTHON) tools/mklab.py

# --- benchmarks -------------------------------------------------------------------------------

# `make bench`: performance side by side with references (tools/bench/bench.py, docs/bench.md).
# BENCHFLAGS: e.g. --only heap,boot, or --smoke for a quick check of the benchmark itself.
BENCHFLAGS ?=

# The recorder of real programs' allocations: an LD_PRELOAD library (tools/bench/record/).
HEAPRECORD := build/bench/heaprecord.so

$(HEAPRECORD): tools/bench/record/heaprecord.c
	@mkdir -p $(@D)
	$(CC) -O2 -fPIC -shared -Wall -Wextra -Werror -o $@ $<

.PHONY: bench
bench:
	@tools/need build qemu grade bench
	@$(MAKE) --no-print-directory $(HEAPRECORD)
	@$(PYTHON) tools/bench/bench.py --cc $(CC) --recorder $(HEAPRECORD) $(BENCHFLAGS)
