/* fuzz_proto.c -- libFuzzer target for cfo_msg_decode, the decoder of every
 * message a peer sends over the wire.
 *
 * Input: a 2-byte big-endian word w, then the frames. The header frame is the
 * next (w & 0x7fff) bytes (fewer if the input is shorter); the rest is the
 * payload frame, which is absent when bit 15 of w is set. Each frame is copied
 * into an allocation of its own size, so a read past a frame's end is caught
 * instead of landing in the next frame. A message that decodes must encode,
 * decode again, and encode to the same bytes: the decoder accepts nothing the
 * encoder refuses or changes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfo_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *copy_frame(const uint8_t *p, size_t n)
{
    /* malloc(0) may return NULL; one byte keeps "present but empty" distinct. */
    void *c = cfo_xmalloc(n ? n : 1);
    if (n)
        memcpy(c, p, n);
    return c;
}

static void check_failed(const char *what, const cfo_diag *d)
{
    fprintf(stderr, "fuzz_proto: %s: %s\n", what, d ? d->msg : "");
    abort();
}

/* An empty cfo_buf has no data pointer at all, which memcmp may not see. */
static int same_bytes(const cfo_buf *a, const cfo_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Encode, decode, encode again: both encodings must succeed and agree. */
static void check_roundtrip(const cfo_msg *m)
{
    cfo_diag d = {{0}};
    cfo_buf h1, p1, h2, p2;
    cfo_buf_init(&h1);
    cfo_buf_init(&p1);
    cfo_buf_init(&h2);
    cfo_buf_init(&p2);
    if (cfo_msg_encode(m, &h1, &p1, &d) != CFO_OK)
        check_failed("a decoded message does not encode", &d);
    int with_payload = m->type == CFO_MSG_RESULT;
    cfo_msg back;
    if (cfo_msg_decode(h1.data, h1.len, with_payload ? p1.data : NULL, with_payload ? p1.len : 0,
                       &back, &d) != CFO_OK)
        check_failed("an encoded message does not decode", &d);
    if (back.type != m->type)
        check_failed("the type changed in a round trip", NULL);
    if (cfo_msg_encode(&back, &h2, &p2, &d) != CFO_OK)
        check_failed("a re-decoded message does not encode", &d);
    if (!same_bytes(&h1, &h2) || !same_bytes(&p1, &p2))
        check_failed("encode(decode(encode(m))) differs from encode(m)", NULL);
    cfo_msg_fini(&back);
    cfo_buf_fini(&h1);
    cfo_buf_fini(&p1);
    cfo_buf_fini(&h2);
    cfo_buf_fini(&p2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned w = (unsigned)data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    size_t hlen = w & 0x7fffu;
    if (hlen > size)
        hlen = size;
    int has_payload = (w & 0x8000u) == 0;
    size_t plen = has_payload ? size - hlen : 0;

    void *header = copy_frame(data, hlen);
    void *payload = has_payload ? copy_frame(data + hlen, plen) : NULL;
    cfo_msg m;
    cfo_diag d = {{0}};
    if (cfo_msg_decode(header, hlen, payload, plen, &m, &d) == CFO_OK) {
        check_roundtrip(&m);
        cfo_msg_fini(&m);
    } else if (d.msg[0] == '\0') {
        check_failed("a rejected message has no reason", NULL);
    }
    free(header);
    free(payload);
    return 0;
}
