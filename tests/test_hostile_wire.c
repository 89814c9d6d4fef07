/* test_hostile_wire.c -- a live cfo-coordinator under hostile traffic: raw
 * garbage, oversized frames, 100,000-frame messages, every hostile msgpack
 * shape, protocol-order violations. It stays up, a real worker's run
 * finishes with every record intact, and its memory stays bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "cfo_dataset.h"
#include "cfo_log.h"
#include "cfo_proto.h"
#include "cfo_util.h"

#define NTASKS 40

static char tmp[256];
static char endpoint[64];

static const char *bin(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/bin/%s", CFO_BINARY_DIR, name);
    return path[k];
}

static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

static pid_t spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        setpgid(0, 0);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static bool log_has(const char *log, const char *text)
{
    cfo_buf b;
    cfo_buf_init(&b);
    bool found = cfo_read_file(log, 1 << 24, &b, NULL) == CFO_OK && b.data != NULL &&
                 strstr(b.data, text) != NULL;
    cfo_buf_fini(&b);
    return found;
}

static void wait_log(const char *log, const char *text)
{
    int64_t deadline = cfo_now_ms() + 60000;
    while (!log_has(log, text)) {
        assert_true(cfo_now_ms() < deadline);
        usleep(20000);
    }
}

static long rss_kb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    cfo_buf b;
    cfo_buf_init(&b);
    long kb = -1;
    if (cfo_read_file(path, 1 << 16, &b, NULL) == CFO_OK) {
        const char *at = strstr(b.data, "VmRSS:");
        if (at != NULL)
            kb = strtol(at + 6, NULL, 10);
    }
    cfo_buf_fini(&b);
    return kb;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void *dealer(void *ctx)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    /* Closing must deliver what was queued, not drop it. */
    int linger = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

static void send_frames(void *s, const void *const *frames, const size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0);
}

static void send_bytes(void *s, const void *data, size_t len)
{
    const void *f[1] = {data};
    size_t l[1] = {len};
    send_frames(s, f, l, 1);
}

static void send_msg(void *s, const cfo_msg *m)
{
    cfo_diag d = {{0}};
    assert_int_equal(cfo_wire_send(s, NULL, 0, m, &d), CFO_OK);
}

static void hello(void *s, const char *id)
{
    cfo_msg m = {.type = CFO_MSG_HELLO, .u.hello = {.worker_id = (char *)id, .slots = 1}};
    cfo_strv_init(&m.u.hello.fuzzers);
    cfo_strv_push(&m.u.hello.fuzzers, "NOPE"); /* never sent a real task */
    send_msg(s, &m);
    cfo_strv_fini(&m.u.hello.fuzzers);
}

static void result(void *s, uint64_t task, uint32_t attempt)
{
    cfo_msg m = {.type = CFO_MSG_RESULT,
                 .u.result = {.task_id = task,
                              .outcome = {.attempt = attempt,
                                          .status = CFO_STATUS_PASS,
                                          .count = 1,
                                          .command = "x",
                                          .summary = "forged",
                                          .tail = ""},
                              .tail_len = 0}};
    send_msg(s, &m);
}

/* One round of everything a hostile peer can send. */
static void hostile_round(void *ctx, int round)
{
    void *s = dealer(ctx);
    /* Raw garbage of every length up to 64 bytes. */
    unsigned char junk[64];
    for (size_t n = 0; n < sizeof junk; n++) {
        for (size_t i = 0; i <= n && i < sizeof junk; i++)
            junk[i] = (unsigned char)(rand() & 0xff);
        send_bytes(s, junk, n);
    }
    /* Hostile msgpack: containers claiming more than the bytes left. */
    static const unsigned char shapes[][8] = {
        {0xdd, 0xff, 0x00, 0x00, 0x00},
        {0xdf, 0xff, 0xff, 0xff, 0xff},
        {0xdb, 0xff, 0xff, 0xff, 0xff},
        {0xc6, 0xff, 0xff, 0xff, 0xff},
        {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},
        {0x93, 0x01, 0x63},
        {0x92, 0x02, 0x05},
        {0x95, 0x01, 0x04, 0xcf, 0xff, 0xff},
    };
    static const size_t shape_len[] = {5, 5, 5, 5, 6, 3, 3, 6};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        send_bytes(s, shapes[i], shape_len[i]);
    unsigned char deep[200];
    memset(deep, 0x91, sizeof deep);
    send_bytes(s, deep, sizeof deep);
    /* A 100,000-frame message. */
    for (int i = 0; i < 100000; i++)
        zmq_send(s, "x", 1, i + 1 < 100000 ? ZMQ_SNDMORE : 0);
    /* Out of order: a RESULT before any HELLO, then a session that forges. */
    result(s, 0, 1);
    char id[32];
    snprintf(id, sizeof id, "hostile-%d", round);
    hello(s, id);
    result(s, NTASKS - 1, 1);     /* a task it does not hold (still queued) */
    result(s, UINT64_MAX - 1, 1); /* a task that does not exist */
    hello(s, id);                 /* and again, on a fresh session */
    cfo_msg welcome = {.type = CFO_MSG_WELCOME,
                       .u.welcome = {.run_id = "forged", .heartbeat_ms = 100}};
    send_msg(s, &welcome); /* a message only a coordinator sends */
    zmq_close(s);

    /* An oversized frame: libzmq drops the connection (ZMQ_MAXMSGSIZE). */
    void *big = dealer(ctx);
    size_t len = 4u << 20;
    char *huge = cfo_xcalloc(1, len);
    send_bytes(big, huge, len);
    free(huge);
    zmq_close(big);
}

static void test_hostile_traffic_leaves_the_coordinator_serving(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/cfo-hostile-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    sh("cd %s && git init -q -b main repo && mkdir repo/fz && "
       "printf '#!/bin/sh\\nsleep 0.3\\n' > repo/fz/run.sh && "
       "printf '#!/bin/sh\\nseq 1 %d\\n' > repo/fz/list.sh && chmod +x repo/fz/*.sh && "
       "printf '[fuzzer \"SEQ\"]\\nkind = exec\\ndiscover = ./fz/list.sh\\n"
       "run = ./fz/run.sh {target}\\n' > repo/cfo.ini && cd repo && git add -A && "
       "git -c user.name=t -c user.email=t@t commit -qm init",
       tmp, NTASKS);
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", free_port());
    char repo[300], data[320], cwork[320], wwork[320], clog[320], wlog[320];
    snprintf(repo, sizeof repo, "%s/repo", tmp);
    snprintf(data, sizeof data, "file://%s/data.json", tmp);
    snprintf(cwork, sizeof cwork, "%s/cwork", tmp);
    snprintf(wwork, sizeof wwork, "%s/wwork", tmp);
    snprintf(clog, sizeof clog, "%s/coordinator.log", tmp);
    snprintf(wlog, sizeof wlog, "%s/worker.log", tmp);
    char *cargv[] = {(char *)bin("cfo-coordinator"),
                     "--repo",
                     repo,
                     "--bind",
                     endpoint,
                     "--heartbeat",
                     "1s",
                     "--dataset",
                     data,
                     "--upload",
                     "--workdir",
                     cwork,
                     "--wait-workers",
                     "60s",
                     NULL};
    pid_t coord = spawn(cargv, clog);
    char *wargv[] = {(char *)bin("cfo-worker"),
                     "--connect",
                     endpoint,
                     "--id",
                     "honest",
                     "--repo",
                     repo,
                     "--workdir",
                     wwork,
                     "--slots",
                     "1",
                     "--heartbeat",
                     "1s",
                     NULL};
    pid_t worker = spawn(wargv, wlog);
    wait_log(clog, "worker honest joined");
    long before = rss_kb(coord);
    assert_true(before > 0);

    void *ctx = zmq_ctx_new();
    srand(42);
    for (int round = 0; round < 3; round++)
        hostile_round(ctx, round);
    zmq_ctx_term(ctx);

    /* Still serving: the sessions it dropped are in its log, the honest
     * worker's run goes on. */
    wait_log(clog, "sent a result for a task it does not hold");
    wait_log(clog, "sent a message only a coordinator sends");
    long after = rss_kb(coord);
    assert_true(after > 0);
    fprintf(stderr, "coordinator RSS before %ld kB, after hostile traffic %ld kB\n", before, after);
    assert_true(after < before + 32 * 1024);

    int status;
    assert_int_equal(waitpid(coord, &status, 0), coord);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(waitpid(worker, &status, 0), worker);

    cfo_recset *rs = cfo_recset_new();
    cfo_dataset_meta meta;
    char path[320];
    snprintf(path, sizeof path, "%s/data.json", tmp);
    assert_int_equal(cfo_dataset_parse_file(path, rs, &meta, NULL), CFO_OK);
    assert_int_equal(rs->n, NTASKS);
    for (size_t i = 0; i < rs->n; i++) {
        assert_string_equal(rs->v[i].worker, "honest");
        assert_true(rs->v[i].ok);
        assert_int_equal(rs->v[i].attempt, 1);
    }
    cfo_recset_destroy(&rs);
    sh("rm -rf %s", tmp);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_traffic_leaves_the_coordinator_serving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
