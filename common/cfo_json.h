/* cfo_json.h -- the members of a JSON object written with yajl: one call a
 * member, key and value together. */
#ifndef CFO_JSON_H
#define CFO_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

/* "key": the value is the caller's next yajl call. */
void cfo_json_key(yajl_gen g, const char *key);
/* "key": "v", or null when v is NULL. */
void cfo_json_str(yajl_gen g, const char *key, const char *v);
void cfo_json_int(yajl_gen g, const char *key, long long v);
void cfo_json_bool(yajl_gen g, const char *key, bool v);
/* "key": "2026-11-21T03:00:00Z" (cfo_format_time of wall_ms). */
void cfo_json_time(yajl_gen g, const char *key, int64_t wall_ms);

#endif
