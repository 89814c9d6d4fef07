/* cfo_log.c -- leveled logging and clocks. */
#include "cfo_log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "cfo";
static cfo_log_level log_min = CFO_LOG_INFO;
static bool log_json;

void cfo_log_set_json(bool on)
{
    log_json = on;
}

bool cfo_log_is_json(void)
{
    return log_json;
}

/* Appends s to out as the body of a JSON string (without quotes). */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
    return n;
}

void cfo_log_init(const char *prog, cfo_log_level min)
{
    log_prog = prog;
    log_min = min;
}

void cfo_log(cfo_log_level level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    static const char *names[] = {"debug", "info", "warning", "error"};
    char line[4096];
    char stamp[32];
    cfo_format_time(cfo_wall_ms() / 1000 * 1000, stamp, sizeof stamp);
    /* On a terminal the progress bar may be on screen: erase it in the same
     * write, so the log line does not run on from it (the bar redraws). */
    const char *erase = !log_json && isatty(STDERR_FILENO) ? "\r\033[K" : "";
    int n = snprintf(line, sizeof line, "%s%s %s: %s: ", erase, stamp, log_prog, names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (log_json) {
        char msg[3072], esc[4096];
        vsnprintf(msg, sizeof msg, fmt, ap);
        json_escape(esc, sizeof esc, msg);
        snprintf(line, sizeof line,
                 "{\"time\":\"%s\",\"prog\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}", stamp,
                 log_prog, names[level], esc);
    } else if (n > 0 && (size_t)n < sizeof line) {
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    }
    va_end(ap);
    /* One write per line, so lines of concurrent processes do not interleave. */
    size_t len = strlen(line);
    if (len + 1 < sizeof line) {
        line[len++] = '\n';
        line[len] = '\0';
    }
    fputs(line, stderr);
    fflush(stderr);
}

int64_t cfo_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cfo_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cfo_format_time(int64_t wall_ms, char *out, size_t len)
{
    int64_t secs = wall_ms / 1000;
    int ms = (int)(wall_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (ms)
        snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    else
        snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (*(*p)++ - '0');
    }
    *out = v;
    return 0;
}

int cfo_parse_time(const char *s, int64_t *wall_ms)
{
    const char *p = s;
    int y, mo, d, h, mi, se;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    int ms = 0;
    if (*p == '.') {
        p++;
        int scale = 100, n = 0;
        while (isdigit((unsigned char)*p)) {
            ms += (*p - '0') * scale;
            scale /= 10;
            p++;
            n++;
        }
        if (n == 0 || n > 9)
            return -1;
    }
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (strcmp(p, "+00:00") == 0)
        p += 6;
    else
        return -1;
    if (*p != '\0')
        return -1;
    /* Days from civil (Howard Hinnant's algorithm): no timegm/TZ games. */
    int yy = y - (mo <= 2);
    int era = (yy >= 0 ? yy : yy - 399) / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned doy = (unsigned)((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;
    *wall_ms = ((days * 86400) + h * 3600 + mi * 60 + se) * 1000 + ms;
    return 0;
}
