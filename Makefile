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
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
ifeq ($(origin CC),default)
CC := gcc
endif
export MEM QEMUEXTRA ACCEL MACHINE CC

comma := ,
empty :=
space := $(empty) $(empty)

# Lab names: 03-bump -> number 3, name bump. LAB may be 3, 03, 03-bump or bump.
labnum = $(patsubst 0%,%,$(firstword $(subst -, ,$(1))))
labname = $(patsubst $(firstword $(subst -, ,$(1)))-%,%,$(1))
lab_matches = $(filter $(2),$(1) $(call labnum,$(1)) 0$(call labnum,$(1)) $(call labname,$(1)))
LAB_DIR = $(if $(LAB),$(firstword $(foreach d,$(LABS),$(if $(call lab_matches,$(d),$(LAB)),$(d)))),$(lastword $(LABS)))
LAB_NUM = $(call labnum,$(LAB_DIR))
# The layers of the checkpoint: every lab up to and including LAB_DIR.
LAB_UPTO = $(shell printf '%s\n' $(LABS) | sed -n '0,/^$(LAB_DIR)$$/p')

ALL_NUMS := $(foreach d,$(LABS),$(call labnum,$(d)))
SOL_NUMS = $(if $(filter all,$(SOLUTIONS)),$(ALL_NUMS),$(if $(filter none,$(SOLUTIONS)),,$(patsubst 0%,%,$(subst $(comma),$(space),$(SOLUTIONS)))))
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

GDBPORT := $(shell echo $$(( 26000 + $$(id -u) % 5000 )))
HARNESS = PYTHONPATH=grade $(PYTHON) -m harness

.PHONY: help
help:
	@echo "teachos: a teaching x86_64 kernel, built up in checkpoints ($(words $(LABS)) labs)."
	@echo
	@echo "  make qemu [LAB=N]        build checkpoint N (default: the last) and boot it: a tour"
	@echo "  make qemu TEST=suite     boot it and run one test suite on the console"
	@echo "  make qemu-gdb [LAB=N]    boot it halted, waiting for GDB on port $(GDBPORT)"
	@echo "  make gdb                 attach GDB (in another terminal), symbols loaded"
	@echo "  make grade [LAB=N]       grade checkpoint N (default: all labs): a points table"
	@echo "  make test                the project's own tests"
	@echo "  make clean               remove build output"
	@echo
	@echo "Variables: LAB=N  SOLUTIONS=all|1,2,3  MEM=$(MEM)  QEMUEXTRA=...  ACCEL=tcg|kvm  CC=gcc|clang  GDBPORT=$(GDBPORT)"
	@echo "           SEED=N (randomized tests)  JUNIT=file.xml  RESULTS=file.json  GRADESCOPE=results.json"
	@echo "Labs: $(LABS)"
	@echo "Instructors: handouts/instructors.md (grade-submission, grade-batch, release, autograder)"

# --- checks -----------------------------------------------------------------------------------

.PHONY: check-lab
check-lab:
	@if [ -z "$(LABS)" ]; then echo "There are no labs in labs/." >&2; exit 2; fi
	@if [ -z "$(LAB_DIR)" ]; then \
		echo "Unknown LAB=$(LAB). The labs are:" >&2; \
		$(foreach l,$(LABS),echo "    LAB=$(call labnum,$(l))   $(l)" >&2;) \
		exit 2; fi
	@if [ -n "$(BAD_SOLUTIONS)" ]; then \
		echo "SOLUTIONS=$(SOLUTIONS): no lab numbered $(BAD_SOLUTIONS). Use SOLUTIONS=all or a list of: $(ALL_NUMS)" >&2; \
		exit 2; fi
	@for d in $(filter solutions/%,$(LAYERS)); do if [ ! -d $$d ]; then \
		echo "SOLUTIONS=$(SOLUTIONS): $$d is not part of this copy of the course." >&2; exit 2; fi; done
	@if [ -n "$(HIDDEN)" ] && [ ! -d "$(HIDDEN)/ktests" ] && [ ! -d "$(HIDDEN)/tests" ]; then \
		echo "HIDDEN=$(HIDDEN) is not a hidden test directory: one holds ktests/NN-lab/*.c," \
			"tests/test_*.py or both (handouts/instructors.md)." >&2; exit 2; fi
	@case "$(SEED)" in *[!0-9]*) \
		echo "SEED=$(SEED): a seed is a whole number, as the grade prints it (seed 12345)." >&2; \
		exit 2;; esac
	@case "$(ACCEL)" in tcg|kvm) ;; *) \
		echo "ACCEL=$(ACCEL): use tcg (the default) or kvm." >&2; exit 2;; esac
	@case "$(JOBS)" in ""|*[!0-9]*|0) \
		echo "JOBS=$(JOBS): the number of parallel boots, a whole number from 1." >&2; exit 2;; esac
	@case "$(BOOT_TIMEOUT)" in *[!0-9.]*|.|*.*.*) \
		echo "BOOT_TIMEOUT=$(BOOT_TIMEOUT): seconds per boot, a number such as 10 or 2.5." >&2; \
		exit 2;; esac

# --- building ---------------------------------------------------------------------------------

.PHONY: kernel
kernel: check-lab
	@tools/need build
	@echo "checkpoint $(LAB_DIR): $(LAYERS)"
	@mkdir -p build
	@flock $(OUT).lock $(MAKE) --no-print-directory -f kernel/build.mk OUT=$(OUT) CC=$(CC) \
		CHECKPOINT=$(LAB_NUM) CHECKPOINT_NAME=$(LAB_DIR) LAYERS="$(LAYERS)" TESTS="$(TESTDIRS)" \
		$(if $(DEBUG),KCFLAGS=-Og)
	@cp $(OUT)/compile_commands.json compile_commands.json

.PHONY: labs
labs:
	@$(PYTHON) tools/mklab.py

# --- running ----------------------------------------------------------------------------------

.PHONY: qemu
qemu: kernel
	@tools/need qemu
	@$(HARNESS) qemu --kernel $(OUT) $(if $(TEST),--append "ktest=$(TEST)")

.PHONY: qemu-gdb
qemu-gdb: kernel
	@tools/need qemu
	@sed -e "s|@KERNEL@|$(OUT)/kernel.elf|g" -e "s|@PORT@|$(GDBPORT)|g" tools/gdbinit.tmpl > .gdbinit
	@$(HARNESS) qemu --kernel $(OUT) --gdb $(GDBPORT) $(if $(TEST),--append "ktest=$(TEST)")

.PHONY: gdb
gdb:
	@tools/need gdb
	@if [ ! -f .gdbinit ]; then echo "No .gdbinit yet: start \`make qemu-gdb\` first." >&2; exit 2; fi
	gdb -q -nx -x .gdbinit

# --- grading and testing ----------------------------------------------------------------------

GRADE_PYTEST = $(PYTHON) -m pytest grade/tests -q --tb=no -rN -n $(JOBS) --dist loadgroup \
	--kernel $(OUT) --checkpoint $(LAB_NUM) \
	$(if $(SEED),--seed $(SEED)) $(if $(JUNIT),--junitxml=$(JUNIT)) \
	$(if $(RESULTS),--results $(RESULTS)) $(if $(GRADESCOPE),--gradescope $(GRADESCOPE)) \
	$(if $(BOOT_TIMEOUT),--boot-timeout $(BOOT_TIMEOUT)) \
	$(if $(HIDDEN),--hidden $(HIDDEN) --hidden-visibility $(HIDDEN_VISIBILITY) $(wildcard $(HIDDEN)/tests))

.PHONY: grade
grade: kernel
	@tools/need qemu grade
	@echo "grading checkpoint $(LAB_DIR) on $(JOBS) cores ..."
	@$(GRADE_PYTEST)

.PHONY: test
test:
	@tools/need build qemu grade test
	@$(PYTHON) -m pytest grade/selftest -n $(JOBS) -q -rfEs

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
	clang-format -i $$(find kernel solutions grade/ktests grade/selftest/ktests tools -name '*.[ch]')
	@$(PYTHON) tools/mklab.py

# --- benchmarks -------------------------------------------------------------------------------

# `make bench`: performance side by side with references (tools/bench/bench.py, docs/bench.md).
# BENCHFLAGS: e.g. --only heap,boot, or --smoke for a quick check of the benchmark itself.
BENCHFLAGS ?=

.PHONY: bench
bench:
	@tools/need build qemu grade bench
	@$(PYTHON) tools/bench/bench.py --cc $(CC) $(BENCHFLAGS)
