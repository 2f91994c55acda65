/*
 * sign.c - HMAC-SHA256 signatures: the one escalator puts on what it sends,
 * and Zendesk's on what it receives (see notify.h).
 */
#include "notify.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/*
 * Each thread keeps one HMAC-SHA256 context and keys it again for every
 * message: OpenSSL's one-shot HMAC() looks the algorithms up and builds a
 * context each time, 2.1 us a call here against 0.7 us. The planner of a
 * firing's or a write's notifications hashes each delivery's fact with it.
 */
static pthread_once_t mac_once = PTHREAD_ONCE_INIT;
static pthread_key_t mac_key;
static EVP_MAC *mac_hmac; /* NULL: the one-shot HMAC() only */

static void mac_ctx_free(void *ctx)
{
    EVP_MAC_CTX_free(ctx);
}

static void mac_init(void)
{
    if (pthread_key_create(&mac_key, mac_ctx_free) == 0)
        mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* The calling thread's context, digest set; NULL when it cannot be made. */
static EVP_MAC_CTX *thread_mac(void)
{
    pthread_once(&mac_once, mac_init);
    if (!mac_hmac)
        return NULL;
    EVP_MAC_CTX *ctx = pthread_getspecific(mac_key);
    if (ctx)
        return ctx;
    ctx = EVP_MAC_CTX_new(mac_hmac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end()};
    if (!ctx || !EVP_MAC_CTX_set_params(ctx, params) ||
        pthread_setspecific(mac_key, ctx) != 0) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void notify_hmac_sha256(const char *key, size_t key_len, const void *msg,
                        size_t len, unsigned char out[32])
{
    EVP_MAC_CTX *ctx = thread_mac();
    size_t n = 0;
    /* A NULL key would keep the context's last one: the empty key instead. */
    const unsigned char *k = key ? (const unsigned char *)key : (const unsigned char *)"";
    if (ctx && EVP_MAC_init(ctx, k, key ? key_len : 0, NULL) &&
        EVP_MAC_update(ctx, msg, len) && EVP_MAC_final(ctx, out, &n, 32) && n == 32)
        return;
    unsigned int m = 32;
    if (!HMAC(EVP_sha256(), k, key ? (int)key_len : 0, msg, len, out, &m))
        memset(out, 0, 32);
}

void notify_base64(const unsigned char *data, size_t len, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* HMAC-SHA256 of prefix followed by body. */
static int mac2(const char *key, const char *prefix, size_t plen, const char *body,
                size_t len, unsigned char out[32])
{
    unsigned char *buf = malloc(plen + len + 1);
    if (!buf)
        return -1;
    memcpy(buf, prefix, plen);
    if (len)
        memcpy(buf + plen, body, len);
    notify_hmac_sha256(key, strlen(key), buf, plen + len, out);
    free(buf);
    return 0;
}

void notify_sign(const char *secret, int64_t timestamp, const char *body,
                 size_t len, char *out, size_t size)
{
    char ts[32];
    int tl = snprintf(ts, sizeof(ts), "%" PRId64 ".", timestamp);
    unsigned char mac[32];
    if (mac2(secret, ts, (size_t)tl, body, len, mac) != 0)
        memset(mac, 0, sizeof(mac));
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    snprintf(out, size, "t=%" PRId64 ",v1=%s", timestamp, hex);
}

bool notify_zendesk_verify(const char *secret, const char *timestamp,
                           const char *body, size_t len, const char *signature)
{
    if (!secret || !*secret || !timestamp || !signature)
        return false;
    unsigned char mac[32];
    if (mac2(secret, timestamp, strlen(timestamp), body, len, mac) != 0)
        return false;
    char want[48];
    notify_base64(mac, 32, want);
    size_t wl = strlen(want);
    return strlen(signature) == wl && CRYPTO_memcmp(want, signature, wl) == 0;
}
