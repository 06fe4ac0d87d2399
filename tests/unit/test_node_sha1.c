/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `rafthttp node`'s SHA-1 and etcd's ID derivation. The SHA-1 vectors are
 * FIPS 180-2's; the ID vectors were printed by etcd 3.4's own code
 * (membership.NewClusterFromURLsMap over types.NewURLsMap).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli/node_sha1.c" /* the CLI is not in the library */

static void sha1_hex(const void *p, size_t n, char out[41])
{
    node_sha1 c;
    uint8_t d[20];
    node_sha1_init(&c);
    node_sha1_update(&c, p, n);
    node_sha1_final(&c, d);
    for (int i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_sha1_known_vectors(void)
{
    char h[41];
    sha1_hex("", 0, h);
    CHECK(strcmp(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709") == 0);
    sha1_hex("abc", 3, h);
    CHECK(strcmp(h, "a9993e364706816aba3e25717850c26c9cd0d89d") == 0);
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha1_hex(two, strlen(two), h);
    CHECK(strcmp(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1") == 0);
}

static void test_sha1_million_a_in_odd_pieces(void)
{
    /* pieces of 1..97 bytes cross every block boundary position */
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    node_sha1 c;
    uint8_t d[20];
    node_sha1_init(&c);
    size_t off = 0, k = 1;
    while (off < 1000000) {
        size_t n = k < 1000000 - off ? k : 1000000 - off;
        node_sha1_update(&c, a + off, n);
        off += n;
        k = k % 97 + 1;
    }
    node_sha1_final(&c, d);
    unsigned char want[20];
    unhex("34aa973cd4c4daa4f61eeb2bdbad27316534016f", want);
    CHECK_MEM(d, 20, want, 20);
    free(a);
}

static void test_sha1_padding_edges(void)
{
    /* 55, 56 and 64 bytes: the length fits, just misses, fills a block */
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
    };
    char buf[64];
    memset(buf, 'a', sizeof(buf));
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char h[41];
        sha1_hex(buf, v[i].n, h);
        CHECK(strcmp(h, v[i].hex) == 0);
    }
}

static void test_etcd_default_member(void)
{
    /* `etcd` with no flags: member 8e9e05c52164694d of cluster cdf818194e3a8c32 */
    const char *urls[] = {"http://localhost:2380"};
    uint64_t id = node_member_id(urls, 1, "etcd-cluster");
    CHECK_EQ_U64(id, 0x8e9e05c52164694dull);
    CHECK_EQ_U64(node_cluster_id(&id, 1), 0xcdf818194e3a8c32ull);
}

static void test_etcd_three_members(void)
{
    const char *u0[] = {"http://10.0.1.10:2380"};
    const char *u1[] = {"http://10.0.1.11:2380"};
    const char *u2[] = {"http://10.0.1.12:2380"};
    uint64_t ids[3] = {node_member_id(u0, 1, "etcd-cluster-1"),
                       node_member_id(u1, 1, "etcd-cluster-1"),
                       node_member_id(u2, 1, "etcd-cluster-1")};
    CHECK_EQ_U64(ids[0], 0x140fedbeeb74765dull);
    CHECK_EQ_U64(ids[1], 0xd5dc5f8d75d04e29ull);
    CHECK_EQ_U64(ids[2], 0x08a0a11c6194fc77ull);
    CHECK_EQ_U64(node_cluster_id(ids, 3), 0xacccc8912db0cd57ull);
}

static void test_etcd_member_urls_sorted(void)
{
    /* two URLs in either order name the same member */
    const char *ab[] = {"http://127.0.0.1:2380", "http://10.0.0.1:2380"};
    const char *ba[] = {"http://10.0.0.1:2380", "http://127.0.0.1:2380"};
    const char *b[] = {"http://127.0.0.1:2381"};
    uint64_t ids[2] = {node_member_id(ab, 2, "tok"), node_member_id(b, 1, "tok")};
    CHECK_EQ_U64(ids[0], 0x38e27575755204fcull);
    CHECK_EQ_U64(node_member_id(ba, 2, "tok"), 0x38e27575755204fcull);
    CHECK_EQ_U64(ids[1], 0x321b4ccd5c32edeaull);
    CHECK_EQ_U64(node_cluster_id(ids, 2), 0xe0792cab305578d8ull);
    uint64_t rev[2] = {ids[1], ids[0]};
    CHECK_EQ_U64(node_cluster_id(rev, 2), 0xe0792cab305578d8ull);
}

int main(void)
{
    TEST(test_sha1_known_vectors);
    TEST(test_sha1_million_a_in_odd_pieces);
    TEST(test_sha1_padding_edges);
    TEST(test_etcd_default_member);
    TEST(test_etcd_three_members);
    TEST(test_etcd_member_urls_sorted);
    return CHECK_DONE();
}
