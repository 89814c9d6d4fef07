/* tf_plan.h -- reads the JSON of `terraform show -json PLANFILE` and counts
 * the resources it plans and the ones it would change. */
#ifndef TF_PLAN_H
#define TF_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "cfo_error.h"
#include "cfo_util.h"

/* Largest plan document read (terraform's JSON of a big module). */
#define CFO_TFPLAN_MAX_JSON ((size_t)256 << 20)
/* terraform's plans nest a few dozen levels; yajl_tree recurses per level */
#define CFO_TFPLAN_MAX_DEPTH 512

typedef struct cfo_tfplan {
    int64_t resources;  /* entries of resource_changes */
    int64_t changed;    /* those whose actions are not exactly ["no-op"] or ["read"] */
    cfo_strv addresses; /* address of each changed resource, in plan order */
    cfo_strv actions;   /* its actions joined by ',' ("update", "delete,create") */
} cfo_tfplan;

void cfo_tfplan_init(cfo_tfplan *p);
void cfo_tfplan_fini(cfo_tfplan *p);

/* Parses json (len bytes, NUL-terminated at json[len]) into p (initialised by
 * the caller). A plan without resource_changes plans nothing. Fails with
 * CFO_EPARSE when the text is not JSON or the plan's shape is not terraform's
 * (resource_changes not an array, an entry without a string address or an
 * array of string actions), CFO_ELIMIT when it is larger than
 * CFO_TFPLAN_MAX_JSON. */
cfo_err cfo_tfplan_count(const char *json, size_t len, cfo_tfplan *p, cfo_diag *d);

#endif
