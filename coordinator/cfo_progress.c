/* cfo_progress.c -- progress lines and the terminal bar. */
#include "cfo_progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include "cfo_util.h"

#define BAR_WIDTH 24

static size_t live_workers(const cfo_progress_snapshot *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nworkers; i++)
        n += s->workers[i].live;
    return n;
}

double cfo_progress_rate(const cfo_progress_snapshot *s)
{
    if (s->elapsed_ms <= 0)
        return 0.0;
    return (double)s->done * 1000.0 / (double)s->elapsed_ms;
}

/* Columns of the terminal behind out, or 0 when unknown. */
static int term_columns(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 0;
}

void cfo_progress_format(const cfo_progress_snapshot *s, bool tty, const char *name, cfo_buf *out)
{
    char elapsed[32], left[32];
    cfo_format_duration(s->elapsed_ms, elapsed, sizeof elapsed);
    cfo_format_duration(s->budget_left_ms, left, sizeof left);
    double rate = cfo_progress_rate(s);
    size_t workers = live_workers(s);
    if (tty) {
        /* The bar is how much of the run is over, cancelled tasks included. */
        size_t over = s->done + s->cancelled;
        int filled = s->total ? (int)((over * (size_t)BAR_WIDTH) / s->total) : BAR_WIDTH;
        char bar[BAR_WIDTH + 1];
        for (int k = 0; k < BAR_WIDTH; k++)
            bar[k] = k < filled ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        cfo_buf_printf(out,
                       "[%s] %zu/%zu done, %zu cancelled, %zu running, %zu queued, %zu failed, "
                       "%zu worker%s (%zu/%zu slots), %.2f tasks/s, %s elapsed, %s budget left",
                       bar, s->done, s->total, s->cancelled, s->running, s->queued, s->failed,
                       workers, cfo_plural(workers), s->running, s->slots, rate, elapsed, left);
    } else {
        /* One line per update, shaped like Go's fuzz coordinator's
         * "fuzz: elapsed: 3s, execs: ..." so log readers find it familiar. */
        cfo_buf_printf(out,
                       "%s: elapsed: %s, done: %zu/%zu (%.2f tasks/s), cancelled: %zu, running: "
                       "%zu, queued: %zu, failed: %zu, workers: %zu (%zu/%zu slots busy), budget "
                       "left: %s",
                       name, elapsed, s->done, s->total, rate, s->cancelled, s->running, s->queued,
                       s->failed, workers, s->running, s->slots, left);
    }
}

void cfo_progress_print(const cfo_progress *p, const cfo_progress_snapshot *s, bool final)
{
    if (p->out == NULL)
        return;
    const char *name = p->name ? p->name : "cfo";
    if (p->json) {
        fprintf(p->out,
                "{\"event\":\"%s\",\"prog\":\"%s\",\"elapsed_ms\":%lld,\"budget_left_ms\":%lld,"
                "\"total\":%zu,\"done\":%zu,\"cancelled\":%zu,\"running\":%zu,\"queued\":%zu,"
                "\"failed\":%zu,\"workers\":%zu,\"slots\":%zu,\"tasks_per_s\":%.3f}\n",
                final ? "final" : "progress", name, (long long)s->elapsed_ms,
                (long long)s->budget_left_ms, s->total, s->done, s->cancelled, s->running,
                s->queued, s->failed, live_workers(s), s->slots, cfo_progress_rate(s));
        fflush(p->out);
        return;
    }
    cfo_buf line;
    cfo_buf_init(&line);
    cfo_progress_format(s, p->tty, name, &line);
    if (p->tty) {
        /* A line wider than the terminal wraps, and "\r" then returns to the
         * wrapped part only: the bar would scroll instead of staying put. */
        int cols = term_columns(p->out);
        if (cols > 1 && line.len >= (size_t)cols)
            line.data[line.len = (size_t)cols - 1] = '\0';
        fprintf(p->out, "\r\033[K%s", line.data);
        if (final)
            fputc('\n', p->out);
    } else {
        fprintf(p->out, "%s\n", line.data);
        /* Where the work goes: each worker's tasks done and held. */
        if (!final && p->local) {
            for (size_t i = 0; i < s->nworkers; i++)
                if (s->workers[i].live) {
                    fprintf(p->out, "%s: local worker: %zu done, %zu busy\n", name,
                            s->workers[i].done, s->workers[i].busy);
                    break;
                }
        } else if (!final && live_workers(s) > 0) {
            cfo_buf_reset(&line);
            cfo_buf_printf(&line, "%s: workers:", name);
            size_t shown = 0;
            for (size_t i = 0; i < s->nworkers; i++) {
                if (!s->workers[i].live)
                    continue;
                if (shown++ == 16) {
                    cfo_buf_printf(&line, " (and %zu more)", live_workers(s) - 16);
                    break;
                }
                cfo_buf_printf(&line, "%s %s %zu done, %zu busy", shown > 1 ? ";" : "",
                               s->workers[i].id, s->workers[i].done, s->workers[i].busy);
            }
            fprintf(p->out, "%s\n", line.data);
        }
    }
    cfo_buf_fini(&line);
    if (final) {
        for (size_t i = 0; i < s->nworkers; i++)
            if (p->local && (s->workers[i].done > 0 || s->workers[i].live))
                fprintf(p->out, "%s: local worker ran %zu task%s\n", name, s->workers[i].done,
                        cfo_plural(s->workers[i].done));
            else if (s->workers[i].done > 0 || s->workers[i].live)
                fprintf(p->out, "%s: worker %s ran %zu task%s%s\n", name, s->workers[i].id,
                        s->workers[i].done, cfo_plural(s->workers[i].done),
                        s->workers[i].live ? "" : " (gone)");
    }
    fflush(p->out);
}
