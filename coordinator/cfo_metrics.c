/* cfo_metrics.c -- /metrics in Prometheus text format, over libmicrohttpd. */
#include "cfo_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cfo_fuzzer.h"
#include "cfo_record.h"

/* Upper bounds of the task duration histogram, in seconds: from zero-time
 * tasks to the default task timeout and beyond. */
static const double buckets[] = {0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600};
#define NBUCKETS (sizeof buckets / sizeof *buckets)

typedef struct fuzzer_figures {
    char *name;
    bool engine;
    size_t queued, running;
    size_t ended[CFO_STATUS_COUNT];
    uint64_t attempts;
    uint64_t hist[NBUCKETS]; /* not cumulative; summed when written */
    uint64_t hist_count;
    double hist_sum;
    int64_t executions, findings;
} fuzzer_figures;

struct cfo_metrics {
    pthread_mutex_t lock;
    struct MHD_Daemon *daemon;
    char address[300];
    char *run_id;
    fuzzer_figures *f;
    size_t nf;
    cfo_metrics_gauges g;
    uint64_t committed;
    uint64_t writes_ok, writes_failed, write_retries;
};

cfo_err cfo_metrics_parse_address(const char *spec, bool insecure, char *host, size_t hostlen,
                                  uint16_t *port, cfo_diag *d)
{
    const char *colon = strrchr(spec, ':');
    const char *port_text = colon ? colon + 1 : spec;
    size_t hl = colon ? (size_t)(colon - spec) : 0;
    const char *h = spec;
    if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    int64_t p;
    if (cfo_parse_int(port_text, 0, 65535, &p, d) != CFO_OK || hl >= hostlen ||
        memchr(h, ' ', hl) != NULL) {
        return cfo_diag_set(d, CFO_EINVAL,
                            "--metrics is HOST:PORT, [IPV6]:PORT or PORT (0..65535), not '%s'",
                            spec);
    }
    if (hl == 0) {
        snprintf(host, hostlen, "%s", insecure ? "0.0.0.0" : "127.0.0.1");
    } else {
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    *port = (uint16_t)p;
    return CFO_OK;
}

static void put_label_value(cfo_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            cfo_buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            cfo_buf_puts(b, "\\n");
        else
            cfo_buf_append(b, s, 1);
    }
}

static void header(cfo_buf *b, const char *name, const char *type, const char *help)
{
    cfo_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{fuzzer="F"[,extra]} value */
static void fuzzer_line(cfo_buf *b, const char *name, const fuzzer_figures *f, const char *extra,
                        const char *value)
{
    cfo_buf_printf(b, "%s{fuzzer=\"", name);
    put_label_value(b, f->name);
    cfo_buf_printf(b, "\"%s%s} %s\n", extra ? "," : "", extra ? extra : "", value);
}

static void render_tasks(cfo_buf *b, const cfo_metrics *m)
{
    header(b, "cfo_tasks", "gauge",
           "Tasks of this run by fuzzer and state: queued, running, or the status they ended "
           "with.");
    char v[32], extra[64];
    for (size_t i = 0; i < m->nf; i++) {
        const fuzzer_figures *f = &m->f[i];
        snprintf(v, sizeof v, "%zu", f->queued);
        fuzzer_line(b, "cfo_tasks", f, "state=\"queued\"", v);
        snprintf(v, sizeof v, "%zu", f->running);
        fuzzer_line(b, "cfo_tasks", f, "state=\"running\"", v);
        for (int s = 0; s < CFO_STATUS_COUNT; s++) {
            snprintf(v, sizeof v, "%zu", f->ended[s]);
            snprintf(extra, sizeof extra, "state=\"%s\"", cfo_status_name((cfo_status)s));
            fuzzer_line(b, "cfo_tasks", f, extra, v);
        }
    }
    header(b, "cfo_task_attempts_total", "counter",
           "Attempts given to workers (a task re-queued after its worker died has several).");
    for (size_t i = 0; i < m->nf; i++) {
        snprintf(v, sizeof v, "%llu", (unsigned long long)m->f[i].attempts);
        fuzzer_line(b, "cfo_task_attempts_total", &m->f[i], NULL, v);
    }
}

static void render_histograms(cfo_buf *b, const cfo_metrics *m)
{
    header(b, "cfo_task_duration_seconds", "histogram",
           "How long the tasks that ran took, by fuzzer.");
    char v[48], extra[48];
    for (size_t i = 0; i < m->nf; i++) {
        const fuzzer_figures *f = &m->f[i];
        uint64_t cum = 0;
        for (size_t k = 0; k < NBUCKETS; k++) {
            cum += f->hist[k];
            snprintf(extra, sizeof extra, "le=\"%g\"", buckets[k]);
            snprintf(v, sizeof v, "%llu", (unsigned long long)cum);
            fuzzer_line(b, "cfo_task_duration_seconds_bucket", f, extra, v);
        }
        snprintf(v, sizeof v, "%llu", (unsigned long long)f->hist_count);
        fuzzer_line(b, "cfo_task_duration_seconds_bucket", f, "le=\"+Inf\"", v);
        snprintf(v, sizeof v, "%.6f", f->hist_sum);
        fuzzer_line(b, "cfo_task_duration_seconds_sum", f, NULL, v);
        snprintf(v, sizeof v, "%llu", (unsigned long long)f->hist_count);
        fuzzer_line(b, "cfo_task_duration_seconds_count", f, NULL, v);
    }
}

/* One counter of the engine fuzzers: executions, or findings. */
static void engine_counter(cfo_buf *b, const cfo_metrics *m, const char *name, const char *help,
                           bool findings)
{
    char v[32];
    header(b, name, "counter", help);
    for (size_t i = 0; i < m->nf; i++) {
        if (!m->f[i].engine)
            continue;
        snprintf(v, sizeof v, "%lld",
                 (long long)(findings ? m->f[i].findings : m->f[i].executions));
        fuzzer_line(b, name, &m->f[i], NULL, v);
    }
}

static void render_engines(cfo_buf *b, const cfo_metrics *m)
{
    engine_counter(b, m, "cfo_engine_executions_total",
                   "Executions the coverage-guided engines reported, by fuzzer.", false);
    engine_counter(b, m, "cfo_engine_findings_total",
                   "Findings the coverage-guided engines reported, by fuzzer.", true);
}

static void render_run(cfo_buf *b, const cfo_metrics *m)
{
    header(b, "cfo_run_info", "gauge", "The run this coordinator serves.");
    cfo_buf_puts(b, "cfo_run_info{run=\"");
    put_label_value(b, m->run_id);
    cfo_buf_puts(b, "\"} 1\n");
    header(b, "cfo_workers", "gauge", "Workers with a live session.");
    cfo_buf_printf(b, "cfo_workers %zu\n", m->g.workers);
    header(b, "cfo_worker_slots", "gauge", "The live workers' slots, and how many are busy.");
    cfo_buf_printf(b, "cfo_worker_slots{state=\"total\"} %zu\n", m->g.slots);
    cfo_buf_printf(b, "cfo_worker_slots{state=\"busy\"} %zu\n", m->g.slots_busy);
    header(b, "cfo_results_committed_total", "counter",
           "Results of workers committed to the run (each task's once).");
    cfo_buf_printf(b, "cfo_results_committed_total %llu\n", (unsigned long long)m->committed);
    header(b, "cfo_dataset_writes_total", "counter", "Dataset uploads, by result.");
    cfo_buf_printf(b, "cfo_dataset_writes_total{result=\"ok\"} %llu\n",
                   (unsigned long long)m->writes_ok);
    cfo_buf_printf(b, "cfo_dataset_writes_total{result=\"failed\"} %llu\n",
                   (unsigned long long)m->writes_failed);
    header(b, "cfo_dataset_write_retries_total", "counter",
           "Read-merge-write rounds redone because another writer came first.");
    cfo_buf_printf(b, "cfo_dataset_write_retries_total %llu\n",
                   (unsigned long long)m->write_retries);
    header(b, "cfo_budget_left_seconds", "gauge", "What is left of the run's budget.");
    cfo_buf_printf(b, "cfo_budget_left_seconds %.3f\n", (double)m->g.budget_left_ms / 1000.0);
}

char *cfo_metrics_render(cfo_metrics *m)
{
    cfo_buf b;
    cfo_buf_init(&b);
    pthread_mutex_lock(&m->lock);
    render_run(&b, m);
    render_tasks(&b, m);
    render_histograms(&b, m);
    render_engines(&b, m);
    pthread_mutex_unlock(&m->lock);
    return cfo_buf_steal(&b);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **state)
{
    (void)version;
    (void)upload;
    (void)upload_len;
    (void)state;
    cfo_metrics *m = cls;
    unsigned code = MHD_HTTP_OK;
    char *body;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        code = MHD_HTTP_METHOD_NOT_ALLOWED;
        body = cfo_xstrdup("only GET\n");
    } else if (strcmp(url, "/metrics") != 0) {
        code = MHD_HTTP_NOT_FOUND;
        body = cfo_xstrdup("the figures are at /metrics\n");
    } else {
        body = cfo_metrics_render(m);
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type",
                            code == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8"
                                                : "text/plain; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static fuzzer_figures *find(cfo_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->nf; i++)
        if (strcmp(m->f[i].name, name) == 0)
            return &m->f[i];
    return NULL;
}

static void add_fuzzers(cfo_metrics *m, const cfo_taskset *ts)
{
    m->f = cfo_xcalloc(ts->n + 1, sizeof *m->f);
    for (size_t t = 0; t < ts->n; t++) {
        if (find(m, ts->v[t].fuzzer->name) != NULL)
            continue;
        fuzzer_figures *f = &m->f[m->nf++];
        f->name = cfo_xstrdup(ts->v[t].fuzzer->name);
        f->engine = cfo_kind_is_engine(ts->v[t].fuzzer->kind);
    }
}

static cfo_err resolve(const char *host, uint16_t port, struct sockaddr_storage *sa, socklen_t *len,
                       cfo_diag *d)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0)
        return cfo_diag_set(d, CFO_EINVAL, "--metrics: cannot resolve '%s': %s", host,
                            gai_strerror(rc));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return CFO_OK;
}

cfo_err cfo_metrics_start(const char *spec, bool insecure, const cfo_taskset *ts,
                          const char *run_id, cfo_metrics **out, cfo_diag *d)
{
    *out = NULL;
    char host[256];
    uint16_t port;
    struct sockaddr_storage sa;
    socklen_t salen;
    cfo_err err = cfo_metrics_parse_address(spec, insecure, host, sizeof host, &port, d);
    if (err == CFO_OK)
        err = resolve(host, port, &sa, &salen, d);
    if (err != CFO_OK)
        return err;
    cfo_metrics *m = cfo_xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->run_id = cfo_xstrdup(run_id ? run_id : "");
    add_fuzzers(m, ts);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->daemon = MHD_start_daemon(flags, port, NULL, NULL, answer, m, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, 64u,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (m->daemon == NULL) {
        int e = errno;
        cfo_metrics_stop(&m);
        return cfo_diag_set(d, CFO_EIO, "--metrics: cannot listen on %s port %u: %s", host,
                            (unsigned)port, e ? strerror(e) : "libmicrohttpd refused");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info != NULL ? info->port : port;
    snprintf(m->address, sizeof m->address, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, bound);
    *out = m;
    return CFO_OK;
}

void cfo_metrics_stop(cfo_metrics **mp)
{
    cfo_metrics *m = *mp;
    if (m == NULL)
        return;
    if (m->daemon != NULL)
        MHD_stop_daemon(m->daemon);
    for (size_t i = 0; i < m->nf; i++)
        free(m->f[i].name);
    free(m->f);
    free(m->run_id);
    pthread_mutex_destroy(&m->lock);
    free(m);
    *mp = NULL;
}

const char *cfo_metrics_address(const cfo_metrics *m)
{
    return m->address;
}

void cfo_metrics_publish(cfo_metrics *m, const cfo_metrics_gauges *g)
{
    pthread_mutex_lock(&m->lock);
    m->g = *g;
    pthread_mutex_unlock(&m->lock);
}

void cfo_metrics_set_pending(cfo_metrics *m, const char *fuzzer, size_t queued, size_t running)
{
    pthread_mutex_lock(&m->lock);
    fuzzer_figures *f = find(m, fuzzer);
    if (f != NULL) {
        f->queued = queued;
        f->running = running;
    }
    pthread_mutex_unlock(&m->lock);
}

void cfo_metrics_attempt(cfo_metrics *m, const char *fuzzer)
{
    pthread_mutex_lock(&m->lock);
    fuzzer_figures *f = find(m, fuzzer);
    if (f != NULL)
        f->attempts++;
    pthread_mutex_unlock(&m->lock);
}

void cfo_metrics_task_done(cfo_metrics *m, const char *fuzzer, const cfo_outcome *o, bool committed)
{
    pthread_mutex_lock(&m->lock);
    fuzzer_figures *f = find(m, fuzzer);
    if (f != NULL && (unsigned)o->status < CFO_STATUS_COUNT) {
        f->ended[o->status]++;
        if (o->status != CFO_STATUS_CANCELLED || committed) {
            size_t k = 0;
            while (k < NBUCKETS && o->duration > buckets[k])
                k++;
            if (k < NBUCKETS)
                f->hist[k]++;
            f->hist_count++;
            f->hist_sum += o->duration;
            f->executions += o->count;
            f->findings += o->findings;
        }
    }
    if (committed)
        m->committed++;
    pthread_mutex_unlock(&m->lock);
}

void cfo_metrics_dataset_write(cfo_metrics *m, bool ok, int attempts)
{
    pthread_mutex_lock(&m->lock);
    if (ok)
        m->writes_ok++;
    else
        m->writes_failed++;
    m->write_retries += attempts > 1 ? (uint64_t)(attempts - 1) : 0;
    pthread_mutex_unlock(&m->lock);
}
