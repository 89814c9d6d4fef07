/* parser.c -- a reader for RECF files, with two planted bugs for fuzzers to find. */
#include "parser.h"

#include <stdlib.h>
#include <string.h>

#define TYPE_NAME 1
#define TYPE_INT 2
#define TYPE_TAG 3
#define TYPE_INDEX 4

#define TAG_LEN 4
#define INDEX_END 0        /* entry 0 heads the chain, so no entry names it as next */
#define INDEX_CHAIN_MIN 16 /* entries from which an index is walked by its chain */
#define BLOB_KEY 0x5Au

static uint16_t load_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Copies printable text of 1..RECF_NAME_MAX bytes into dst (NUL-terminated);
 * anything else is refused so that names are safe to print. */
static enum recf_status copy_text(char *dst, const uint8_t *src, size_t len)
{
    if (len == 0 || len > RECF_NAME_MAX)
        return RECF_ETEXT;
    for (size_t i = 0; i < len; i++) {
        if (src[i] < 0x20 || src[i] > 0x7e)
            return RECF_ETEXT;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return RECF_OK;
}

enum recf_status recf_parse_header(const uint8_t *buf, size_t len, struct recf_header *out)
{
    memset(out, 0, sizeof(*out));
    if (len < RECF_HEADER_MIN)
        return RECF_ETRUNC;
    if (memcmp(buf, RECF_MAGIC, 4) != 0)
        return RECF_EMAGIC;
    out->version = buf[4];
    out->flags = buf[5];
    out->count = load_be16(buf + 6);
    out->size = RECF_HEADER_MIN;
    if (out->version != 1 && out->version != 2)
        return RECF_EVERSION;
    /* Unknown flags are refused rather than ignored: a newer writer may use
     * them to change the meaning of the records. */
    if (out->flags & ~RECF_FLAGS_KNOWN)
        return RECF_EFLAGS;
    if (out->version == 2) {
        if (len < RECF_HEADER_MIN + 1)
            return RECF_ETRUNC;
        size_t name_len = buf[RECF_HEADER_MIN];
        if (len - (RECF_HEADER_MIN + 1) < name_len)
            return RECF_ETRUNC;
        enum recf_status st = copy_text(out->name, buf + RECF_HEADER_MIN + 1, name_len);
        if (st != RECF_OK)
            return st;
        out->size += 1 + name_len;
    }
    return RECF_OK;
}

/* A "CFO!" blob: a size byte, then that many bytes stored XOR BLOB_KEY. The
 * decoded bytes only feed a checksum, but decoding into a buffer of the
 * declared size is how a real reader would hand them on. */
static enum recf_status parse_blob(const uint8_t *val, size_t vlen, struct recf_summary *sum)
{
    if (vlen < 1)
        return RECF_ELENGTH;
    size_t size = val[0];
    if (size == 0 || vlen - 1 < size)
        return RECF_ELENGTH;
    uint8_t *blob = malloc(size);
    if (blob == NULL)
        return RECF_ELENGTH;
    /* PLANTED BUG (heap-buffer-overflow): the loop runs over every byte left
     * in the record, not over the declared size, so a record carrying more
     * bytes than it declares writes past the end of blob. */
    for (size_t i = 0; i < vlen - 1; i++)
        blob[i] = val[1 + i] ^ BLOB_KEY;
    uint32_t check = 0;
    for (size_t i = 0; i < size; i++)
        check = check * 31u + blob[i];
    free(blob);
    sum->blob_check ^= check;
    return RECF_OK;
}

static enum recf_status parse_tag(const uint8_t *p, size_t len, struct recf_summary *sum)
{
    if (len < TAG_LEN)
        return RECF_ELENGTH;
    sum->tags++;
    /* Only one tag has a structured value; the rest are opaque. The four-byte
     * comparison is what keeps blind mutation away from parse_blob. */
    if (memcmp(p, "CFO!", TAG_LEN) == 0)
        return parse_blob(p + TAG_LEN, len - TAG_LEN, sum);
    return RECF_OK;
}

static enum recf_status parse_index(const uint8_t *p, size_t len, struct recf_summary *sum)
{
    if (len == 0 || len % 2 != 0)
        return RECF_ELENGTH;
    size_t entries = len / 2;
    if (entries < INDEX_CHAIN_MIN) {
        /* A small index is cheaper to scan in order than to follow. */
        for (size_t i = 0; i < entries; i++) {
            unsigned next = p[2 * i];
            if (next >= entries)
                return RECF_EINDEX;
            sum->int_sum += p[2 * i + 1];
        }
        return RECF_OK;
    }
    size_t at = 0, prev = 0;
    /* PLANTED HANG: the walk refuses the two broken chains writers are known
     * to produce, an entry naming itself and one naming the entry it came
     * from, but a longer cycle (1 -> 2 -> 3 -> 1) spins for ever. A correct
     * walk would stop after `entries` steps. */
    for (;;) {
        sum->int_sum += p[2 * at + 1];
        unsigned next = p[2 * at];
        if (next == INDEX_END)
            break;
        if (next >= entries || next == at || next == prev)
            return RECF_EINDEX;
        prev = at;
        at = next;
    }
    return RECF_OK;
}

enum recf_status recf_parse(const uint8_t *buf, size_t len, struct recf_summary *out)
{
    memset(out, 0, sizeof(*out));
    enum recf_status st = recf_parse_header(buf, len, &out->header);
    if (st != RECF_OK)
        return st;
    size_t off = out->header.size;
    for (unsigned n = 0; n < out->header.count; n++) {
        if (len - off < 3)
            return RECF_ETRUNC;
        unsigned type = buf[off];
        size_t plen = load_be16(buf + off + 1);
        off += 3;
        if (len - off < plen)
            return RECF_ETRUNC;
        const uint8_t *p = buf + off;
        switch (type) {
        case TYPE_NAME:
            st = copy_text(out->name, p, plen);
            break;
        case TYPE_INT:
            st = plen == 4 ? RECF_OK : RECF_ELENGTH;
            if (st == RECF_OK)
                out->int_sum += load_be32(p);
            break;
        case TYPE_TAG:
            st = parse_tag(p, plen, out);
            break;
        case TYPE_INDEX:
            /* Version 1 files cannot hold an index, and the flag makes a
             * reader without INDEX support refuse the file up front. */
            if (out->header.version == 2 && (out->header.flags & RECF_FLAG_INDEXED))
                st = parse_index(p, plen, out);
            else
                st = RECF_ETYPE;
            break;
        default:
            if (out->header.flags & RECF_FLAG_LENIENT)
                out->skipped++;
            else
                st = RECF_ETYPE;
            break;
        }
        if (st != RECF_OK)
            return st;
        off += plen;
    }
    return RECF_OK;
}

const char *recf_strerror(enum recf_status st)
{
    switch (st) {
    case RECF_OK:
        return "ok";
    case RECF_ETRUNC:
        return "truncated input";
    case RECF_EMAGIC:
        return "bad magic";
    case RECF_EVERSION:
        return "unknown version";
    case RECF_EFLAGS:
        return "unknown flags";
    case RECF_ETEXT:
        return "bad text";
    case RECF_ETYPE:
        return "unknown record type";
    case RECF_ELENGTH:
        return "bad record length";
    case RECF_EINDEX:
        return "index entry out of range";
    }
    return "unknown status";
}
