/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-1 (FIPS 180-4) and etcd's ID derivation (etcdserver/api/membership:
 * computeMemberId and RaftCluster.genID).
 *
 * SHA-1 is here only because etcd names members with it; nothing relies on
 * it for security, so a small portable version is enough and the CLI does
 * not need libcrypto.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/node.h"

static uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(node_sha1 *c, const uint8_t *p)
{
    uint32_t w[80];
    for (size_t i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & cc) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ cc ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & cc) | (b & d) | (cc & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ cc ^ d;
            k = 0xca62c1d6;
        }
        uint32_t tmp = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = cc;
        cc = rol(b, 30);
        b = a;
        a = tmp;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
}

void node_sha1_init(node_sha1 *c)
{
    static const uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                                   0xc3d2e1f0};
    memcpy(c->h, iv, sizeof(iv));
    c->total = 0;
    c->n = 0;
}

void node_sha1_update(node_sha1 *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    c->total += n;
    while (n) {
        size_t k = 64 - c->n < n ? 64 - c->n : n;
        memcpy(c->blk + c->n, p, k);
        c->n += k;
        p += k;
        n -= k;
        if (c->n == 64) {
            sha1_block(c, c->blk);
            c->n = 0;
        }
    }
}

void node_sha1_final(node_sha1 *c, uint8_t out[20])
{
    uint64_t bits = c->total * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (c->n < 56 ? 56 : 120) - c->n;
    for (int i = 0; i < 8; i++)
        pad[padlen + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    node_sha1_update(c, pad, padlen + 8);
    for (size_t i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

static uint64_t first_u64(const uint8_t d[20])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | d[i];
    return v;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t node_member_id(const char *const *urls, size_t n, const char *token)
{
    const char **sorted = malloc((n ? n : 1) * sizeof(*sorted));
    if (!sorted)
        return 0;
    memcpy(sorted, urls, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_str); /* Go's sort.Strings: bytewise */
    node_sha1 c;
    node_sha1_init(&c);
    for (size_t i = 0; i < n; i++)
        node_sha1_update(&c, sorted[i], strlen(sorted[i]));
    node_sha1_update(&c, token, strlen(token));
    free(sorted);
    uint8_t d[20];
    node_sha1_final(&c, d);
    return first_u64(d);
}

uint64_t node_cluster_id(const uint64_t *ids, size_t n)
{
    uint64_t *sorted = malloc((n ? n : 1) * sizeof(*sorted));
    if (!sorted)
        return 0;
    memcpy(sorted, ids, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_u64);
    node_sha1 c;
    node_sha1_init(&c);
    for (size_t i = 0; i < n; i++) {
        uint8_t be[8];
        for (int k = 0; k < 8; k++)
            be[k] = (uint8_t)(sorted[i] >> (56 - 8 * k));
        node_sha1_update(&c, be, sizeof(be));
    }
    free(sorted);
    uint8_t d[20];
    node_sha1_final(&c, d);
    return first_u64(d);
}
