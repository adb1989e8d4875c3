/*
 * The table of layers (kernel/layer.h): bringing them up and touring them in number order.
 * The linker collects every LAYER(...) declaration between __start_layers and __stop_layers,
 * in link order; the few there are (one per checkpoint) are walked by number here.
 */
#include "kprintf.h"
#include "layer.h"

extern const struct layer *const __start_layers[], *const __stop_layers[];

/* The layer numbered n, or NULL. */
static const struct layer *layer_find(int n)
{
	for (const struct layer *const *l = __start_layers; l < __stop_layers; l++)
		if ((*l)->number == n)
			return *l;
	return NULL;
}

/* Every layer, lowest number first (the numbers need not be contiguous). */
#define for_each_layer(l, n)                                                                \
	for (int n = 1, n##_top = layer_top() ? layer_top()->number : 0; n <= n##_top; n++) \
		if (((l) = layer_find(n)) != NULL)

bool layer_present(int number)
{
	return layer_find(number) != NULL;
}

const struct layer *layer_top(void)
{
	const struct layer *top = NULL;

	for (const struct layer *const *l = __start_layers; l < __stop_layers; l++)
		if (!top || (*l)->number > top->number)
			top = *l;
	return top;
}

void layers_init(void)
{
	const struct layer *l;

	for_each_layer(l, n) l->init();
}

/* True if a layer above l shows the same tour: several layers that share one (the heap's)
 * show it once, under the last of them. */
static bool tour_shown_later(const struct layer *l)
{
	for (const struct layer *const *m = __start_layers; m < __stop_layers; m++)
		if ((*m)->number > l->number && (*m)->tour == l->tour)
			return true;
	return false;
}

void layers_tour(void)
{
	const struct layer *l;

	for_each_layer(l, n)
	{
		if (!l->tour || tour_shown_later(l))
			continue;
		kprintf("\n== %s: %s ==\n", l->name, l->title);
		l->tour();
	}
	kprintf("\nThe tour of checkpoint %s is over. Try `%s`.\n", build_checkpoint_name,
		build_grade_command);
}

void lab_step_skipped(const char *what, const struct ktry_result *res, char *why, size_t size)
{
	kprintf("kernel: %s skipped: %s\n", what, res->msg);
	if (why && size)
		ksnprintf(why, size, "%s skipped: %s", what, res->msg);
}
