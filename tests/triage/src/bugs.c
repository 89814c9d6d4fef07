/* bugs.c -- a fuzz target with one planted bug per first input byte, used to
 * record the sanitizer reports under tests/triage/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static volatile int sink;

__attribute__((noinline)) static void copy_header(const uint8_t *data, size_t size)
{
    char *hdr = malloc(4);
    char out[64];
    memcpy(hdr, "HDR", 4);
    /* reads size bytes from a 4-byte block */
    memcpy(out, hdr, size < sizeof out ? size : sizeof out);
    sink = out[0];
    free(hdr);
}

__attribute__((noinline)) static void store_body(const uint8_t *data, size_t size)
{
    char *body = malloc(size);
    memcpy(body, data, size);
    body[size] = 0;
    sink = body[0];
    free(body);
}

__attribute__((noinline)) static void parse_header(const uint8_t *data, size_t size)
{
    copy_header(data, size);
}

__attribute__((noinline)) static void parse_body(const uint8_t *data, size_t size)
{
    store_body(data, size);
}

__attribute__((noinline)) static void spin(void)
{
    for (;;)
        sink++;
}

__attribute__((noinline)) static void grab(size_t size)
{
    char *p = malloc((size_t)1 << 30);
    if (p)
        p[size] = 1;
    sink = p ? p[size] : 0;
    free(p);
}

__attribute__((noinline)) static void grow(void)
{
    for (int i = 0; i < 100000; i++) {
        char *p = malloc(1 << 20);
        memset(p, i, 1 << 20);
        sink += p[i];
    }
}

__attribute__((noinline)) static void forget(const uint8_t *data, size_t size)
{
    char *p = malloc(size + 16);
    memcpy(p, data, size);
    sink = p[0];
}

__attribute__((noinline)) static int add(int a, int b)
{
    return a + b;
}

__attribute__((noinline)) static void poke(const uint8_t *data)
{
    volatile int *p = (volatile int *)(uintptr_t)(data[1] == 'x' ? 0 : 0);
    *p = 1;
}

__attribute__((noinline)) static int recurse(int n)
{
    volatile char frame[256];
    frame[0] = (char)n;
    return recurse(n + 1) + frame[0];
}

int json_value(const uint8_t *p, size_t n, size_t at);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || data[0] != '!')
        return 0;
    switch (data[1]) {
    case 'A':
        parse_header(data, size);
        break;
    case 'B':
        parse_body(data, size);
        break;
    case 'H':
        spin();
        break;
    case 'M':
        grab(size);
        break;
    case 'R':
        grow();
        break;
    case 'L':
        forget(data, size);
        break;
    case 'U':
        sink = add(0x7fffffff, (int)size);
        break;
    case 'N':
        poke(data);
        break;
    case 'S':
        sink = recurse(0);
        break;
    case 'X':
        abort();
    case 'J':
        sink = json_value(data + 2, size - 2, 0);
        break;
    }
    return 0;
}

/* A small recursive parser with a string scan that runs past the end of its
 * input: one bug, reached at any nesting depth, whose stack differs by how
 * deep the parser had recursed. */
__attribute__((noinline)) static int json_string(const uint8_t *p, size_t n, size_t *at)
{
    size_t i = *at + 1;
    (void)n;
    while (p[i] != '"') /* no bound: reads past the input */
        i++;
    *at = i + 1;
    return (int)i;
}

__attribute__((noinline)) static int json_array(const uint8_t *p, size_t n, size_t at)
{
    return json_value(p, n, at + 1) + 1;
}

__attribute__((noinline)) static int json_object(const uint8_t *p, size_t n, size_t at)
{
    return json_value(p, n, at + 1) + 2;
}

__attribute__((noinline)) int json_value(const uint8_t *p, size_t n, size_t at)
{
    if (at >= n)
        return 0;
    switch (p[at]) {
    case '[':
        return json_array(p, n, at);
    case '{':
        return json_object(p, n, at);
    case '"':
        return json_string(p, n, &at);
    }
    return 0;
}
