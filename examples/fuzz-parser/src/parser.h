/* parser.h -- a reader for RECF, a small binary record format. */
#ifndef RECF_PARSER_H
#define RECF_PARSER_H

#include <stddef.h>
#include <stdint.h>

/*
 * Layout (all integers big-endian):
 *
 *   header   "RECF" version:u8 flags:u8 count:u16
 *            version 2 adds  name_len:u8 name[name_len]   (printable ASCII)
 *   record   type:u8 length:u16 payload[length]           (count times)
 *
 * Record types:
 *   1 NAME   printable text, 1..RECF_NAME_MAX bytes
 *   2 INT    a u32 added to the running sum
 *   3 TAG    a 4-byte tag and a value; tag "CFO!" carries a sized blob:
 *            size:u8 then size bytes, each stored XOR 0x5A
 *   4 INDEX  version 2 with RECF_FLAG_INDEXED only: entries of two bytes,
 *            next:u8 value:u8 (next is an entry number, 0 ends the chain);
 *            an index of 16 entries or more is walked from entry 0 along
 *            next, a smaller one scanned in order; each value visited is
 *            added to the sum
 * Other types are an error unless the header sets RECF_FLAG_LENIENT.
 */

#define RECF_MAGIC "RECF"
#define RECF_HEADER_MIN 8
#define RECF_NAME_MAX 32
#define RECF_FLAG_LENIENT 0x01u /* skip unknown record types */
#define RECF_FLAG_INDEXED 0x02u /* the file holds INDEX records (version 2) */
#define RECF_FLAGS_KNOWN (RECF_FLAG_LENIENT | RECF_FLAG_INDEXED)

enum recf_status {
    RECF_OK = 0,
    RECF_ETRUNC,   /* input ends inside a header or record */
    RECF_EMAGIC,   /* not a RECF file */
    RECF_EVERSION, /* unknown version */
    RECF_EFLAGS,   /* a flag bit this reader does not know */
    RECF_ETEXT,    /* a name or text that is empty, too long or not printable */
    RECF_ETYPE,    /* unknown record type in strict mode */
    RECF_ELENGTH,  /* a payload length that does not suit its type */
    RECF_EINDEX,   /* an INDEX entry pointing outside the record */
};

struct recf_header {
    unsigned version;
    unsigned flags;
    unsigned count;               /* records that follow */
    char name[RECF_NAME_MAX + 1]; /* version 2 only; "" otherwise */
    size_t size;                  /* bytes the header occupies */
};

struct recf_summary {
    struct recf_header header;
    char name[RECF_NAME_MAX + 1]; /* the last NAME record */
    uint64_t int_sum;             /* INT records and INDEX values */
    unsigned tags;                /* TAG records seen */
    uint32_t blob_check;          /* checksum of decoded "CFO!" blobs */
    unsigned skipped;             /* unknown records skipped in lenient mode */
};

/* Parses the header at the start of buf into *out. */
enum recf_status recf_parse_header(const uint8_t *buf, size_t len, struct recf_header *out);

/* Parses a whole file into *out. Allocates nothing that outlives the call. */
enum recf_status recf_parse(const uint8_t *buf, size_t len, struct recf_summary *out);

/* A short English description of a status. */
const char *recf_strerror(enum recf_status st);

#endif
