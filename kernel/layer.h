/*
 * Layers: how each checkpoint's kernel side joins the kernel without the kernel naming it.
 *
 * Checkpoint N is kernel/ plus the layers 01..N. The kernel side of layer NN lives in
 * kernel/layers/NN-name/, which the build compiles only when the checkpoint has that layer,
 * and it declares itself once, in its init.c:
 *
 *     LAYER(6, "06-buddy", "frames in blocks of 2^k", buddy_layer_init, buddy_tour);
 *
 * A linker section collects the declarations (as KTEST does for tests). kernel_main brings the
 * layers up in number order (layers_init), the tour walks them in the same order (layers_tour),
 * and code that cares whether a layer is there asks layer_present(N). No code in kernel/ names
 * a layer, so adding checkpoint NN adds a folder and edits no core file
 * (docs/adding-a-checkpoint.md).
 *
 * Bringing a layer up calls into lab code that may still hold TODOs. LAB_STEP runs one such
 * call: if it reaches a TODO, the kernel prints "kernel: <what> skipped: <why>" and goes on
 * without that step, so the tests of the layers below still run:
 *
 *     int r;
 *     if (!LAB_STEP_INTO("02-paging: vm_init", r, vm_init(&kernel_vm, kframe_alloc, kframe_free)))
 *             return;              // the note is printed; r was not set
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "kjmp.h"
#include "ktry.h"

struct layer {
	int number;	   /* 2 for 02-paging: layers come up in this order */
	const char *name;  /* "02-paging", as in labs/ */
	const char *title; /* what the kernel gets from it, for the tour's heading */
	void (*init)(void);
	void (*tour)(void); /* its part of `make qemu`'s tour; NULL: none. Layers that share one
			       tour (the heap's) show it once, under the last of them. */
};

#define LAYER(num, name_, title_, init_, tour_)                                               \
	static const struct layer layer_entry = {num, name_, title_, init_, tour_};           \
	static const struct layer *layer_entry_ptr __attribute__((used, section("layers"))) = \
		&layer_entry

/* Bring up every layer of the kernel, in number order (kernel_main). */
void layers_init(void);

/* The tour: each layer's part, in number order, then the closing line. */
void layers_tour(void);

/*
 * What this kernel is made of, for its banner and the tour's closing line: its checkpoint
 * ("09-process"), its layers and where each came from ("01-boot:solutions ..."), and the
 * command that grades this same build. kernel/build.mk writes them into the build directory's
 * build_info.c, the one file that differs between two builds of a checkpoint.
 */
extern const char build_checkpoint_name[], build_layers[], build_grade_command[];

/* True if this kernel has layer `number` (checkpoint N has 1..N). */
bool layer_present(int number);

/* The highest layer this kernel has: its checkpoint. */
const struct layer *layer_top(void);

/*
 * Run the statement(s), one step of bringing a layer up that calls lab code. True if they
 * completed; false if they reached a TODO, after printing "kernel: <what> skipped: <why>"
 * and, with LAB_STEP_WHY, keeping the same text in why[size] for a layer that reports it
 * again later.
 *
 * LAB_STEP_INTO(what, var, expr) runs var = expr the same way, and leaves var alone when expr
 * reaches a TODO. (A TODO jumps back into this frame, so the value passes through a volatile
 * copy; assigning var inside LAB_STEP's statements instead would leave it undefined after a
 * jump.)
 */
#define LAB_STEP(what, ...) LAB_STEP_WHY(what, NULL, 0, __VA_ARGS__)
/*
 * Those rules keep every local right after a jump: a step changes no local but through
 * LAB_STEP_INTO's volatile copy, so what the caller reads was set before the step began. GCC's
 * -Wclobbered cannot see that and warns of every local live across a step: off where this
 * header is included.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wclobbered"
#endif
#define LAB_STEP_WHY(what, why, size, ...)                                   \
	({                                                                   \
		struct ktry lab_step_k_;                                     \
		volatile bool lab_step_ok_ = true;                           \
		ktry_push(&lab_step_k_, KTRY_TODO);                          \
		if (kjmp_set(lab_step_k_.jb) == 0) {                         \
			__VA_ARGS__;                                         \
			ktry_pop(&lab_step_k_);                              \
		} else {                                                     \
			lab_step_skipped(what, &lab_step_k_.res, why, size); \
			lab_step_ok_ = false;                                \
		}                                                            \
		lab_step_ok_;                                                \
	})
#define LAB_STEP_INTO(what, var, expr)                                      \
	({                                                                  \
		volatile __typeof__(var) lab_step_v_;                       \
		bool lab_step_done_ = LAB_STEP(what, lab_step_v_ = (expr)); \
		if (lab_step_done_)                                         \
			(var) = lab_step_v_;                                \
		lab_step_done_;                                             \
	})

/* LAB_STEP's note for a step that reached a TODO. */
void lab_step_skipped(const char *what, const struct ktry_result *res, char *why, size_t size);
