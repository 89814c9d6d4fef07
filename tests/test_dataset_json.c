/* test_dataset_json.c -- the dataset JSON codec: round trips, the seed's
 * format, chunked input, and every way a document can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfo_dataset.h"
#include "cfo_log.h"
#include "cfo_record.h"
#include "cfo_util.h"

/* Ends parse_expect's list of needles. */
#define END ((const char *)NULL)

#define SHA_A "8cb36829332d427f8cb36829332d427f8cb36829"
#define SHA_B "0123456789abcdef0123456789abcdef01234567"

/* ---- helpers ----------------------------------------------------------- */

#define CRASHES                                                                                    \
    "[{\"signature\":\"crash:heap-buffer-overflow:parse|main\",\"kind\":\"crash\",\"new\":true,"   \
    "\"repro\":\"3/3\",\"bundle\":\"file:///b/1.tar.gz\"}]"

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: reproducible across libcs, unlike rand(). */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(uint64_t n)
{
    return rnd() % n;
}

static const char *const pieces[] = {
    "a",
    "main",
    "envs/prod/network",
    " ",
    "\"",
    "\\",
    "\\\"",
    "/",
    "\x01",
    "\x1f",
    "\t",
    "\n",
    "\r",
    "\x7f",
    "é",
    "日本語",
    "\xf0\x9f\x90\x9b",
    "'",
    "{}[],:",
    "\\u0000",
};

/* A random string of pieces; at least `min` pieces. */
static const char *rnd_string(cfo_buf *b, size_t min)
{
    cfo_buf_reset(b);
    size_t n = min + rnd_below(6);
    for (size_t i = 0; i < n; i++)
        cfo_buf_puts(b, pieces[rnd_below(sizeof pieces / sizeof pieces[0])]);
    return b->data != NULL ? b->data : "";
}

static void rnd_sha(char *out)
{
    size_t len = rnd_below(4) == 0 ? 64 : 40;
    for (size_t i = 0; i < len; i++)
        out[i] = "0123456789abcdefABCDEF"[rnd_below(22)];
    out[len] = '\0';
}

static double rnd_duration(void)
{
    static const double fixed[] = {4.21,   0.1,     0,    1.0 / 3.0, 1e20,
                                   5e-324, DBL_MAX, 1e-7, 123456.5,  2.5e-3};
    if (rnd_below(3) == 0)
        return (double)rnd_below(1000000) / (double)(1 + rnd_below(1000));
    return fixed[rnd_below(sizeof fixed / sizeof fixed[0])];
}

/* Appends `n` random valid records to rs. */
static void add_random_records(cfo_recset *rs, size_t n)
{
    cfo_buf fz, br, tg, cmd, run, wk;
    cfo_buf_init(&fz);
    cfo_buf_init(&br);
    cfo_buf_init(&tg);
    cfo_buf_init(&cmd);
    cfo_buf_init(&run);
    cfo_buf_init(&wk);
    for (size_t i = 0; i < n; i++) {
        char sha[65];
        rnd_sha(sha);
        cfo_record r = {
            .commit = sha,
            .fuzzer = rnd_string(&fz, 1),
            .branch = rnd_string(&br, 1),
            .target = rnd_string(&tg, 0),
            .command = rnd_string(&cmd, 1),
            .run = rnd_below(3) ? rnd_string(&run, 0) : NULL,
            .worker = rnd_below(3) ? rnd_string(&wk, 0) : NULL,
            .count =
                rnd_below(4) == 0 ? INT64_MAX - (int64_t)rnd_below(10) : (int64_t)rnd_below(1000),
            .findings = rnd_below(2) ? (int64_t)rnd_below(1u << 31) : 0,
            .duration = rnd_duration(),
            .attempt = rnd_below(2) ? (uint32_t)rnd_below(CFO_RECORD_MAX_ATTEMPT + 1) : 0,
            .status = (cfo_status)rnd_below(CFO_STATUS_COUNT),
        };
        r.ok = r.status == CFO_STATUS_PASS;
        if (rnd_below(2)) {
            r.has_usage = true;
            r.cpu = rnd_duration();
            r.max_rss_kb = (int64_t)rnd_below(1u << 30);
        }
        if (rnd_below(4) == 0)
            r.crashes = rnd_below(2) ? CRASHES : "[]";
        if (rnd_below(4)) {
            r.has_time = true;
            /* 2000-01-01 .. ~2100, whole seconds or with milliseconds. */
            r.time_ms = 946684800000LL + (int64_t)rnd_below(3155760000ULL) * 1000;
            if (rnd_below(2))
                r.time_ms += (int64_t)rnd_below(1000);
        }
        assert_int_equal(cfo_record_validate(&r, NULL), CFO_OK);
        cfo_recset_add(rs, &r);
    }
    cfo_buf_fini(&fz);
    cfo_buf_fini(&br);
    cfo_buf_fini(&tg);
    cfo_buf_fini(&cmd);
    cfo_buf_fini(&run);
    cfo_buf_fini(&wk);
}

static void assert_same_records(const cfo_recset *a, const cfo_recset *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        assert_int_equal(cfo_record_cmp_all(&a->v[i], &b->v[i]), 0);
}

/* Parses text; on failure checks the code and that the message holds every
 * NULL-terminated needle. Returns the code. */
static cfo_err parse_expect(const char *text, cfo_err want, ...)
{
    cfo_recset *rs = cfo_recset_new();
    cfo_diag d = {{0}};
    cfo_dataset_meta meta;
    cfo_err err = cfo_dataset_parse(text, strlen(text), "in.json", rs, &meta, &d);
    if (err != want)
        fail_msg("parse of %.300s gave %d (%s), want %d", text, err, d.msg, want);
    if (want != CFO_OK) {
        assert_non_null(strstr(d.msg, "in.json: "));
        va_list ap;
        va_start(ap, want);
        for (const char *needle; (needle = va_arg(ap, const char *)) != NULL;) {
            if (strstr(d.msg, needle) == NULL)
                fail_msg("message '%s' lacks '%s'", d.msg, needle);
        }
        va_end(ap);
    }
    cfo_recset_destroy(&rs);
    return err;
}

/* A record with every field; `field` (if not NULL) gets `value` instead of
 * its usual one, or is left out when value is NULL. */
static char *record_json(const char *field, const char *value)
{
    static const char *const names[] = {"commit",     "fuzzer", "ok",       "count",   "findings",
                                        "branch",     "target", "duration", "command", "status",
                                        "time",       "run",    "worker",   "attempt", "cpu",
                                        "max_rss_kb", "crashes"};
    static const char *const values[] = {"\"" SHA_A "\"",
                                         "\"INFRA_DRIFT\"",
                                         "false",
                                         "12",
                                         "2",
                                         "\"main\"",
                                         "\"envs/prod/network\"",
                                         "4.21",
                                         "\"cfo-fuzz INFRA_DRIFT envs/prod/network\"",
                                         "\"fail\"",
                                         "\"2026-11-21T10:00:00Z\"",
                                         "\"run id\"",
                                         "\"worker id\"",
                                         "1",
                                         "1.5",
                                         "2048",
                                         CRASHES};
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_buf_puts(&b, "{");
    bool first = true;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = values[i];
        if (field != NULL && strcmp(field, names[i]) == 0) {
            if (value == NULL)
                continue;
            v = value;
        }
        cfo_buf_printf(&b, "%s\"%s\":%s", first ? "" : ",", names[i], v);
        first = false;
    }
    cfo_buf_puts(&b, "}");
    return cfo_buf_steal(&b);
}

static char *wrap_array(const char *rec)
{
    return cfo_xasprintf("[%s]", rec);
}

/* ---- writer ------------------------------------------------------------ */

static void test_write_exact(void **state)
{
    (void)state;
    char *rec = record_json(NULL, NULL);
    char *doc = cfo_xasprintf("{\"version\":1,\"window\":32,\"records\":[%s]}", rec);
    cfo_recset *rs = cfo_recset_new();
    cfo_dataset_meta meta;
    cfo_diag d;
    assert_int_equal(cfo_dataset_parse(doc, strlen(doc), "x", rs, &meta, &d), CFO_OK);
    assert_int_equal(meta.version, 1);
    assert_int_equal(meta.window, 32);
    assert_int_equal(meta.nrecords, 1);

    cfo_buf out;
    cfo_buf_init(&out);
    cfo_dataset_write(rs, 32, &out);
    char *want = cfo_xasprintf("{\"version\":1,\"window\":32,\"records\":[\n%s\n]}\n", rec);
    assert_string_equal(out.data, want);

    cfo_buf_reset(&out);
    cfo_record_write_json(&rs->v[0], &out);
    assert_string_equal(out.data, rec);

    /* Optional fields are left out when absent. */
    rs->v[0].has_time = false;
    rs->v[0].run = NULL;
    rs->v[0].worker = NULL;
    rs->v[0].attempt = 0;
    rs->v[0].has_usage = false;
    rs->v[0].crashes = NULL;
    cfo_buf_reset(&out);
    cfo_record_write_json(&rs->v[0], &out);
    assert_string_equal(out.data,
                        "{\"commit\":\"" SHA_A "\",\"fuzzer\":\"INFRA_DRIFT\",\"ok\":false,"
                        "\"count\":12,\"findings\":2,\"branch\":\"main\",\"target\":\"envs/prod/"
                        "network\",\"duration\":4.21,\"command\":\"cfo-fuzz INFRA_DRIFT "
                        "envs/prod/network\",\"status\":\"fail\"}");

    cfo_recset_clear(rs);
    cfo_buf_reset(&out);
    cfo_dataset_write(rs, 7, &out);
    assert_string_equal(out.data, "{\"version\":1,\"window\":7,\"records\":[\n]}\n");

    cfo_buf_fini(&out);
    free(want);
    free(doc);
    free(rec);
    cfo_recset_destroy(&rs);
}

static void test_write_numbers(void **state)
{
    (void)state;
    struct {
        double v;
        const char *text;
    } cases[] = {{4.21, "4.21"}, {0.1, "0.1"}, {0, "0"},
                 {-0.0, "0"},    {3, "3"},     {1.0 / 3.0, "0.3333333333333333"},
                 {1e20, "1e+20"}};
    cfo_buf out;
    cfo_buf_init(&out);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfo_record r = {.commit = SHA_A,
                        .fuzzer = "F",
                        .branch = "b",
                        .target = "t",
                        .command = "c",
                        .duration = cases[i].v,
                        .count = INT64_MAX,
                        .status = CFO_STATUS_FAIL};
        cfo_buf_reset(&out);
        cfo_record_write_json(&r, &out);
        char *want = cfo_xasprintf("\"duration\":%s,", cases[i].text);
        if (strstr(out.data, want) == NULL)
            fail_msg("%s lacks %s", out.data, want);
        assert_non_null(strstr(out.data, "\"count\":9223372036854775807,"));
        free(want);
    }
    cfo_buf_fini(&out);
}

static void test_write_invalid_utf8(void **state)
{
    (void)state;
    cfo_record r = {.commit = SHA_A,
                    .fuzzer = "F\xff\xc3",
                    .branch = "b",
                    .target = "t\xe6\x97",
                    .command = "c",
                    .status = CFO_STATUS_FAIL};
    cfo_recset *rs = cfo_recset_new();
    cfo_recset_add(rs, &r);
    cfo_buf out;
    cfo_buf_init(&out);
    cfo_dataset_write(rs, 32, &out);
    assert_non_null(strstr(out.data, "\"fuzzer\":\"F\xef\xbf\xbd\xef\xbf\xbd\""));
    cfo_recset *back = cfo_recset_new();
    cfo_diag d;
    assert_int_equal(cfo_dataset_parse(out.data, out.len, "x", back, NULL, &d), CFO_OK);
    assert_int_equal(back->n, 1);
    cfo_buf_fini(&out);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&back);
}

/* ---- round trips ------------------------------------------------------- */

static void test_round_trip_random(void **state)
{
    (void)state;
    rng_state = 0x9E3779B97F4A7C15ULL;
    for (int iter = 0; iter < 40; iter++) {
        cfo_recset *rs = cfo_recset_new();
        add_random_records(rs, (size_t)rnd_below(60));
        int window = 1 + (int)rnd_below(CFO_DATASET_MAX_WINDOW);
        cfo_buf a, b;
        cfo_buf_init(&a);
        cfo_buf_init(&b);
        cfo_dataset_write(rs, window, &a);

        cfo_recset *back = cfo_recset_new();
        cfo_dataset_meta meta;
        cfo_diag d = {{0}};
        cfo_err err = cfo_dataset_parse(a.data, a.len, "rt.json", back, &meta, &d);
        if (err != CFO_OK)
            fail_msg("%s", d.msg);
        assert_int_equal(meta.version, 1);
        assert_int_equal(meta.window, window);
        assert_int_equal(meta.nrecords, rs->n);
        assert_same_records(rs, back);

        cfo_dataset_write(back, meta.window, &b);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);

        cfo_buf_fini(&a);
        cfo_buf_fini(&b);
        cfo_recset_destroy(&rs);
        cfo_recset_destroy(&back);
    }
}

/* Feeding one byte at a time must give exactly what one chunk gives. */
static void test_one_byte_chunks(void **state)
{
    (void)state;
    rng_state = 42;
    cfo_recset *rs = cfo_recset_new();
    add_random_records(rs, 30);
    cfo_buf doc;
    cfo_buf_init(&doc);
    cfo_dataset_write(rs, 32, &doc);

    cfo_recset *whole = cfo_recset_new();
    cfo_dataset_meta m1, m2;
    cfo_diag d;
    assert_int_equal(cfo_dataset_parse(doc.data, doc.len, "x", whole, &m1, &d), CFO_OK);

    cfo_recset *bytes = cfo_recset_new();
    cfo_dataset_parser *p = cfo_dataset_parser_new("x", bytes);
    for (size_t i = 0; i < doc.len; i++)
        assert_int_equal(cfo_dataset_parser_feed(p, doc.data + i, 1, &d), CFO_OK);
    assert_int_equal(cfo_dataset_parser_finish(p, &m2, &d), CFO_OK);
    cfo_dataset_parser_destroy(&p);
    assert_null(p);

    assert_int_equal(m1.version, m2.version);
    assert_int_equal(m1.window, m2.window);
    assert_int_equal(m1.nrecords, m2.nrecords);
    assert_same_records(whole, bytes);
    assert_same_records(rs, bytes);

    cfo_buf_fini(&doc);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&whole);
    cfo_recset_destroy(&bytes);
}

/* ---- the seed's format ------------------------------------------------- */

static const char seed_doc[] =
    "[\n"
    "  {\"commit\": \"" SHA_A "\", \"fuzzer\": \"INFRA_DRIFT\", \"ok\": true,\n"
    "   \"count\": 3, \"branch\": \"main\", \"target\": \"envs/prod/network\",\n"
    "   \"duration\": 4.21, \"command\": \"cfo-fuzz INFRA_DRIFT envs/prod/network\"},\n"
    "  {\"commit\": \"" SHA_B "\", \"fuzzer\": \"CANARY\", \"ok\": false,\n"
    "   \"count\": 1, \"branch\": \"main\", \"target\": \"\",\n"
    "   \"duration\": 0, \"command\": \"cfo-fuzz CANARY\"},\n"
    "  {\"commit\": \"" SHA_B "\", \"fuzzer\": \"INFRA_DRIFT\", \"ok\": false,\n"
    "   \"count\": 7, \"branch\": \"main\", \"target\": \"envs/prod/network\",\n"
    "   \"duration\": 12, \"command\": \"cfo-fuzz INFRA_DRIFT envs/prod/network\",\n"
    "   \"findings\": null, \"status\": null, \"time\": null, \"run\": null, \"worker\": null,\n"
    "   \"attempt\": null}\n"
    "]\n";

static void test_seed_format_bare_array(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    cfo_dataset_meta meta;
    cfo_diag d;
    assert_int_equal(cfo_dataset_parse(seed_doc, strlen(seed_doc), "seed", rs, &meta, &d), CFO_OK);
    assert_int_equal(meta.version, 0);
    assert_int_equal(meta.window, 0);
    assert_int_equal(meta.nrecords, 3);
    assert_int_equal(rs->n, 3);

    const cfo_record *r = &rs->v[0];
    assert_string_equal(r->commit, SHA_A);
    assert_string_equal(r->fuzzer, "INFRA_DRIFT");
    assert_true(r->ok);
    assert_int_equal(r->count, 3);
    assert_int_equal(r->findings, 0);
    assert_string_equal(r->branch, "main");
    assert_string_equal(r->target, "envs/prod/network");
    assert_true(r->duration == 4.21);
    assert_string_equal(r->command, "cfo-fuzz INFRA_DRIFT envs/prod/network");
    assert_int_equal(r->status, CFO_STATUS_PASS);
    assert_false(r->has_time);
    assert_null(r->run);
    assert_null(r->worker);
    assert_int_equal(r->attempt, 0);

    assert_int_equal(rs->v[1].status, CFO_STATUS_FAIL);
    assert_string_equal(rs->v[1].target, "");
    /* null optional fields count as absent */
    r = &rs->v[2];
    assert_int_equal(r->status, CFO_STATUS_FAIL);
    assert_int_equal(r->findings, 0);
    assert_false(r->has_time);
    assert_null(r->run);
    assert_null(r->worker);
    assert_int_equal(r->attempt, 0);
    assert_true(r->duration == 12.0);
    /* the set's pool interns equal strings */
    assert_ptr_equal(rs->v[0].fuzzer, rs->v[2].fuzzer);
    assert_ptr_equal(rs->v[1].commit, rs->v[2].commit);
    cfo_recset_destroy(&rs);
}

static void test_seed_format_in_document(void **state)
{
    (void)state;
    char *doc = cfo_xasprintf("{\"window\": 5, \"comment\": {\"records\": [1, {\"a\": [[]]}]},"
                              " \"records\": %s, \"version\": 1, \"extra\": null}",
                              seed_doc);
    cfo_recset *rs = cfo_recset_new();
    cfo_dataset_meta meta;
    cfo_diag d;
    assert_int_equal(cfo_dataset_parse(doc, strlen(doc), "seed", rs, &meta, &d), CFO_OK);
    assert_int_equal(meta.version, 1);
    assert_int_equal(meta.window, 5);
    assert_int_equal(meta.nrecords, 3);
    assert_string_equal(rs->v[1].fuzzer, "CANARY");

    /* Appends to what the set holds; nrecords counts this parse only. */
    assert_int_equal(cfo_dataset_parse(doc, strlen(doc), "seed", rs, &meta, &d), CFO_OK);
    assert_int_equal(meta.nrecords, 3);
    assert_int_equal(rs->n, 6);
    free(doc);
    cfo_recset_destroy(&rs);

    /* window is optional */
    parse_expect("{\"version\":1,\"records\":[]}", CFO_OK, END);
}

/* ---- malformed input --------------------------------------------------- */

/* No proper prefix of a valid document may parse, whole or byte by byte. */
static void test_truncated_everywhere(void **state)
{
    (void)state;
    char *r1 = record_json(NULL, NULL);
    char *r2 = record_json("time", "\"2026-11-21T10:00:00.123Z\"");
    char *doc = cfo_xasprintf("{\"version\":1,\"window\":32,\"x\":[{\"y\":\"z\"},-1.5e3],"
                              "\"records\":[%s,\n%s]}",
                              r1, r2);
    size_t len = strlen(doc);
    for (size_t cut = 0; cut <= len; cut++) {
        cfo_recset *rs = cfo_recset_new();
        cfo_diag d = {{0}};
        cfo_err err = cfo_dataset_parse(doc, cut, "cut.json", rs, NULL, &d);
        if (cut < len) {
            if (err != CFO_EPARSE)
                fail_msg("prefix of %zu bytes gave %d (%s)", cut, err, d.msg);
            assert_non_null(strstr(d.msg, "cut.json: "));
        } else {
            assert_int_equal(err, CFO_OK);
            assert_int_equal(rs->n, 2);
        }
        cfo_recset_clear(rs);

        cfo_dataset_parser *p = cfo_dataset_parser_new("cut.json", rs);
        err = CFO_OK;
        for (size_t i = 0; i < cut && err == CFO_OK; i++)
            err = cfo_dataset_parser_feed(p, doc + i, 1, &d);
        if (err == CFO_OK)
            err = cfo_dataset_parser_finish(p, NULL, &d);
        assert_int_equal(err, cut < len ? CFO_EPARSE : CFO_OK);
        cfo_dataset_parser_destroy(&p);
        cfo_recset_destroy(&rs);
    }
    free(doc);
    free(r1);
    free(r2);
}

static void expect_record_error(const char *field, const char *value, cfo_err want,
                                const char *needle)
{
    char *rec = record_json(field, value);
    char *doc = wrap_array(rec);
    parse_expect(doc, want, "record 0: ", needle, END);
    free(doc);
    free(rec);
}

static void test_wrong_types(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        bool required;
        const char *bad[9];
    } cases[] = {
        {"commit", true, {"1", "true", "1.5", "[]", "{}", "null", NULL}},
        {"fuzzer", true, {"1", "false", "[\"a\"]", "{\"a\":1}", "null", NULL}},
        {"ok", true, {"\"true\"", "1", "0", "null", "[]", "{}", NULL}},
        {"count", true, {"\"1\"", "1.5", "1e3", "true", "-1", "[]", "null", NULL}},
        {"findings", false, {"\"1\"", "2.0", "false", "-3", "{}", NULL}},
        {"branch", true, {"7", "true", "[]", "null", NULL}},
        {"target", true, {"7", "true", "{}", "null", NULL}},
        {"duration", true, {"\"4.21\"", "true", "-1", "-0.5", "[]", "null", NULL}},
        {"command", true, {"7", "[]", "null", NULL}},
        {"status", false, {"1", "true", "[]", NULL}},
        {"time", false, {"1700000000", "true", "{}", NULL}},
        {"run", false, {"1", "false", "[]", NULL}},
        {"worker", false, {"1", "true", "{}", NULL}},
        {"attempt", false, {"\"1\"", "1.5", "true", "-1", "[]", NULL}},
        {"cpu", false, {"\"1\"", "true", "-1", "[]", NULL}},
        {"max_rss_kb", false, {"\"1\"", "1.5", "true", "-1", "{}", NULL}},
        {"crashes", false, {"\"[]\"", "1", "true", "{}", "[1]", "[[]]", "[null]", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "field '%s' must be", cases[i].field);
        for (size_t j = 0; cases[i].bad[j] != NULL; j++)
            expect_record_error(cases[i].field, cases[i].bad[j], CFO_EPARSE, needle);
        if (!cases[i].required) {
            /* null and absence are both fine for optional fields */
            char *rec = record_json(cases[i].field, "null");
            char *doc = wrap_array(rec);
            parse_expect(doc, CFO_OK, END);
            free(doc);
            free(rec);
        }
    }
    expect_record_error("ok", "true", CFO_EPARSE, "contradicts status");
}

static void test_missing_required(void **state)
{
    (void)state;
    static const char *const req[] = {"commit", "fuzzer", "ok",       "count",
                                      "branch", "target", "duration", "command"};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "missing field '%s'", req[i]);
        expect_record_error(req[i], NULL, CFO_EPARSE, needle);
    }
    static const char *const opt[] = {"findings", "time", "run", "worker", "attempt"};
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
        char *rec = record_json(opt[i], NULL);
        char *doc = wrap_array(rec);
        parse_expect(doc, CFO_OK, END);
        free(doc);
        free(rec);
    }
    /* status omitted: derived from ok (false: fail) */
    char *rec = record_json("status", NULL);
    char *doc = wrap_array(rec);
    cfo_recset *rs = cfo_recset_new();
    assert_int_equal(cfo_dataset_parse(doc, strlen(doc), "x", rs, NULL, NULL), CFO_OK);
    assert_int_equal(rs->v[0].status, CFO_STATUS_FAIL);
    cfo_recset_destroy(&rs);
    free(doc);
    free(rec);
}

static void test_record_errors(void **state)
{
    (void)state;
    parse_expect("[{\"colour\":1}]", CFO_EPARSE, "record 0: unknown field 'colour'", END);
    char *rec = record_json(NULL, NULL);
    /* a key repeated at the end of an otherwise complete record */
    rec[strlen(rec) - 1] = '\0';
    char *doc = cfo_xasprintf("[%s,\"count\":13}]", rec);
    parse_expect(doc, CFO_EPARSE, "record 0: duplicate field 'count'", END);
    free(doc);
    doc = cfo_xasprintf("[%s,\"worker\":null}]", rec);
    parse_expect(doc, CFO_EPARSE, "record 0: duplicate field 'worker'", END);
    free(doc);
    free(rec);

    expect_record_error("count", "-5", CFO_EPARSE, "field 'count' must be a non-negative");
    /* yajl's own errors name the byte, not the record */
    char *ovf = record_json("count", "99999999999999999999");
    char *ovf_doc = wrap_array(ovf);
    parse_expect(ovf_doc, CFO_EPARSE, "integer overflow at byte", END);
    free(ovf_doc);
    free(ovf);
    expect_record_error("commit", "\"xyz\"", CFO_EPARSE, "hex sha");
    expect_record_error("commit", "\"" SHA_A "0\"", CFO_EPARSE, "hex sha");
    expect_record_error("commit", "\"\"", CFO_EPARSE, "commit");
    expect_record_error("fuzzer", "\"\"", CFO_EPARSE, "'fuzzer' is missing or empty");
    expect_record_error("time", "\"yesterday\"", CFO_EPARSE, "field 'time'");
    expect_record_error("time", "\"2026-13-01T00:00:00Z\"", CFO_EPARSE, "field 'time'");
    expect_record_error("status", "\"pass\"", CFO_EPARSE, "contradicts status 'pass'");
    expect_record_error("status", "\"bogus\"", CFO_EPARSE, "unknown status 'bogus'");
    expect_record_error("attempt", "1000001", CFO_EPARSE, "field 'attempt'");
    ovf = record_json("duration", "1e999");
    ovf_doc = wrap_array(ovf);
    parse_expect(ovf_doc, CFO_EPARSE, "overflow at byte", END);
    free(ovf_doc);
    free(ovf);
    expect_record_error("run", "\"a\\u0000b\"", CFO_EPARSE, "field 'run' contains a NUL");
    expect_record_error("attempt", "1000000", CFO_OK, NULL);
    expect_record_error("status", "\"timeout\"", CFO_OK, NULL);
    expect_record_error("time", "\"2026-11-21T10:00:00.5+00:00\"", CFO_OK, NULL);

    /* a record that is not an object */
    parse_expect("[1]", CFO_EPARSE, "record 0: must be an object", END);
    parse_expect("[[]]", CFO_EPARSE, "record 0: must be an object", END);
    parse_expect("{\"version\":1,\"records\":[\"x\"]}", CFO_EPARSE, "record 0", END);
}

/* The message names the failing record; the ones before it stay appended. */
static void test_error_names_record_index(void **state)
{
    (void)state;
    char *good = record_json(NULL, NULL);
    char *bad = record_json("ok", "\"no\"");
    char *doc = cfo_xasprintf("{\"version\":1,\"records\":[%s,%s,%s,%s]}", good, good, bad, good);
    cfo_recset *rs = cfo_recset_new();
    cfo_diag d;
    cfo_dataset_parser *p = cfo_dataset_parser_new("data.json", rs);
    assert_int_equal(cfo_dataset_parser_feed(p, doc, strlen(doc), &d), CFO_EPARSE);
    assert_string_equal(d.msg, "data.json: record 2: field 'ok' must be a boolean");
    assert_int_equal(rs->n, 2);
    /* the error is sticky */
    memset(&d, 0, sizeof d);
    assert_int_equal(cfo_dataset_parser_feed(p, "]", 1, &d), CFO_EPARSE);
    assert_string_equal(d.msg, "data.json: record 2: field 'ok' must be a boolean");
    assert_int_equal(cfo_dataset_parser_finish(p, NULL, &d), CFO_EPARSE);
    cfo_dataset_parser_destroy(&p);
    cfo_dataset_parser_destroy(&p); /* NULL-safe */
    cfo_recset_destroy(&rs);
    free(doc);
    free(good);
    free(bad);
}

static void test_document_errors(void **state)
{
    (void)state;
    parse_expect("{\"version\":3,\"records\":[]}", CFO_EUNSUPPORTED,
                 "unsupported dataset version 3", END);
    /* version 2 adds findings and strategies, which a plain parse skips */
    parse_expect("{\"version\":2,\"strategies\":{\"A\":\"supersede\"},\"findings\":[{\"id\":"
                 "\"x\"}],\"records\":[]}",
                 CFO_OK, END);
    parse_expect("{\"records\":[],\"version\":0}", CFO_EUNSUPPORTED,
                 "unsupported dataset version 0", END);
    parse_expect("{\"version\":\"1\",\"records\":[]}", CFO_EPARSE, "'version'", END);
    parse_expect("{\"version\":1.0,\"records\":[]}", CFO_EPARSE, "'version'", END);
    parse_expect("{\"version\":1,\"window\":0,\"records\":[]}", CFO_EPARSE, "'window'", END);
    parse_expect("{\"version\":1,\"window\":100001,\"records\":[]}", CFO_EPARSE, "'window'", END);
    parse_expect("{\"version\":1,\"window\":-3,\"records\":[]}", CFO_EPARSE, "'window'", END);
    parse_expect("{\"version\":1,\"window\":\"32\",\"records\":[]}", CFO_EPARSE, "'window'", END);
    parse_expect("{\"version\":1,\"window\":100000,\"records\":[]}", CFO_OK, END);
    parse_expect("{\"version\":1,\"records\":{}}", CFO_EPARSE, "'records' must be an array", END);
    parse_expect("{\"version\":1,\"records\":null}", CFO_EPARSE, "'records' must be an array", END);
    parse_expect("{\"version\":1}", CFO_EPARSE, "missing key 'records'", END);
    parse_expect("{\"records\":[]}", CFO_EPARSE, "missing key 'version'", END);
    parse_expect("{\"version\":1,\"version\":1,\"records\":[]}", CFO_EPARSE,
                 "duplicate key 'version'", END);
    parse_expect("{\"version\":1,\"records\":[],\"records\":[]}", CFO_EPARSE,
                 "duplicate key 'records'", END);
    parse_expect("42", CFO_EPARSE, "expected a dataset object", END);
    parse_expect("\"[]\"", CFO_EPARSE, "expected a dataset object", END);
    parse_expect("", CFO_EPARSE, "at byte", END);
    parse_expect("   \n", CFO_EPARSE, "at byte", END);
    parse_expect("[] []", CFO_EPARSE, "at byte", END);
    parse_expect("[]x", CFO_EPARSE, "trailing garbage at byte", END);
    parse_expect("[,]", CFO_EPARSE, "at byte", END);
    parse_expect("{\"version\":1,\"records\":[]", CFO_EPARSE, "premature EOF", END);
    parse_expect("[]", CFO_OK, END);
}

static void test_limits(void **state)
{
    (void)state;
    /* strings: the limit itself passes, one byte more does not */
    char *big = cfo_xmalloc(CFO_RECORD_MAX_STRING + 4);
    big[0] = '"';
    memset(big + 1, 'x', CFO_RECORD_MAX_STRING + 1);
    strcpy(big + CFO_RECORD_MAX_STRING + 2, "\"");
    expect_record_error("command", big, CFO_ELIMIT, "field 'command' is longer than 8192 bytes");
    big[CFO_RECORD_MAX_STRING + 1] = '"';
    big[CFO_RECORD_MAX_STRING + 2] = '\0';
    expect_record_error("command", big, CFO_OK, NULL);
    free(big);

    /* unknown values nest at most 64 deep */
    for (int depth = 63; depth <= 66; depth++) {
        cfo_buf b;
        cfo_buf_init(&b);
        cfo_buf_puts(&b, "{\"version\":1,\"junk\":");
        for (int i = 0; i < depth; i++)
            cfo_buf_puts(&b, i % 2 ? "{\"k\":" : "[");
        cfo_buf_puts(&b, "0");
        for (int i = depth - 1; i >= 0; i--)
            cfo_buf_puts(&b, i % 2 ? "}" : "]");
        cfo_buf_puts(&b, ",\"records\":[]}");
        if (depth <= 64)
            parse_expect(b.data, CFO_OK, END);
        else
            parse_expect(b.data, CFO_ELIMIT, "nested deeper than 64", END);
        cfo_buf_fini(&b);
    }
    /* far deeper than the limit, unterminated: stops early, no crash */
    char *deep = cfo_xmalloc(1000001);
    memcpy(deep, "{\"a\":", 5);
    memset(deep + 5, '[', 1000000 - 5);
    deep[1000000] = '\0';
    parse_expect(deep, CFO_ELIMIT, "nested deeper than 64", END);
    free(deep);

    /* a findings list: bounded in size and depth like any field */
    cfo_buf list;
    cfo_buf_init(&list);
    cfo_buf_puts(&list, "[");
    for (int i = 0; list.len <= CFO_RECORD_MAX_CRASHES; i++)
        cfo_buf_printf(&list, "%s{\"signature\":\"crash:x:f%d\"}", i ? "," : "", i);
    cfo_buf_puts(&list, "]");
    expect_record_error("crashes", list.data, CFO_ELIMIT,
                        "field 'crashes' is longer than 8192 bytes");
    cfo_buf_fini(&list);
    expect_record_error("crashes", "[{\"a\":[[1]]}]", CFO_ELIMIT,
                        "field 'crashes' is nested deeper than 3");
    expect_record_error("crashes", "[{\"a\":[1]}]", CFO_OK, NULL);
}

/* A findings list is kept as compact JSON and written back as it was read,
 * numbers in their shortest form, so a merge of a merge changes nothing. */
static void test_findings_list_round_trip(void **state)
{
    (void)state;
    char *rec = record_json("crashes", "[ {\"a\" : [1, 2.50, \"x\\u00e9\"], \"b\": null,"
                                       " \"c\": false} , {} ]");
    char *doc = wrap_array(rec);
    cfo_recset *rs = cfo_recset_new();
    cfo_diag d = {{0}};
    cfo_dataset_meta meta;
    assert_int_equal(cfo_dataset_parse(doc, strlen(doc), "in.json", rs, &meta, &d), CFO_OK);
    assert_int_equal(rs->n, 1);
    assert_string_equal(rs->v[0].crashes,
                        "[{\"a\":[1,2.5,\"x\xc3\xa9\"],\"b\":null,\"c\":false},{}]");
    assert_true(rs->v[0].has_usage);
    assert_true(rs->v[0].cpu == 1.5);
    assert_int_equal(rs->v[0].max_rss_kb, 2048);
    cfo_buf out;
    cfo_buf_init(&out);
    cfo_record_write_json(&rs->v[0], &out);
    assert_non_null(
        strstr(out.data, "\"cpu\":1.5,\"max_rss_kb\":2048,\"crashes\":[{\"a\":[1,2.5,"));
    cfo_recset *again = cfo_recset_new();
    char *doc2 = wrap_array(out.data);
    assert_int_equal(cfo_dataset_parse(doc2, strlen(doc2), "out.json", again, &meta, &d), CFO_OK);
    assert_same_records(rs, again);
    free(doc2);
    cfo_recset_destroy(&again);
    cfo_buf_fini(&out);
    cfo_recset_destroy(&rs);
    free(doc);
    free(rec);

    /* cpu without max_rss_kb (or the reverse) is not half kept */
    rec = record_json("max_rss_kb", NULL);
    doc = wrap_array(rec);
    rs = cfo_recset_new();
    assert_int_equal(cfo_dataset_parse(doc, strlen(doc), "in.json", rs, &meta, &d), CFO_OK);
    assert_false(rs->v[0].has_usage);
    cfo_recset_destroy(&rs);
    free(doc);
    free(rec);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    /* the byte offset does not depend on how the input was chunked */
    static const char bad[] = "{\"version\":1,\"records\":[{\"commit\":\"\xe6\x97x\"}]}";
    cfo_recset *rs = cfo_recset_new();
    cfo_diag whole = {{0}}, bytes = {{0}};
    assert_int_equal(cfo_dataset_parse(bad, strlen(bad), "u.json", rs, NULL, &whole), CFO_EPARSE);
    cfo_dataset_parser *p = cfo_dataset_parser_new("u.json", rs);
    cfo_err err = CFO_OK;
    for (size_t i = 0; i < strlen(bad) && err == CFO_OK; i++)
        err = cfo_dataset_parser_feed(p, bad + i, 1, &bytes);
    assert_int_equal(err, CFO_EPARSE);
    assert_string_equal(whole.msg, bytes.msg);
    assert_non_null(strstr(whole.msg, "UTF8"));
    cfo_dataset_parser_destroy(&p);
    cfo_recset_destroy(&rs);

    parse_expect("[{\"target\":\"a\xff"
                 "b\"}]",
                 CFO_EPARSE, "invalid bytes in UTF8 string", "at byte 14", END);
    parse_expect("[{\"target\":\"\xc3\"}]", CFO_EPARSE, "UTF8", "at byte", END);
    parse_expect("{\"version\":1,\"\xe6\x97\":1,\"records\":[]}", CFO_EPARSE, "UTF8", END);
    expect_record_error("target", "\"\xe6\x97\xa5\"", CFO_OK, NULL);
}

/* ---- size -------------------------------------------------------------- */

static void test_large_document(void **state)
{
    (void)state;
    enum { N = 200000 };
    cfo_recset *rs = cfo_recset_new();
    rng_state = 7;
    add_random_records(rs, 1000);
    for (size_t i = 1000; i < N; i++) {
        cfo_record r = rs->v[i % 1000];
        r.count = (int64_t)i;
        cfo_recset_add(rs, &r);
    }
    cfo_buf doc;
    cfo_buf_init(&doc);
    cfo_dataset_write(rs, 32, &doc);

    cfo_recset *back = cfo_recset_new();
    cfo_dataset_meta meta;
    cfo_diag d = {{0}};
    cfo_err err = cfo_dataset_parse(doc.data, doc.len, "big.json", back, &meta, &d);
    if (err != CFO_OK)
        fail_msg("%s", d.msg);
    assert_int_equal(meta.nrecords, N);
    assert_same_records(rs, back);
    cfo_buf_fini(&doc);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&back);
}

/* ---- files ------------------------------------------------------------- */

static void test_parse_file(void **state)
{
    (void)state;
    char *dir = cfo_make_temp_dir("cfo-dataset", NULL);
    assert_non_null(dir);

    /* several chunks' worth */
    rng_state = 99;
    cfo_recset *rs = cfo_recset_new();
    add_random_records(rs, 2000);
    cfo_buf doc;
    cfo_buf_init(&doc);
    cfo_dataset_write(rs, 12, &doc);
    assert_true(doc.len > 3 * 64 * 1024);
    char *path = cfo_xasprintf("%s/data.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(doc.data, 1, doc.len, f), doc.len);
    assert_int_equal(fclose(f), 0);

    cfo_recset *back = cfo_recset_new();
    cfo_dataset_meta meta;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_dataset_parse_file(path, back, &meta, &d), CFO_OK);
    assert_int_equal(meta.window, 12);
    assert_same_records(rs, back);

    /* a truncated file names itself */
    assert_int_equal(truncate(path, (off_t)(doc.len / 2)), 0);
    cfo_recset_clear(back);
    assert_int_equal(cfo_dataset_parse_file(path, back, &meta, &d), CFO_EPARSE);
    assert_non_null(strstr(d.msg, path));
    assert_true(back->n < rs->n);

    char *missing = cfo_xasprintf("%s/nope.json", dir);
    assert_int_equal(cfo_dataset_parse_file(missing, back, &meta, &d), CFO_ENOTFOUND);
    assert_non_null(strstr(d.msg, missing));
    assert_int_equal(cfo_dataset_parse_file(dir, back, &meta, &d), CFO_EIO);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    free(missing);
    free(path);
    free(dir);
    cfo_buf_fini(&doc);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&back);
}

/* A huge string is refused as its bytes stream in, not after the whole of
 * it was buffered: the first megabyte of a 64 MB string already fails. */
static void test_huge_string_refused_while_streaming(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    cfo_dataset_parser *p = cfo_dataset_parser_new("huge.json", rs);
    cfo_diag d = {{0}};
    const char *head = "{\"version\":1,\"window\":32,\"records\":[{\"commit\":\"";
    assert_int_equal(cfo_dataset_parser_feed(p, head, strlen(head), &d), CFO_OK);
    size_t chunk = (size_t)1 << 20;
    char *a = cfo_xmalloc(chunk);
    memset(a, 'a', chunk);
    assert_int_equal(cfo_dataset_parser_feed(p, a, chunk, &d), CFO_EPARSE);
    assert_non_null(strstr(d.msg, "a string longer than"));
    /* Sticky: what follows is not read. */
    assert_int_equal(cfo_dataset_parser_feed(p, a, chunk, &d), CFO_EPARSE);
    free(a);
    cfo_dataset_parser_destroy(&p);
    cfo_recset_destroy(&rs);
}

/* A string at the cap, escaped, across many small chunks, still reads. */
static void test_long_escaped_string_across_chunks(void **state)
{
    (void)state;
    cfo_buf doc;
    cfo_buf_init(&doc);
    cfo_buf_puts(&doc, "{\"version\":1,\"window\":32,\"records\":[{\"commit\":\"");
    for (int i = 0; i < 40; i++)
        cfo_buf_puts(&doc, "0");
    cfo_buf_puts(&doc, "\",\"fuzzer\":\"F\",\"ok\":true,\"count\":1,\"findings\":0,"
                       "\"branch\":\"main\",\"target\":\"");
    for (int i = 0; i < CFO_RECORD_MAX_STRING; i++)
        cfo_buf_puts(&doc, "\\u0041");
    cfo_buf_puts(&doc, "\",\"duration\":1,\"command\":\"c\",\"status\":\"pass\"}]}");
    cfo_recset *rs = cfo_recset_new();
    cfo_dataset_parser *p = cfo_dataset_parser_new("escaped.json", rs);
    cfo_diag d = {{0}};
    for (size_t off = 0; off < doc.len; off += 1000) {
        size_t n = doc.len - off < 1000 ? doc.len - off : 1000;
        if (cfo_dataset_parser_feed(p, doc.data + off, n, &d) != CFO_OK)
            fail_msg("at %zu: %s", off, d.msg);
    }
    if (cfo_dataset_parser_finish(p, NULL, &d) != CFO_OK)
        fail_msg("%s", d.msg);
    assert_int_equal(rs->n, 1);
    assert_int_equal(strlen(rs->v[0].target), CFO_RECORD_MAX_STRING);
    cfo_dataset_parser_destroy(&p);
    cfo_recset_destroy(&rs);
    cfo_buf_fini(&doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_exact),
        cmocka_unit_test(test_write_numbers),
        cmocka_unit_test(test_write_invalid_utf8),
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_one_byte_chunks),
        cmocka_unit_test(test_seed_format_bare_array),
        cmocka_unit_test(test_seed_format_in_document),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_record_errors),
        cmocka_unit_test(test_error_names_record_index),
        cmocka_unit_test(test_document_errors),
        cmocka_unit_test(test_findings_list_round_trip),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_large_document),
        cmocka_unit_test(test_parse_file),
        cmocka_unit_test(test_huge_string_refused_while_streaming),
        cmocka_unit_test(test_long_escaped_string_across_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
