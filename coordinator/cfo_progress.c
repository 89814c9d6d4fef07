/* cfo_progress.c -- progress lines and the terminal bar. */
#include "cfo_progress.h"

#include "cfo_util.h"

static size_t live_workers(const cfo_progress_snapshot *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nworkers; i++)
        n += s->workers[i].live;
    return n;
}

void cfo_progress_print(const cfo_progress *p, const cfo_progress_snapshot *s, bool final)
{
    if (p->out == NULL)
        return;
    char elapsed[32], left[32];
    cfo_format_duration(s->elapsed_ms, elapsed, sizeof elapsed);
    cfo_format_duration(s->budget_left_ms, left, sizeof left);
    const char *name = p->name ? p->name : "cfo";
    if (p->json) {
        fprintf(p->out,
                "{\"event\":\"%s\",\"prog\":\"%s\",\"elapsed_ms\":%lld,\"budget_left_ms\":%lld,"
                "\"total\":%zu,\"done\":%zu,\"running\":%zu,\"queued\":%zu,\"failed\":%zu,"
                "\"workers\":%zu,\"slots\":%zu}\n",
                final ? "final" : "progress", name, (long long)s->elapsed_ms,
                (long long)s->budget_left_ms, s->total, s->done, s->running, s->queued, s->failed,
                live_workers(s), s->slots);
        fflush(p->out);
        return;
    }
    if (p->tty) {
        int width = 24;
        int filled = s->total ? (int)((s->done * (size_t)width) / s->total) : width;
        char bar[32];
        for (int k = 0; k < width; k++)
            bar[k] = k < filled ? '#' : '.';
        bar[width] = '\0';
        fprintf(p->out,
                "\r\033[K[%s] %zu/%zu done, %zu running, %zu left, %zu failed, %zu workers "
                "(%zu/%zu slots busy), %s elapsed, %s budget left",
                bar, s->done, s->total, s->running, s->queued, s->failed, live_workers(s),
                s->running, s->slots, elapsed, left);
        if (final)
            fputc('\n', p->out);
    } else {
        fprintf(p->out,
                "%s: elapsed %s, done %zu/%zu, running %zu, left %zu, failed %zu, workers %zu "
                "(%zu/%zu slots busy), budget left %s\n",
                name, elapsed, s->done, s->total, s->running, s->queued, s->failed, live_workers(s),
                s->running, s->slots, left);
    }
    if (final) {
        for (size_t i = 0; i < s->nworkers; i++)
            if (s->workers[i].done > 0 || s->workers[i].live)
                fprintf(p->out, "%s: worker %s ran %zu task(s)%s\n", name, s->workers[i].id,
                        s->workers[i].done, s->workers[i].live ? "" : " (gone)");
    }
    fflush(p->out);
}
