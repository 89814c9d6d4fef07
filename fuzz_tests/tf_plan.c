/* tf_plan.c -- counting planned and changed resources in terraform's plan
 * JSON. */
#include "tf_plan.h"

#include <stdbool.h>
#include <string.h>
#include <yajl/yajl_tree.h>

void cfo_tfplan_init(cfo_tfplan *p)
{
    p->resources = 0;
    p->changed = 0;
    cfo_strv_init(&p->addresses);
    cfo_strv_init(&p->actions);
}

void cfo_tfplan_fini(cfo_tfplan *p)
{
    cfo_strv_fini(&p->addresses);
    cfo_strv_fini(&p->actions);
}

/* A resource is unchanged only when terraform plans nothing for it, or just
 * reads it (a data source). Any other list, ["create"], ["update"],
 * ["delete","create"], ["forget"], is drift between code and state. */
static bool actions_unchanged(yajl_val actions)
{
    if (actions->u.array.len != 1)
        return false;
    const char *a = YAJL_GET_STRING(actions->u.array.values[0]);
    return strcmp(a, "no-op") == 0 || strcmp(a, "read") == 0;
}

static cfo_err count_entry(yajl_val rc, size_t i, cfo_tfplan *p, cfo_diag *d)
{
    static const char *address_path[] = {"address", NULL};
    static const char *actions_path[] = {"change", "actions", NULL};
    if (!YAJL_IS_OBJECT(rc))
        return cfo_diag_set(d, CFO_EPARSE, "plan JSON: resource_changes[%zu] is not an object", i);
    yajl_val address = yajl_tree_get(rc, address_path, yajl_t_string);
    if (address == NULL)
        return cfo_diag_set(d, CFO_EPARSE, "plan JSON: resource_changes[%zu] has no address", i);
    yajl_val actions = yajl_tree_get(rc, actions_path, yajl_t_array);
    if (actions == NULL)
        return cfo_diag_set(d, CFO_EPARSE, "plan JSON: %s has no change.actions array",
                            YAJL_GET_STRING(address));
    cfo_buf joined;
    cfo_buf_init(&joined);
    for (size_t j = 0; j < actions->u.array.len; j++) {
        yajl_val a = actions->u.array.values[j];
        if (!YAJL_IS_STRING(a)) {
            cfo_buf_fini(&joined);
            return cfo_diag_set(d, CFO_EPARSE, "plan JSON: %s has a non-string action",
                                YAJL_GET_STRING(address));
        }
        if (j)
            cfo_buf_puts(&joined, ",");
        cfo_buf_puts(&joined, YAJL_GET_STRING(a));
    }
    p->resources++;
    if (!actions_unchanged(actions)) {
        p->changed++;
        cfo_strv_push(&p->addresses, YAJL_GET_STRING(address));
        cfo_strv_push_owned(&p->actions, cfo_buf_steal(&joined));
    }
    cfo_buf_fini(&joined);
    return CFO_OK;
}

cfo_err cfo_tfplan_count(const char *json, size_t len, cfo_tfplan *p, cfo_diag *d)
{
    static const char *rc_path[] = {"resource_changes", NULL};
    if (len > CFO_TFPLAN_MAX_JSON)
        return cfo_diag_set(d, CFO_ELIMIT, "plan JSON larger than %zu bytes", CFO_TFPLAN_MAX_JSON);
    if (strlen(json) != len)
        return cfo_diag_set(d, CFO_EPARSE, "plan JSON contains a NUL byte");
    if (!cfo_json_depth_ok(json, len, CFO_TFPLAN_MAX_DEPTH))
        return cfo_diag_set(d, CFO_EPARSE, "plan JSON nests deeper than %d levels",
                            CFO_TFPLAN_MAX_DEPTH);
    char errbuf[256];
    errbuf[0] = '\0';
    yajl_val root = yajl_tree_parse(json, errbuf, sizeof errbuf);
    if (root == NULL) {
        /* yajl's message spans lines; the first says what went wrong. */
        errbuf[strcspn(errbuf, "\n")] = '\0';
        return cfo_diag_set(d, CFO_EPARSE, "plan JSON: %s", errbuf[0] ? errbuf : "parse error");
    }
    cfo_err err = CFO_OK;
    if (!YAJL_IS_OBJECT(root)) {
        err = cfo_diag_set(d, CFO_EPARSE, "plan JSON is not an object");
        goto out;
    }
    yajl_val rcs = yajl_tree_get(root, rc_path, yajl_t_any);
    if (rcs == NULL || YAJL_IS_NULL(rcs))
        goto out;
    if (!YAJL_IS_ARRAY(rcs)) {
        err = cfo_diag_set(d, CFO_EPARSE, "plan JSON: resource_changes is not an array");
        goto out;
    }
    for (size_t i = 0; i < rcs->u.array.len && err == CFO_OK; i++)
        err = count_entry(rcs->u.array.values[i], i, p, d);
out:
    yajl_tree_free(root);
    return err;
}
