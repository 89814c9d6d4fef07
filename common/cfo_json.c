/* cfo_json.c -- the members of a JSON object written with yajl and read from
 * a yajl tree. */
#include "cfo_json.h"

#include <string.h>

#include "cfo_log.h"
#include "cfo_util.h"

void cfo_json_key(yajl_gen g, const char *key)
{
    yajl_gen_string(g, (const unsigned char *)key, strlen(key));
}

void cfo_json_str(yajl_gen g, const char *key, const char *v)
{
    cfo_json_key(g, key);
    if (v == NULL)
        yajl_gen_null(g);
    else
        yajl_gen_string(g, (const unsigned char *)v, strlen(v));
}

void cfo_json_int(yajl_gen g, const char *key, long long v)
{
    cfo_json_key(g, key);
    yajl_gen_integer(g, v);
}

void cfo_json_bool(yajl_gen g, const char *key, bool v)
{
    cfo_json_key(g, key);
    yajl_gen_bool(g, v);
}

void cfo_json_time(yajl_gen g, const char *key, int64_t wall_ms)
{
    char when[64];
    cfo_format_time(wall_ms, when, sizeof when);
    cfo_json_str(g, key, when);
}

char *cfo_json_text(yajl_gen g)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    char *text = cfo_xstrndup((const char *)buf, len);
    yajl_gen_free(g);
    return text;
}

const char *cfo_json_member_str(yajl_val o, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(o, path, yajl_t_string);
    return v ? v->u.string : NULL;
}

bool cfo_json_member_true(yajl_val o, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(o, path, yajl_t_any);
    return v != NULL && YAJL_IS_TRUE(v);
}
