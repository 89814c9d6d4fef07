/* cfo_log.h -- leveled logging to stderr and clocks. */
#ifndef CFO_LOG_H
#define CFO_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cfo_log_level {
    CFO_LOG_DEBUG,
    CFO_LOG_INFO,
    CFO_LOG_WARN,
    CFO_LOG_ERROR,
} cfo_log_level;

/* Sets the least level printed and the program name in each line. */
void cfo_log_init(const char *prog, cfo_log_level min);
void cfo_log(cfo_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One JSON object per line ({"time","prog","level","msg"}) instead of text. */
void cfo_log_set_json(bool on);
bool cfo_log_is_json(void);

#define cfo_debug(...) cfo_log(CFO_LOG_DEBUG, __VA_ARGS__)
#define cfo_info(...) cfo_log(CFO_LOG_INFO, __VA_ARGS__)
#define cfo_warn(...) cfo_log(CFO_LOG_WARN, __VA_ARGS__)
#define cfo_error(...) cfo_log(CFO_LOG_ERROR, __VA_ARGS__)

/* Monotonic milliseconds, for deadlines and durations. */
int64_t cfo_now_ms(void);
/* Wall-clock milliseconds since the epoch, for record times. */
int64_t cfo_wall_ms(void);
/* "2026-11-21T10:00:00Z", or "...:00.123Z" when ms has a fraction. */
void cfo_format_time(int64_t wall_ms, char *out, size_t len);
/* Parses the forms cfo_format_time writes (and any fraction digits, and a
 * "+00:00" suffix). Returns 0 on success, -1 on malformed input. */
int cfo_parse_time(const char *s, int64_t *wall_ms);

#endif
