/* session.c -- a tiny key store driven one command per input, whose state
 * outlives each input: the way a persistent-mode target keeps a connection
 * or a cache between the inputs one process runs.
 *
 *   K<bytes>  set the key (replaces the old one)
 *   D         drop the key
 *   U         use the key: add up its bytes into the session's checksum
 *   anything else: ignored
 *
 * The planted bug: D frees the key but leaves the pointer, so a U after a
 * K and a D reads freed memory. A U alone, or a K then a U, is fine: the
 * crash needs the state two earlier inputs built. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *key;
static size_t key_len;
static volatile unsigned checksum;

static void session_set(const uint8_t *data, size_t size)
{
    free(key);
    key = malloc(size + 1);
    if (key == NULL)
        return;
    memcpy(key, data, size);
    key[size] = '\0';
    key_len = size;
}

static void session_drop(void)
{
    free(key); /* the bug: key still points at the freed block */
}

static void session_use(void)
{
    if (key == NULL)
        return;
    for (size_t i = 0; i < key_len; i++)
        checksum += (unsigned char)key[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0]) {
    case 'K':
        if (size > 1)
            session_set(data + 1, size - 1);
        break;
    case 'D':
        session_drop();
        break;
    case 'U':
        session_use();
        break;
    default:
        break;
    }
    return 0;
}
