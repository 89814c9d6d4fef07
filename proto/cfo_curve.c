/* cfo_curve.c -- CURVE key files, socket options and the ZAP handler. */
#include "cfo_curve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "cfo_log.h"
#include "cfo_util.h"

/* A draft option in libzmq 4.3's header, accepted by its library: without it
 * a CURVE server whose ZAP handler is missing lets every client in. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define MAX_ALLOWED_KEYS 100000
/* An unknown key makes the handler read the allow-dir again, at most this
 * often: a flood of strangers costs one directory read a second. */
#define RESCAN_INTERVAL_MS 1000

static bool is_z85_key(const char *s)
{
    static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              ".-:+=^!/*?&<>()[]{}@%$#";
    if (strlen(s) != CFO_CURVE_KEY_LEN)
        return false;
    for (; *s; s++)
        if (strchr(z85, *s) == NULL)
            return false;
    return true;
}

static cfo_err write_key(const char *path, const char *key, mode_t mode, bool force, cfo_diag *d)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, mode);
    if (fd < 0)
        return cfo_diag_set(d, CFO_EIO, "cannot write %s: %s%s", path, strerror(errno),
                            errno == EEXIST ? " (use --force to replace it)" : "");
    /* An existing file keeps its mode through O_TRUNC: set it explicitly. */
    char line[CFO_CURVE_KEY_LEN + 2];
    int n = snprintf(line, sizeof line, "%s\n", key);
    bool ok = fchmod(fd, mode) == 0 && write(fd, line, (size_t)n) == n && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok)
        return cfo_diag_set(d, CFO_EIO, "cannot write %s: %s", path, strerror(e));
    return CFO_OK;
}

cfo_err cfo_curve_keygen(const char *dir, const char *name, bool force, cfo_diag *d)
{
    if (name[0] == '\0' || strchr(name, '/') != NULL || name[0] == '.')
        return cfo_diag_set(d, CFO_EINVAL, "invalid key name '%s'", name);
    char pub[CFO_CURVE_KEY_LEN + 1], sec[CFO_CURVE_KEY_LEN + 1];
    if (zmq_curve_keypair(pub, sec) != 0)
        return cfo_diag_set(d, CFO_EUNSUPPORTED, "this libzmq has no CURVE support: %s",
                            zmq_strerror(errno));
    char *secret_path = cfo_xasprintf("%s/%s.key", dir, name);
    char *public_path = cfo_xasprintf("%s/%s.pub", dir, name);
    cfo_err err = cfo_mkdir_p(dir, d);
    if (err == CFO_OK)
        err = write_key(secret_path, sec, 0600, force, d);
    if (err == CFO_OK) {
        err = write_key(public_path, pub, 0644, force, d);
        if (err != CFO_OK)
            unlink(secret_path);
    }
    memset(sec, 0, sizeof sec);
    free(secret_path);
    free(public_path);
    return err;
}

cfo_err cfo_curve_read_key(const char *path, bool secret, char key[CFO_CURVE_KEY_LEN + 1],
                           cfo_diag *d)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cfo_diag_set(d, errno == ENOENT ? CFO_ENOTFOUND : CFO_EIO, "%s: %s", path,
                            strerror(errno));
    if (secret && (st.st_mode & 077) != 0)
        return cfo_diag_set(d, CFO_EINVAL,
                            "secret key %s is readable by others (mode %03o); chmod 600 it", path,
                            (unsigned)(st.st_mode & 0777));
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_err err = cfo_read_file(path, 4096, &b, d);
    if (err == CFO_OK) {
        size_t n = b.len;
        while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r' || b.data[n - 1] == ' '))
            b.data[--n] = '\0';
        if (!is_z85_key(b.data))
            err = cfo_diag_set(d, CFO_EINVAL, "%s does not hold a Z85 CURVE key (40 characters)",
                               path);
        else
            memcpy(key, b.data, CFO_CURVE_KEY_LEN + 1);
    }
    if (b.data != NULL)
        memset(b.data, 0, b.cap);
    cfo_buf_fini(&b);
    return err;
}

cfo_err cfo_curve_public_of(const char *secret, char key[CFO_CURVE_KEY_LEN + 1], cfo_diag *d)
{
    if (zmq_curve_public(key, secret) != 0)
        return cfo_diag_set(d, CFO_EINVAL, "not a CURVE secret key: %s", zmq_strerror(errno));
    return CFO_OK;
}

static cfo_err setopt(void *sock, int opt, const void *v, size_t len, const char *name, cfo_diag *d)
{
    if (zmq_setsockopt(sock, opt, v, len) != 0)
        return cfo_diag_set(d, CFO_EIO, "cannot set %s: %s", name, zmq_strerror(errno));
    return CFO_OK;
}

cfo_err cfo_curve_server_setup(void *sock, const char *secret, cfo_diag *d)
{
    int one = 1;
    cfo_err err = setopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one, "ZMQ_CURVE_SERVER", d);
    if (err == CFO_OK)
        err =
            setopt(sock, ZMQ_CURVE_SECRETKEY, secret, CFO_CURVE_KEY_LEN, "ZMQ_CURVE_SECRETKEY", d);
    if (err == CFO_OK)
        err = setopt(sock, ZMQ_ZAP_DOMAIN, CFO_ZAP_DOMAIN, strlen(CFO_ZAP_DOMAIN), "ZMQ_ZAP_DOMAIN",
                     d);
    if (err == CFO_OK)
        err = setopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one, "ZMQ_ZAP_ENFORCE_DOMAIN", d);
    return err;
}

cfo_err cfo_curve_client_setup(void *sock, const char *secret, const char *server_public,
                               cfo_diag *d)
{
    char pub[CFO_CURVE_KEY_LEN + 1];
    cfo_err err = cfo_curve_public_of(secret, pub, d);
    if (err == CFO_OK)
        err = setopt(sock, ZMQ_CURVE_SERVERKEY, server_public, CFO_CURVE_KEY_LEN,
                     "ZMQ_CURVE_SERVERKEY", d);
    if (err == CFO_OK)
        err = setopt(sock, ZMQ_CURVE_PUBLICKEY, pub, CFO_CURVE_KEY_LEN, "ZMQ_CURVE_PUBLICKEY", d);
    if (err == CFO_OK)
        err =
            setopt(sock, ZMQ_CURVE_SECRETKEY, secret, CFO_CURVE_KEY_LEN, "ZMQ_CURVE_SECRETKEY", d);
    return err;
}

/* ---- the ZAP handler ---- */

struct cfo_zap {
    char *dir;
    pthread_mutex_t mu;
    char **keys; /* sorted Z85 public keys */
    size_t nkeys;
    void *sock;
    pthread_t thread;
    atomic_bool stop;
    int64_t last_rescan_ms; /* the handler thread's own: when it last re-read dir */
    bool rescanned;         /* whether it has re-read dir at all */
};

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads every DIR/NAME.pub; a file that is not a key is reported and skipped. */
static cfo_err load_keys(const char *dir, char ***out, size_t *n, cfo_diag *d)
{
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return cfo_diag_set(d, CFO_EIO, "cannot read the allow-dir %s: %s", dir, strerror(errno));
    cfo_strv keys;
    cfo_strv_init(&keys);
    struct dirent *de;
    while ((de = readdir(dh)) != NULL && keys.n < MAX_ALLOWED_KEYS) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".pub") != 0 || de->d_name[0] == '.')
            continue;
        char *path = cfo_xasprintf("%s/%s", dir, de->d_name);
        char key[CFO_CURVE_KEY_LEN + 1];
        cfo_diag kd = {{0}};
        if (cfo_curve_read_key(path, false, key, &kd) == CFO_OK)
            cfo_strv_push(&keys, key);
        else
            cfo_warn("allow-dir: skipped %s", kd.msg);
        free(path);
    }
    closedir(dh);
    qsort(keys.v, keys.n, sizeof *keys.v, key_cmp);
    *out = keys.v;
    *n = keys.n;
    return CFO_OK;
}

static void free_keys(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

bool cfo_zap_allows(cfo_zap *z, const char *key)
{
    pthread_mutex_lock(&z->mu);
    const char *k = key;
    bool found = z->nkeys > 0 && bsearch(&k, z->keys, z->nkeys, sizeof *z->keys, key_cmp) != NULL;
    pthread_mutex_unlock(&z->mu);
    return found;
}

cfo_err cfo_zap_reload(cfo_zap *z, size_t *count, cfo_diag *d)
{
    char **keys;
    size_t n;
    cfo_err err = load_keys(z->dir, &keys, &n, d);
    if (err != CFO_OK) {
        /* Fail closed: deleting the folder is how everyone is revoked. */
        keys = NULL;
        n = 0;
    }
    pthread_mutex_lock(&z->mu);
    free_keys(z->keys, z->nkeys);
    z->keys = keys;
    z->nkeys = n;
    pthread_mutex_unlock(&z->mu);
    if (count != NULL)
        *count = n;
    return err;
}

/* Receives one frame into buf (cut to cap); returns its length or -1. */
static int recv_frame(void *sock, char *buf, size_t cap, bool *more)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    size_t n = zmq_msg_size(&m);
    if (n > cap)
        n = cap;
    memcpy(buf, zmq_msg_data(&m), n);
    *more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    return (int)n;
}

static void send_frame(void *sock, const void *data, size_t len, bool more)
{
    zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0);
}

/* A key the handler does not know may have been added to the allow-dir
 * since it was read (a new worker's first start): read it again, unless
 * that was done less than RESCAN_INTERVAL_MS ago, and say whether the key
 * is allowed now. Like SIGHUP, the re-read also drops removed keys, and an
 * allow-dir that is gone or empty revokes every key. */
static bool rescan_allows(cfo_zap *z, const char *key)
{
    int64_t now = cfo_now_ms();
    if (z->rescanned && now - z->last_rescan_ms < RESCAN_INTERVAL_MS)
        return false;
    z->rescanned = true;
    z->last_rescan_ms = now;
    size_t count = 0;
    cfo_diag d = {{0}};
    if (cfo_zap_reload(z, &count, &d) != CFO_OK)
        cfo_warn("allow-dir re-read for an unknown key: %s: every worker key is revoked", d.msg);
    else if (count == 0)
        cfo_warn("allow-dir re-read for an unknown key: it holds no key: every worker key is "
                 "revoked");
    else
        cfo_info("allow-dir re-read for an unknown key: %zu worker key(s) allowed now", count);
    return cfo_zap_allows(z, key);
}

static void handle_request(cfo_zap *z)
{
    /* Frames: version, request id, domain, address, identity, mechanism,
     * credentials... (ZMTP 27/ZAP). */
    char frames[7][256] = {{0}};
    int lens[7] = {0};
    int count = 0;
    bool more = true;
    while (more) {
        char scratch[256];
        int n = recv_frame(z->sock, count < 7 ? frames[count] : scratch, 255, &more);
        if (n < 0)
            return;
        if (count < 7)
            lens[count] = n;
        count++;
    }
    if (count < 6)
        return;
    char mechanism[32] = "";
    snprintf(mechanism, sizeof mechanism, "%.*s", lens[5], frames[5]);
    char address[64] = "";
    snprintf(address, sizeof address, "%.*s", lens[3], frames[3]);
    const char *status = "400", *text = "not allowed";
    char key[CFO_CURVE_KEY_LEN + 1] = "";
    if (strcmp(mechanism, "CURVE") == 0 && count >= 7 && lens[6] == 32) {
        zmq_z85_encode(key, (const uint8_t *)frames[6], 32);
        if (cfo_zap_allows(z, key) || rescan_allows(z, key)) {
            status = "200";
            text = "OK";
        } else {
            cfo_warn("refused a worker from %s: key %s is not in %s", address, key, z->dir);
        }
    } else {
        cfo_warn("refused a %s connection from %s: CURVE keys are required", mechanism, address);
    }
    send_frame(z->sock, "1.0", 3, true);
    send_frame(z->sock, frames[1], (size_t)lens[1], true);
    send_frame(z->sock, status, 3, true);
    send_frame(z->sock, text, strlen(text), true);
    send_frame(z->sock, key, strlen(key), true); /* User-Id: the key it proved */
    send_frame(z->sock, "", 0, false);
}

static void *zap_main(void *arg)
{
    cfo_zap *z = arg;
    while (!atomic_load(&z->stop)) {
        zmq_pollitem_t item = {.socket = z->sock, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&item, 1, 100);
        if (rc > 0)
            handle_request(z);
        else if (rc < 0 && errno != EINTR)
            break;
    }
    return NULL;
}

cfo_err cfo_zap_start(void *zctx, const char *allow_dir, cfo_zap **out, cfo_diag *d)
{
    cfo_zap *z = cfo_xcalloc(1, sizeof *z);
    z->dir = cfo_xstrdup(allow_dir);
    pthread_mutex_init(&z->mu, NULL);
    atomic_init(&z->stop, false);
    cfo_err err = load_keys(allow_dir, &z->keys, &z->nkeys, d);
    if (err == CFO_OK) {
        z->sock = zmq_socket(zctx, ZMQ_REP);
        int zero = 0;
        if (z->sock == NULL || zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
            zmq_bind(z->sock, ZAP_ENDPOINT) != 0)
            err = cfo_diag_set(d, CFO_EIO, "cannot start the ZAP handler: %s", zmq_strerror(errno));
    }
    if (err == CFO_OK && pthread_create(&z->thread, NULL, zap_main, z) != 0)
        err = cfo_diag_set(d, CFO_EIO, "cannot start the ZAP handler thread");
    if (err != CFO_OK) {
        if (z->sock != NULL)
            zmq_close(z->sock);
        free_keys(z->keys, z->nkeys);
        pthread_mutex_destroy(&z->mu);
        free(z->dir);
        free(z);
        return err;
    }
    cfo_info("CURVE: %zu worker key(s) allowed from %s", z->nkeys, allow_dir);
    *out = z;
    return CFO_OK;
}

void cfo_zap_stop(cfo_zap **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfo_zap *z = *self_p;
    atomic_store(&z->stop, true);
    pthread_join(z->thread, NULL);
    zmq_close(z->sock);
    free_keys(z->keys, z->nkeys);
    pthread_mutex_destroy(&z->mu);
    free(z->dir);
    free(z);
    *self_p = NULL;
}
