/* cfo_json.h -- the members of a JSON object written with yajl (one call a
 * member, key and value together) and read from a yajl tree. */
#ifndef CFO_JSON_H
#define CFO_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

/* "key": the value is the caller's next yajl call. */
void cfo_json_key(yajl_gen g, const char *key);
/* "key": "v", or null when v is NULL. */
void cfo_json_str(yajl_gen g, const char *key, const char *v);
void cfo_json_int(yajl_gen g, const char *key, long long v);
void cfo_json_bool(yajl_gen g, const char *key, bool v);
/* "key": "2026-11-21T03:00:00Z" (cfo_format_time of wall_ms). */
void cfo_json_time(yajl_gen g, const char *key, int64_t wall_ms);

/* What g generated, as a new NUL-terminated string the caller frees; g is
 * freed. */
char *cfo_json_text(yajl_gen g);

/* The string member key of object o (borrowed from o); NULL when o has no
 * such member or it is not a string. */
const char *cfo_json_member_str(yajl_val o, const char *key);
/* Whether object o has a member key that is true. */
bool cfo_json_member_true(yajl_val o, const char *key);

#endif
