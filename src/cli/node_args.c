/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `rafthttp node` flags: parsing, validation and etcd's --initial-cluster
 * derivation. Everything wrong with the command line is found here, before
 * the transport exists, and reported as one line on stderr (exit 2).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/node.h"
#include "http/http.h"
#include "json/json.h"
#include "rafthttp/transport.h"
#include "json/msg_json.h"

#define CMD "node"

/* etcd's defaults (embed/config.go, version/version.go). */
#define NODE_DEFAULT_TOKEN "etcd-cluster"
#define NODE_DEFAULT_SERVER_VERSION "3.4.23"
#define NODE_DEFAULT_MIN_CLUSTER_VERSION "3.0.0"
/* The transport keeps version strings in 32-byte buffers. */
#define NODE_MAX_VERSION_LEN 31

/* ---- string vectors ---------------------------------------------------------- */

typedef struct strv {
    char **v;  /* owned strings */
    size_t n;
} strv;

static bool strv_push_n(strv *s, const char *p, size_t len)
{
    char **nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
    if (!nv)
        return false;
    s->v = nv;
    char *c = malloc(len + 1);
    if (!c)
        return false;
    memcpy(c, p, len);
    c[len] = 0;
    s->v[s->n++] = c;
    return true;
}

static bool strv_push(strv *s, const char *p)
{
    return strv_push_n(s, p, strlen(p));
}

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int oom(void)
{
    fprintf(stderr, "rafthttp " CMD ": out of memory\n");
    return CLI_EXIT_FAIL;
}

/* ---- URLs --------------------------------------------------------------------- */

/* Characters Go's url.Parse refuses in a host, or that no peer URL has. */
static bool bad_host_char(unsigned char c)
{
    return c <= ' ' || c >= 0x7f || strchr("<>\"{}|\\^`@/?#", c) != NULL;
}

int node_check_url(const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "unixs://", 8) == 0 || strncmp(url, "unix://", 7) == 0) {
        snprintf(err, errlen, "%s: unix sockets are not supported", url);
        return -1;
    }
    bool tls = strncmp(url, "https://", 8) == 0;
    if (!tls && strncmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "%s: want http://HOST:PORT or https://HOST:PORT", url);
        return -1;
    }
    const char *a = url + (tls ? 8 : 7);
    size_t alen = strcspn(a, "/?#");
    if (a[alen] != 0) {
        snprintf(err, errlen, "%s: a peer URL has no path, query or fragment", url);
        return -1;
    }
    const char *colon;
    if (a[0] == '[') {
        const char *rb = strchr(a, ']');
        if (!rb || rb == a + 1) {
            snprintf(err, errlen, "%s: bad [IPv6] host", url);
            return -1;
        }
        for (const char *p = a + 1; p < rb; p++)
            if (!strchr("0123456789abcdefABCDEF:.%", *p)) {
                snprintf(err, errlen, "%s: bad [IPv6] host", url);
                return -1;
            }
        colon = rb[1] == ':' ? rb + 1 : NULL;
        if (!colon && rb[1]) {
            snprintf(err, errlen, "%s: bad [IPv6] host", url);
            return -1;
        }
    } else {
        colon = strrchr(a, ':');
        if (colon && memchr(a, ':', (size_t)(colon - a))) {
            snprintf(err, errlen, "%s: an IPv6 host goes in brackets", url);
            return -1;
        }
        for (const char *p = a; p < (colon ? colon : a + alen); p++)
            if (bad_host_char((unsigned char)*p)) {
                snprintf(err, errlen, "%s: bad host", url);
                return -1;
            }
        if (colon == a || alen == 0) {
            snprintf(err, errlen, "%s: missing host", url);
            return -1;
        }
    }
    if (!colon) { /* etcd: URL address does not have the form "host:port" */
        snprintf(err, errlen, "%s: want http://HOST:PORT (the port is required)", url);
        return -1;
    }
    const char *port = colon + 1;
    size_t pl = strlen(port);
    if (pl == 0 || pl > 5 || strspn(port, "0123456789") != pl || atoi(port) > 65535) {
        snprintf(err, errlen, "%s: bad port", url);
        return -1;
    }
    return 0;
}

bool node_url_with_port(const char *url, int port, char *out, size_t cap)
{
    const char *a = strstr(url, "://");
    a = a ? a + 3 : url;
    size_t alen = strcspn(a, "/?#");
    const char *colon = NULL;
    if (a[0] == '[') {
        const char *rb = memchr(a, ']', alen);
        if (rb && rb + 1 < a + alen && rb[1] == ':')
            colon = rb + 1;
    } else {
        for (const char *p = a + alen; p > a; p--)
            if (p[-1] == ':') {
                colon = p - 1;
                break;
            }
    }
    const char *tail = a + alen;
    size_t head = colon ? (size_t)(colon - url) : (size_t)(tail - url);
    int n = snprintf(out, cap, "%.*s:%d%s", (int)head, url, port, tail);
    return n >= 0 && (size_t)n < cap;
}

/* ---- durations ------------------------------------------------------------------ */

bool node_parse_duration(const char *s, int64_t *ns)
{
    static const struct {
        const char *name;
        double ns;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
                 {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return true;
    }
    if (!*s)
        return false;
    double total = 0;
    while (*s) {
        const char *start = s;
        double v = 0, scale = 1;
        bool digits = false;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (*s++ - '0');
            digits = true;
        }
        if (*s == '.') {
            s++;
            while (*s >= '0' && *s <= '9') {
                scale /= 10;
                v += (*s++ - '0') * scale;
                digits = true;
            }
        }
        if (!digits || s == start)
            return false;
        size_t ul = 0;
        double mult = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t l = strlen(units[i].name);
            if (strncmp(s, units[i].name, l) == 0 && l > ul) {
                ul = l;
                mult = units[i].ns;
            }
        }
        if (!ul)
            return false; /* Go: missing unit */
        s += ul;
        total += v * mult;
        if (total > 9.2e18)
            return false;
    }
    *ns = (int64_t)(neg ? -total : total);
    return true;
}

/* ---- small value parsers ------------------------------------------------------------ */

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s)
{
    static const char *yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(s, yes[i]) == 0)
            return 1;
        if (strcmp(s, no[i]) == 0)
            return 0;
    }
    return -1;
}

/* A boolean flag as Go's flag package takes it: -name, --name or
 * --name=BOOL (never a separate value). 1 matched, 0 not, -1 after a usage
 * error. */
static int bool_flag(const char *arg, const char *name, bool *out)
{
    const char *a = arg;
    if (a[0] != '-')
        return 0;
    a += a[1] == '-' ? 2 : 1;
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0 || (a[n] != 0 && a[n] != '='))
        return 0;
    if (a[n] == 0) {
        *out = true;
        return 1;
    }
    int v = parse_bool(a + n + 1);
    if (v < 0) {
        cli_usage_error(CMD, "--%s: \"%s\" is not a boolean", name, a + n + 1);
        return -1;
    }
    *out = v;
    return 1;
}

/* Go-style duration -> positive whole milliseconds (sub-millisecond rounds
 * up: the transport counts in ms). */
static int duration_ms_flag(const char *name, const char *val, int *out)
{
    int64_t ns;
    if (!node_parse_duration(val, &ns))
        return cli_usage_error(CMD, "--%s: \"%s\" is not a duration (e.g. 1s, 100ms)",
                               name, val);
    if (ns <= 0)
        return cli_usage_error(CMD, "--%s: must be positive, not %s", name, val);
    int64_t ms = (ns + 999999) / 1000000;
    if (ms > INT_MAX)
        return cli_usage_error(CMD, "--%s: %s is too long", name, val);
    *out = (int)ms;
    return 0;
}

/* A byte count: digits, optionally followed by KiB, MiB or GiB. */
static int bytes_flag(const char *name, const char *val, uint64_t min, uint64_t max,
                      uint64_t *out)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}};
    size_t d = strspn(val, "0123456789");
    if (d == 0 || d > 12)
        return cli_usage_error(CMD, "--%s: \"%s\" is not a byte count (e.g. 65536, 64KiB, "
                               "512MiB)", name, val);
    for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
        if (strcmp(val + d, units[k].suffix) != 0)
            continue;
        uint64_t v = strtoull(val, NULL, 10) << units[k].shift;
        if (v < min || v > max)
            return cli_usage_error(CMD, "--%s: %s is out of range (%llu to %llu bytes)", name,
                                   val, (unsigned long long)min, (unsigned long long)max);
        *out = v;
        return 0;
    }
    return cli_usage_error(CMD, "--%s: \"%s\" is not a byte count (e.g. 65536, 64KiB, "
                           "512MiB)", name, val);
}

/* One of two words: *out is whether it is `on` (not `off`). */
static int either_flag(const char *name, const char *val, const char *off, const char *on,
                       bool *out)
{
    if (strcmp(val, on) != 0 && strcmp(val, off) != 0)
        return cli_usage_error(CMD, "--%s: \"%s\" is not %s or %s", name, val, off, on);
    *out = strcmp(val, on) == 0;
    return 0;
}

/* A count: digits only, min..max. */
static int count_flag(const char *name, const char *val, uint64_t min, uint64_t max,
                      uint64_t *out)
{
    size_t d = strspn(val, "0123456789");
    uint64_t v = d && d <= 12 && !val[d] ? strtoull(val, NULL, 10) : 0;
    if (!d || d > 12 || val[d])
        return cli_usage_error(CMD, "--%s: \"%s\" is not a count", name, val);
    if (v < min || v > max)
        return cli_usage_error(CMD, "--%s: %s is out of range (%llu to %llu)", name, val,
                               (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return 0;
}

/* Strict semver X.Y.Z[-pre][+build], as Go's semver.NewVersion. */
static bool version_ok(const char *v)
{
    size_t len = strlen(v);
    if (len == 0 || len > NODE_MAX_VERSION_LEN)
        return false;
    const char *p = v;
    for (int k = 0; k < 3; k++) {
        size_t d = strspn(p, "0123456789");
        if (d == 0 || (d > 1 && p[0] == '0'))
            return false;
        p += d;
        if (k < 2) {
            if (*p != '.')
                return false;
            p++;
        }
    }
    if (*p == '-' || *p == '+') {
        p++;
        size_t r = strspn(p, "0123456789abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ-.+");
        return r > 0 && p[r] == 0;
    }
    return *p == 0;
}

static int version_flag(const char *name, const char *val, const char **out)
{
    if (!version_ok(val))
        return cli_usage_error(CMD, "--%s: \"%s\" is not a version X.Y.Z", name, val);
    *out = val;
    return 0;
}

static int log_level_of(const char *s)
{
    for (int l = RH_LOG_DEBUG; l <= RH_LOG_ERROR; l++)
        if (strcmp(s, rh_log_level_name(l)) == 0)
            return l;
    if (strcmp(s, "warning") == 0)
        return RH_LOG_WARN;
    return -1;
}

/* ---- peers ------------------------------------------------------------------------- */

static void peer_arg_free(node_peer_arg *p)
{
    strv s = {p->urls, p->n_urls};
    strv_free(&s);
    p->urls = NULL;
    p->n_urls = 0;
}

/* Splits "URL[,URL...]" into s, checking each. 0 or an exit status. */
static int split_urls(const char *what, const char *list, strv *s)
{
    const char *p = list;
    for (;;) {
        size_t l = strcspn(p, ",");
        if (l == 0)
            return cli_usage_error(CMD, "%s: empty URL in \"%s\"", what, list);
        if (!strv_push_n(s, p, l))
            return oom();
        char err[256];
        if (node_check_url(s->v[s->n - 1], err, sizeof(err)))
            return cli_usage_error(CMD, "%s: %s", what, err);
        if (!p[l])
            return 0;
        p += l + 1;
    }
}

static int add_peer_arg(node_args *a, uint64_t id, strv *urls)
{
    node_peer_arg *np = realloc(a->peers, (a->n_peers + 1) * sizeof(*np));
    if (!np)
        return oom();
    a->peers = np;
    a->peers[a->n_peers++] = (node_peer_arg){.id = id, .urls = urls->v, .n_urls = urls->n};
    urls->v = NULL;
    urls->n = 0;
    return 0;
}

static node_peer_arg *find_peer_arg(node_args *a, uint64_t id)
{
    for (size_t i = 0; i < a->n_peers; i++)
        if (a->peers[i].id == id)
            return &a->peers[i];
    return NULL;
}

/* --peer ID=URL[,URL...] */
static int peer_flag(node_args *a, const char *val)
{
    const char *eq = strchr(val, '=');
    uint64_t id;
    if (!eq || eq == val)
        return cli_usage_error(CMD, "--peer \"%s\": want ID=URL[,URL...]", val);
    if (!rh_id_parse_hex(val, (size_t)(eq - val), &id) || id == 0)
        return cli_usage_error(CMD, "--peer \"%s\": \"%.*s\" is not a member ID (hex as "
                               "etcd prints IDs)", val, (int)(eq - val), val);
    if (find_peer_arg(a, id))
        return cli_usage_error(CMD, "--peer: member %llx given twice",
                               (unsigned long long)id);
    strv urls = {0};
    int rc = split_urls("--peer", eq + 1, &urls);
    if (!rc)
        rc = add_peer_arg(a, id, &urls);
    strv_free(&urls);
    return rc;
}

/* ---- --initial-cluster ------------------------------------------------------------- */

typedef struct ic_member {
    char *name;  /* owned */
    strv urls;
    uint64_t id;
} ic_member;

static void ic_free(ic_member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].name);
        strv_free(&m[i].urls);
    }
    free(m);
}

/* etcd's NewURLsMap: "name=URL,name=URL,..."; a name given again adds a URL
 * to that member. We also take a bare URL as another URL of the member
 * before it ("n1=URL,URL,n2=URL"), as the spec writes it. */
static int parse_initial_cluster(const char *ic, ic_member **out, size_t *n_out)
{
    ic_member *m = NULL;
    size_t n = 0;
    int rc = 0;
    const char *p = ic;
    ic_member *cur = NULL;
    while (*p) {
        size_t l = strcspn(p, ",");
        char item[1024];
        if (l >= sizeof(item)) {
            rc = cli_usage_error(CMD, "--initial-cluster: item too long");
            goto fail;
        }
        memcpy(item, p, l);
        item[l] = 0;
        p += l + (p[l] == ',');
        if (l == 0)
            continue;
        const char *url = item;
        if (strncmp(item, "http://", 7) != 0 && strncmp(item, "https://", 8) != 0) {
            char *eq = strchr(item, '=');
            if (!eq || eq == item) {
                rc = cli_usage_error(CMD, "--initial-cluster: \"%s\": want NAME=URL", item);
                goto fail;
            }
            *eq = 0;
            url = eq + 1;
            cur = NULL;
            for (size_t i = 0; i < n; i++)
                if (strcmp(m[i].name, item) == 0)
                    cur = &m[i];
            if (!cur) {
                ic_member *nm = realloc(m, (n + 1) * sizeof(*nm));
                if (!nm) {
                    rc = oom();
                    goto fail;
                }
                m = nm;
                cur = &m[n++];
                memset(cur, 0, sizeof(*cur));
                if (!(cur->name = strdup(item))) {
                    rc = oom();
                    goto fail;
                }
            }
        } else if (!cur) {
            rc = cli_usage_error(CMD, "--initial-cluster: \"%s\": want NAME=URL", item);
            goto fail;
        }
        char err[256];
        if (node_check_url(url, err, sizeof(err))) {
            rc = cli_usage_error(CMD, "--initial-cluster: %s", err);
            goto fail;
        }
        if (!strv_push(&cur->urls, url)) {
            rc = oom();
            goto fail;
        }
    }
    if (n == 0) {
        rc = cli_usage_error(CMD, "--initial-cluster: no members");
        goto fail;
    }
    *out = m;
    *n_out = n;
    return 0;
fail:
    ic_free(m, n);
    return rc;
}

static bool copy_strv(strv *dst, const strv *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (!strv_push(dst, src->v[i]))
            return false;
    return true;
}

/* etcd's GET /members body: the members sorted by ID, as membership.Member
 * encodes (id as a number, peerURLs, name; no client URLs known here). */
static char *members_json(const ic_member *m, size_t n)
{
    const ic_member **order = calloc(n ? n : 1, sizeof(*order));
    if (!order)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t k = i;
        for (; k > 0 && order[k - 1]->id > m[i].id; k--)
            order[k] = order[k - 1];
        order[k] = &m[i];
    }
    rh_buf b;
    rh_buf_init(&b);
    rh_buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        rh_buf_puts(&b, i ? ",{\"id\":" : "{\"id\":");
        rh_json_put_u64(&b, order[i]->id);
        rh_buf_puts(&b, ",\"peerURLs\":[");
        for (size_t u = 0; u < order[i]->urls.n; u++) {
            if (u)
                rh_buf_putc(&b, ',');
            rh_json_put_string(&b, order[i]->urls.v[u], strlen(order[i]->urls.v[u]));
        }
        rh_buf_puts(&b, "],\"name\":");
        rh_json_put_string(&b, order[i]->name, strlen(order[i]->name));
        rh_buf_putc(&b, '}');
    }
    rh_buf_puts(&b, "]\n");
    rh_buf_putc(&b, 0);
    free(order);
    if (b.failed) { /* out of memory on the way */
        rh_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Fills what --name/--initial-cluster/--initial-cluster-token imply and the
 * flags left unset: id, cluster ID, peers (explicit --peer wins by ID),
 * listen and advertise (the member's own URLs). */
static int derive(node_args *a, const char *name, const char *ic, const char *token,
                  bool has_id, bool has_cid, strv *listen, strv *advertise)
{
    ic_member *m = NULL;
    size_t n = 0;
    int rc = parse_initial_cluster(ic, &m, &n);
    if (rc)
        return rc;
    uint64_t *ids = calloc(n ? n : 1, sizeof(*ids));
    ic_member *self = NULL;
    if (!ids) {
        rc = oom();
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        m[i].id = node_member_id((const char *const *)m[i].urls.v, m[i].urls.n, token);
        if (!m[i].id) {
            rc = oom();
            goto done;
        }
        for (size_t k = 0; k < i; k++)
            if (m[k].id == m[i].id) {
                rc = cli_usage_error(CMD, "--initial-cluster: members %s and %s have the "
                                     "same URLs", m[k].name, m[i].name);
                goto done;
            }
        ids[i] = m[i].id;
        if (strcmp(m[i].name, name) == 0)
            self = &m[i];
    }
    if (!self) {
        rc = cli_usage_error(CMD, "--name %s: not a member of --initial-cluster", name);
        goto done;
    }
    if (!(a->members_json = members_json(m, n))) {
        rc = oom();
        goto done;
    }
    if (!has_id)
        a->id = self->id;
    if (!has_cid)
        a->cluster_id = node_cluster_id(ids, n);
    for (size_t i = 0; i < n; i++) {
        if (&m[i] == self || m[i].id == a->id || find_peer_arg(a, m[i].id))
            continue;
        strv urls = {0};
        if (!copy_strv(&urls, &m[i].urls)) {
            strv_free(&urls);
            rc = oom();
            goto done;
        }
        rc = add_peer_arg(a, m[i].id, &urls);
        strv_free(&urls); /* empty unless add_peer_arg failed */
        if (rc)
            goto done;
    }
    if (!listen->n && !copy_strv(listen, &self->urls)) {
        rc = oom();
        goto done;
    }
    if (!advertise->n && !copy_strv(advertise, &self->urls))
        rc = oom();
done:
    free(ids);
    ic_free(m, n);
    return rc;
}

/* ---- the command line ------------------------------------------------------------------ */

void node_args_free(node_args *a)
{
    strv l = {a->listen, a->n_listen}, ad = {a->advertise, a->n_advertise};
    strv_free(&l);
    strv_free(&ad);
    for (size_t i = 0; i < a->n_peers; i++)
        peer_arg_free(&a->peers[i]);
    free(a->peers);
    free(a->members_json);
    memset(a, 0, sizeof(*a));
}

static int check_url_list(const char *what, const strv *s)
{
    for (size_t i = 0; i < s->n; i++) {
        char err[256];
        if (node_check_url(s->v[i], err, sizeof(err)))
            return cli_usage_error(CMD, "%s: %s", what, err);
    }
    return 0;
}

/* mkdir -p for --snap-dir. */
static int make_dir(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf))
        return cli_usage_error(CMD, "--snap-dir: bad path \"%s\"", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return cli_usage_error(CMD, "--snap-dir: mkdir %s: %s", buf, strerror(errno));
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_usage_error(CMD, "--snap-dir: %s is not a directory", path);
    return 0;
}

static bool is_https(const char *url)
{
    return strncmp(url, "https://", 8) == 0;
}

/* TLS flags need a certificate; https:// URLs need TLS. The rest (a key
 * with the certificate, allowed CN or hostname, loadable files) is the
 * transport's to check (rhi_tls_new), which the node reports the same way. */
static int check_tls_args(const node_args *a, const strv *listen, const strv *advertise)
{
    const rh_tls_config *c = &a->tls;
    bool cert = c->cert_file && *c->cert_file;
    if (!cert && (c->key_file || c->trusted_ca_file || c->client_cert_auth || c->allowed_cn ||
                  c->allowed_hostname || c->crl_file || c->cipher_suites || c->min_version ||
                  c->max_version))
        return cli_usage_error(CMD, "peer TLS flags need --cert-file and --key-file");
    if (cert)
        return 0;
    const char *https = NULL;
    for (size_t i = 0; i < listen->n && !https; i++)
        if (is_https(listen->v[i]))
            https = listen->v[i];
    for (size_t i = 0; i < advertise->n && !https; i++)
        if (is_https(advertise->v[i]))
            https = advertise->v[i];
    for (size_t i = 0; i < a->n_peers && !https; i++)
        for (size_t k = 0; k < a->peers[i].n_urls && !https; k++)
            if (is_https(a->peers[i].urls[k]))
                https = a->peers[i].urls[k];
    if (https)
        return cli_usage_error(CMD, "%s: https:// needs peer TLS (--cert-file and --key-file)",
                               https);
    return 0;
}

int node_parse_args(int argc, char **argv, node_args *a, bool *done)
{
    /* peer TLS: the spec's names and etcd's --peer-* ones */
    static const char *const tls_flags[] = {"cert-file",     "key-file",         "trusted-ca-file",
                                            "allowed-cn",    "allowed-hostname", "crl-file",
                                            "cipher-suites", "tls-min-version",  "tls-max-version"};
    memset(a, 0, sizeof(*a));
    const char **tls_vals[] = {&a->tls.cert_file,     &a->tls.key_file,
                               &a->tls.trusted_ca_file, &a->tls.allowed_cn,
                               &a->tls.allowed_hostname, &a->tls.crl_file,
                               &a->tls.cipher_suites, &a->tls.min_version,
                               &a->tls.max_version};
    a->server_version = NODE_DEFAULT_SERVER_VERSION;
    a->min_cluster_version = NODE_DEFAULT_MIN_CLUSTER_VERSION;
    a->dial_timeout_ms = 1000;
    a->dial_retry_ms = 100;
    a->head_timeout_ms = RH_DEFAULT_HEAD_TIMEOUT_MS;
    a->handshake_timeout_ms = RH_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    a->max_handshakes = RH_DEFAULT_MAX_HANDSHAKES;
    a->max_header_bytes = RH_HTTP_DEFAULT_MAX_HEAD;
    a->max_body_bytes = RH_DEFAULT_MAX_BODY;
    a->metrics = true;
    a->log_level = RH_LOG_INFO;
    *done = true;
    strv listen = {0}, advertise = {0};
    const char *name = NULL, *ic = NULL, *token = NULL;
    bool has_id = false, has_cid = false;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val;
        int r;
        bool bv;
        if (arg[0] != '-' || arg[1] == 0) {
            rc = cli_usage_error(CMD, "unexpected argument \"%s\"", arg);
            goto fail;
        }
        if (cli_is_help(arg)) {
            fputs(cli_node_help, stdout);
            rc = CLI_EXIT_OK;
            goto fail;
        }
#define VALUE_FLAG(fname) ((r = cli_flag(argc, argv, &i, CMD, fname, &val)) != 0)
#define BOOL_FLAG(fname) ((r = bool_flag(arg, fname, &bv)) != 0)
        if (VALUE_FLAG("id")) {
            if (r < 0 || cli_id_flag(CMD, "id", val, &a->id))
                goto usage;
            if (a->id == 0) {
                rc = cli_usage_error(CMD, "--id: the member ID cannot be 0");
                goto fail;
            }
            has_id = true;
        } else if (VALUE_FLAG("cluster-id")) {
            if (r < 0 || cli_id_flag(CMD, "cluster-id", val, &a->cluster_id))
                goto usage;
            has_cid = true;
        } else if (VALUE_FLAG("listen")) {
            if (r < 0)
                goto usage;
            if (!strv_push(&listen, val)) {
                rc = oom();
                goto fail;
            }
        } else if (VALUE_FLAG("advertise")) {
            if (r < 0)
                goto usage;
            if (!strv_push(&advertise, val)) {
                rc = oom();
                goto fail;
            }
        } else if (VALUE_FLAG("peer")) {
            if (r < 0 || (rc = peer_flag(a, val)))
                goto usage;
        } else if (VALUE_FLAG("snap-dir")) {
            if (r < 0)
                goto usage;
            a->snap_dir = val;
        } else if (VALUE_FLAG("server-version")) {
            if (r < 0 || (rc = version_flag("server-version", val, &a->server_version)))
                goto usage;
        } else if (VALUE_FLAG("min-cluster-version")) {
            if (r < 0 ||
                (rc = version_flag("min-cluster-version", val, &a->min_cluster_version)))
                goto usage;
        } else if (VALUE_FLAG("dial-timeout")) {
            if (r < 0 || duration_ms_flag("dial-timeout", val, &a->dial_timeout_ms))
                goto usage;
        } else if (VALUE_FLAG("dial-retry")) {
            if (r < 0 || duration_ms_flag("dial-retry", val, &a->dial_retry_ms))
                goto usage;
        } else if (VALUE_FLAG("read-header-timeout")) {
            if (r < 0 || duration_ms_flag("read-header-timeout", val, &a->head_timeout_ms))
                goto usage;
        } else if (VALUE_FLAG("handshake-timeout")) {
            if (r < 0 || duration_ms_flag("handshake-timeout", val, &a->handshake_timeout_ms))
                goto usage;
        } else if (VALUE_FLAG("max-handshakes")) {
            if (r < 0 || count_flag("max-handshakes", val, 1, 1000000, &a->max_handshakes))
                goto usage;
        } else if (VALUE_FLAG("max-header-bytes")) {
            if (r < 0 || bytes_flag("max-header-bytes", val, 1024, (uint64_t)1 << 30,
                                    &a->max_header_bytes))
                goto usage;
        } else if (VALUE_FLAG("max-body-bytes")) {
            if (r < 0 || bytes_flag("max-body-bytes", val, 1, (uint64_t)1 << 40,
                                    &a->max_body_bytes))
                goto usage;
        } else if (VALUE_FLAG("name")) {
            if (r < 0)
                goto usage;
            name = val;
        } else if (VALUE_FLAG("initial-cluster")) {
            if (r < 0)
                goto usage;
            ic = val;
        } else if (VALUE_FLAG("initial-cluster-token")) {
            if (r < 0)
                goto usage;
            token = val;
        } else if (VALUE_FLAG("reply")) {
            if (r < 0)
                goto usage;
            if (strcmp(val, "echo-resp") == 0)
                a->echo_resp = true;
            else if (strcmp(val, "none") == 0)
                a->echo_resp = false;
            else {
                rc = cli_usage_error(CMD, "--reply: \"%s\" is not none or echo-resp", val);
                goto fail;
            }
        } else if (VALUE_FLAG("log-level")) {
            if (r < 0)
                goto usage;
            if ((a->log_level = log_level_of(val)) < 0) {
                rc = cli_usage_error(CMD, "--log-level: \"%s\" is not debug, info, warn "
                                     "or error", val);
                goto fail;
            }
        } else if (VALUE_FLAG("id-format")) {
            if (r < 0 || either_flag("id-format", val, "number", "hex", &a->ids_hex))
                goto usage;
        } else if (VALUE_FLAG("log-format")) {
            if (r < 0 || either_flag("log-format", val, "text", "json", &a->log_json))
                goto usage;
        } else if (BOOL_FLAG("metrics")) {
            if (r < 0)
                goto usage;
            a->metrics = bv;
        } else if (BOOL_FLAG("trace-sent")) {
            if (r < 0)
                goto usage;
            a->trace_sent = bv;
        } else if (BOOL_FLAG("client-cert-auth") || BOOL_FLAG("peer-client-cert-auth")) {
            if (r < 0)
                goto usage;
            a->tls.client_cert_auth = bv;
        } else {
            bool matched = false;
            for (size_t k = 0; k < sizeof(tls_flags) / sizeof(tls_flags[0]) && !matched; k++) {
                char peer_name[40];
                snprintf(peer_name, sizeof(peer_name), "peer-%s", tls_flags[k]);
                bool is_peer_only = k >= 6; /* cipher suites, versions: no --peer- form */
                if (VALUE_FLAG(tls_flags[k]) || (!is_peer_only && VALUE_FLAG(peer_name))) {
                    if (r < 0)
                        goto usage;
                    *tls_vals[k] = val;
                    matched = true;
                }
            }
            if (!matched) {
                rc = cli_usage_error(CMD, "unknown flag %s", arg);
                goto fail;
            }
        }
#undef VALUE_FLAG
#undef BOOL_FLAG
    }

    if (token && !ic) {
        rc = cli_usage_error(CMD, "--initial-cluster-token needs --initial-cluster");
        goto fail;
    }
    if ((name != NULL) != (ic != NULL)) {
        rc = cli_usage_error(CMD, "--name and --initial-cluster go together");
        goto fail;
    }
    if (ic && (rc = derive(a, name, ic, token ? token : NODE_DEFAULT_TOKEN, has_id,
                           has_cid, &listen, &advertise)))
        goto fail;
    if (!a->id) {
        rc = cli_usage_error(CMD, "--id is required (or --name with --initial-cluster)");
        goto fail;
    }
    if (!has_cid && !ic) {
        rc = cli_usage_error(CMD, "--cluster-id is required (or --name with "
                             "--initial-cluster)");
        goto fail;
    }
    if (!listen.n) {
        rc = cli_usage_error(CMD, "--listen is required (or --name with "
                             "--initial-cluster)");
        goto fail;
    }
    if ((rc = check_url_list("--listen", &listen)) ||
        (rc = check_url_list("--advertise", &advertise)))
        goto fail;
    if (find_peer_arg(a, a->id)) {
        rc = cli_usage_error(CMD, "--peer %llx: that is the local member",
                             (unsigned long long)a->id);
        goto fail;
    }
    if ((rc = check_tls_args(a, &listen, &advertise)))
        goto fail;
    if (a->snap_dir && (rc = make_dir(a->snap_dir)))
        goto fail;
    a->listen = listen.v;
    a->n_listen = listen.n;
    a->advertise = advertise.v;
    a->n_advertise = advertise.n;
    *done = false;
    return 0;
usage:
    if (!rc)
        rc = CLI_EXIT_USAGE;
fail:
    strv_free(&listen);
    strv_free(&advertise);
    node_args_free(a);
    return rc;
}
