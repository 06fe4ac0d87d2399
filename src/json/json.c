/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON reader (recursive descent into an arena tree) and writer helpers.
 *
 * The parser builds each container's elements on a scratch stack and copies
 * them into the tree as one array when the container closes, so the tree is
 * plain arrays (cache-friendly, one allocation per container) and nothing is
 * ever reallocated inside it. The stack is shared by all open containers and
 * survives between parses, so steady-state parsing of similar lines does not
 * touch malloc.
 *
 * Strings are scanned once to find their end and check UTF-8; only those
 * holding escapes are copied (decoded) into the tree, the rest point into
 * the input.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

/* ---- UTF-8 -------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[0..n) (n >= 1), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
            return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
            (s[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

static size_t utf8_put(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- parser ------------------------------------------------------------- */

void rh_json_parser_init(rh_json_parser *p, size_t max_input, size_t tree_limit)
{
    memset(p, 0, sizeof(*p));
    p->max_input = max_input ? max_input : RH_JSON_DEFAULT_MAX_INPUT;
    p->tree_limit = tree_limit ? tree_limit : RH_JSON_DEFAULT_TREE_LIMIT;
    rh_arena_init(&p->tree, p->tree_limit);
}

void rh_json_parser_free(rh_json_parser *p)
{
    rh_arena_free(&p->tree);
    free(p->stack);
    p->stack = NULL;
    p->stack_len = p->stack_cap = 0;
}

static int fail(rh_json_parser *p, int code, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(rh_json_parser *p, int code, size_t at, const char *fmt, ...)
{
    rh_err *e = p->err;
    if (!e)
        return code;
    e->code = code;
    e->offset = at;
    int n = snprintf(e->msg, sizeof(e->msg), "invalid JSON at byte %zu: ", at);
    if (n < 0 || (size_t)n >= sizeof(e->msg))
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof(e->msg) - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

/* Describes the byte at pos for an error message. */
static int fail_unexpected(rh_json_parser *p, const char *expected)
{
    if (p->pos >= p->len)
        return fail(p, RH_EINVAL, p->pos, "unexpected end of input, expected %s",
                    expected);
    unsigned char c = (unsigned char)p->text[p->pos];
    if (c > 0x20 && c < 0x7f)
        return fail(p, RH_EINVAL, p->pos, "expected %s, found '%c'", expected, c);
    return fail(p, RH_EINVAL, p->pos, "expected %s, found byte 0x%02x", expected, c);
}

static void skip_ws(rh_json_parser *p)
{
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        p->pos++;
    }
}

static int tree_alloc(rh_json_parser *p, size_t n, size_t at, void **out)
{
    *out = rh_arena_alloc(&p->tree, n);
    if (*out)
        return 0;
    if (n > p->tree.limit - p->tree.used_total)
        return fail(p, RH_ECOMPLEX, at, "document needs more than %zu bytes of memory",
                    p->tree.limit);
    return fail(p, RH_ENOMEM, at, "out of memory");
}

static int push(rh_json_parser *p, const char *key, size_t key_len, const rh_json *v)
{
    if (p->stack_len == p->stack_cap) {
        size_t cap = p->stack_cap ? p->stack_cap * 2 : 64;
        if (cap > p->tree_limit / sizeof(rh_json_member))
            return fail(p, RH_ECOMPLEX, v->pos,
                        "document needs more than %zu bytes of memory", p->tree_limit);
        rh_json_member *s = realloc(p->stack, cap * sizeof(*s));
        if (!s)
            return fail(p, RH_ENOMEM, v->pos, "out of memory");
        p->stack = s;
        p->stack_cap = cap;
    }
    rh_json_member *m = &p->stack[p->stack_len++];
    m->key = key;
    m->key_len = key_len;
    m->value = *v;
    return 0;
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Decodes the escaped string body text[start..end) (already scanned: it
 * ends before the closing quote and its raw bytes are valid UTF-8). */
static int unescape(rh_json_parser *p, size_t start, size_t end, const char **s,
                    size_t *n)
{
    void *mem;
    int rc = tree_alloc(p, end - start, start, &mem);
    if (rc)
        return rc;
    uint8_t *out = mem;
    size_t o = 0, j = start;
    const char *t = p->text;
    while (j < end) {
        if (t[j] != '\\') {
            out[o++] = (uint8_t)t[j++];
            continue;
        }
        char e = t[j + 1]; /* the scan guarantees j + 1 < end */
        switch (e) {
        case '"': case '\\': case '/': out[o++] = (uint8_t)e; j += 2; continue;
        case 'b': out[o++] = '\b'; j += 2; continue;
        case 'f': out[o++] = '\f'; j += 2; continue;
        case 'n': out[o++] = '\n'; j += 2; continue;
        case 'r': out[o++] = '\r'; j += 2; continue;
        case 't': out[o++] = '\t'; j += 2; continue;
        case 'u': break;
        default:
            if ((unsigned char)e > 0x20 && (unsigned char)e < 0x7f)
                return fail(p, RH_EINVAL, j, "invalid escape '\\%c' in string", e);
            return fail(p, RH_EINVAL, j, "invalid escape in string");
        }
        uint32_t cp, lo;
        if (end - j < 6 || hex4(t + j + 2, &cp))
            return fail(p, RH_EINVAL, j, "invalid \\u escape: want 4 hex digits");
        j += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF && end - j >= 6 && t[j] == '\\' &&
            t[j + 1] == 'u' && hex4(t + j + 2, &lo) == 0 && lo >= 0xDC00 &&
            lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            j += 6;
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0xFFFD; /* lone surrogate, as Go decodes it */
        }
        o += utf8_put(out + o, cp);
    }
    *s = (const char *)out;
    *n = o;
    return 0;
}

/* At the opening quote. */
static int parse_string(rh_json_parser *p, const char **s, size_t *n)
{
    size_t open = p->pos, i = p->pos + 1;
    const uint8_t *t = (const uint8_t *)p->text;
    bool escaped = false;
    for (;;) {
        if (i >= p->len)
            return fail(p, RH_EINVAL, open, "unterminated string");
        uint8_t c = t[i];
        if (c == '"')
            break;
        if (c == '\\') {
            /* step over the escaped byte so \" does not end the string; a
             * non-ASCII one is left for unescape() to reject */
            escaped = true;
            i += i + 1 < p->len && t[i + 1] < 0x80 ? 2 : 1;
        } else if (c < 0x20) {
            return fail(p, RH_EINVAL, i, "control character 0x%02x in string", c);
        } else if (c < 0x80) {
            i++;
        } else {
            size_t k = utf8_seq_len(t + i, p->len - i);
            if (!k)
                return fail(p, RH_EINVAL, i, "invalid UTF-8 in string");
            i += k;
        }
    }
    p->pos = i + 1;
    if (!escaped) {
        *s = p->text + open + 1;
        *n = i - open - 1;
        return 0;
    }
    return unescape(p, open + 1, i, s, n);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int parse_number(rh_json_parser *p, rh_json *out)
{
    size_t start = p->pos;
    const char *t = p->text;
    bool neg = false, over = false, real = false;
    uint64_t u = 0;
    if (t[p->pos] == '-') {
        neg = true;
        p->pos++;
    }
    if (p->pos >= p->len || !is_digit(t[p->pos]))
        return fail_unexpected(p, "a digit");
    if (t[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->len && is_digit(t[p->pos]))
            return fail(p, RH_EINVAL, start, "number with a leading zero");
    } else {
        while (p->pos < p->len && is_digit(t[p->pos])) {
            uint64_t d = (uint64_t)(t[p->pos] - '0');
            if (u > (UINT64_MAX - d) / 10)
                over = true;
            else
                u = u * 10 + d;
            p->pos++;
        }
    }
    if (p->pos < p->len && t[p->pos] == '.') {
        real = true;
        p->pos++;
        if (p->pos >= p->len || !is_digit(t[p->pos]))
            return fail_unexpected(p, "a digit after '.'");
        while (p->pos < p->len && is_digit(t[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && (t[p->pos] == 'e' || t[p->pos] == 'E')) {
        real = true;
        p->pos++;
        if (p->pos < p->len && (t[p->pos] == '+' || t[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len || !is_digit(t[p->pos]))
            return fail_unexpected(p, "a digit in the exponent");
        while (p->pos < p->len && is_digit(t[p->pos]))
            p->pos++;
    }
    size_t len = p->pos - start;
    if (real) {
        out->type = RH_JSON_REAL;
        out->s = t + start;
        out->n = len;
        return 0;
    }
    if (over || (neg && u > (uint64_t)1 << 63)) {
        int show = len > 40 ? 40 : (int)len;
        return fail(p, RH_ETOOBIG, start,
                    "integer %.*s%s out of range (-9223372036854775808 .. "
                    "18446744073709551615)",
                    show, t + start, len > 40 ? "..." : "");
    }
    out->type = RH_JSON_INT;
    out->neg = neg && u != 0;
    out->u = u;
    return 0;
}

static int parse_value(rh_json_parser *p, rh_json *out);

static int enter(rh_json_parser *p)
{
    if (p->depth >= RH_JSON_MAX_DEPTH)
        return fail(p, RH_EDEPTH, p->pos, "nesting deeper than %d levels",
                    RH_JSON_MAX_DEPTH);
    p->depth++;
    p->pos++; /* the opening bracket */
    return 0;
}

/* Moves the elements pushed since base into the tree. */
static int pop_container(rh_json_parser *p, size_t base, rh_json *out, bool object)
{
    size_t n = p->stack_len - base;
    out->n = n;
    out->items = NULL;
    if (n) {
        size_t elem = object ? sizeof(rh_json_member) : sizeof(rh_json);
        void *mem;
        int rc = tree_alloc(p, n * elem, out->pos, &mem);
        if (rc)
            return rc;
        if (object) {
            memcpy(mem, p->stack + base, n * elem);
            out->members = mem;
        } else {
            rh_json *items = mem;
            for (size_t i = 0; i < n; i++)
                items[i] = p->stack[base + i].value;
            out->items = items;
        }
    }
    p->stack_len = base;
    p->depth--;
    return 0;
}

static int parse_array(rh_json_parser *p, rh_json *out)
{
    int rc;
    size_t base = p->stack_len;
    out->type = RH_JSON_ARRAY;
    if ((rc = enter(p)))
        return rc;
    skip_ws(p);
    if (p->pos < p->len && p->text[p->pos] == ']') {
        p->pos++;
        return pop_container(p, base, out, false);
    }
    for (;;) {
        rh_json v;
        if ((rc = parse_value(p, &v)) || (rc = push(p, NULL, 0, &v)))
            return rc;
        skip_ws(p);
        if (p->pos < p->len && p->text[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->text[p->pos] == ']') {
            p->pos++;
            return pop_container(p, base, out, false);
        }
        return fail_unexpected(p, "',' or ']' in array");
    }
}

static int parse_object(rh_json_parser *p, rh_json *out)
{
    int rc;
    size_t base = p->stack_len;
    out->type = RH_JSON_OBJECT;
    if ((rc = enter(p)))
        return rc;
    skip_ws(p);
    if (p->pos < p->len && p->text[p->pos] == '}') {
        p->pos++;
        return pop_container(p, base, out, true);
    }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        rh_json v;
        skip_ws(p);
        if (p->pos >= p->len || p->text[p->pos] != '"')
            return fail_unexpected(p, "a string key in object");
        if ((rc = parse_string(p, &key, &key_len)))
            return rc;
        skip_ws(p);
        if (p->pos >= p->len || p->text[p->pos] != ':')
            return fail_unexpected(p, "':' after object key");
        p->pos++;
        if ((rc = parse_value(p, &v)) || (rc = push(p, key, key_len, &v)))
            return rc;
        skip_ws(p);
        if (p->pos < p->len && p->text[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->text[p->pos] == '}') {
            p->pos++;
            return pop_container(p, base, out, true);
        }
        return fail_unexpected(p, "',' or '}' in object");
    }
}

static int parse_literal(rh_json_parser *p, const char *word, int type, rh_json *out)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
        return fail_unexpected(p, "a value");
    p->pos += n;
    out->type = type;
    return 0;
}

static int parse_value(rh_json_parser *p, rh_json *out)
{
    skip_ws(p);
    memset(out, 0, sizeof(*out));
    out->pos = p->pos;
    if (p->pos >= p->len)
        return fail_unexpected(p, "a value");
    switch (p->text[p->pos]) {
    case '{': return parse_object(p, out);
    case '[': return parse_array(p, out);
    case '"':
        out->type = RH_JSON_STRING;
        return parse_string(p, &out->s, &out->n);
    case 't': return parse_literal(p, "true", RH_JSON_TRUE, out);
    case 'f': return parse_literal(p, "false", RH_JSON_FALSE, out);
    case 'n': return parse_literal(p, "null", RH_JSON_NULL, out);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(p, out);
    default:
        return fail_unexpected(p, "a value");
    }
}

int rh_json_parse(rh_json_parser *p, const char *text, size_t len,
                  const rh_json **root, rh_err *err)
{
    p->err = err;
    p->text = text;
    p->len = len;
    p->pos = 0;
    p->depth = 0;
    p->stack_len = 0;
    *root = NULL;
    rh_arena_reset(&p->tree);
    if (err) {
        err->code = 0;
        err->offset = 0;
        err->msg[0] = 0;
    }
    if (len > p->max_input)
        return fail(p, RH_ETOOBIG, 0, "input of %zu bytes exceeds the limit of %zu",
                    len, p->max_input);
    rh_json v;
    int rc = parse_value(p, &v);
    if (rc)
        return rc;
    skip_ws(p);
    if (p->pos != len)
        return fail_unexpected(p, "end of input after the JSON value");
    void *mem;
    if ((rc = tree_alloc(p, sizeof(rh_json), 0, &mem)))
        return rc;
    rh_json *r = mem;
    *r = v;
    *root = r;
    return 0;
}

/* ---- tree access -------------------------------------------------------- */

const rh_json *rh_json_get(const rh_json *obj, const char *key)
{
    if (!obj || obj->type != RH_JSON_OBJECT)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = obj->n; i-- > 0;) {
        const rh_json_member *m = &obj->members[i];
        if (m->key_len == kl && memcmp(m->key, key, kl) == 0)
            return &m->value;
    }
    return NULL;
}

bool rh_json_str_eq(const rh_json *v, const char *s)
{
    size_t n = strlen(s);
    return v && v->type == RH_JSON_STRING && v->n == n && memcmp(v->s, s, n) == 0;
}

const char *rh_json_type_name(int type)
{
    switch (type) {
    case RH_JSON_NULL: return "null";
    case RH_JSON_FALSE:
    case RH_JSON_TRUE: return "boolean";
    case RH_JSON_INT: return "integer";
    case RH_JSON_REAL: return "number";
    case RH_JSON_STRING: return "string";
    case RH_JSON_ARRAY: return "array";
    case RH_JSON_OBJECT: return "object";
    default: return "?";
    }
}

bool rh_json_as_u64(const rh_json *v, uint64_t *out)
{
    if (!v || v->type != RH_JSON_INT || v->neg)
        return false;
    *out = v->u;
    return true;
}

bool rh_json_as_i64(const rh_json *v, int64_t *out)
{
    if (!v || v->type != RH_JSON_INT)
        return false;
    if (v->neg) {
        if (v->u > (uint64_t)1 << 63)
            return false;
        /* -(u) without overflowing at u == 2^63 */
        *out = v->u == (uint64_t)1 << 63 ? INT64_MIN : -(int64_t)v->u;
    } else {
        if (v->u > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v->u;
    }
    return true;
}

/* ---- writer ------------------------------------------------------------- */

void rh_buf_init(rh_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void rh_buf_free(rh_buf *b)
{
    free(b->data);
    rh_buf_init(b);
}

void rh_buf_reset(rh_buf *b)
{
    b->len = 0;
    b->failed = false;
}

bool rh_buf_reserve(rh_buf *b, size_t n)
{
    if (b->failed)
        return false;
    if (b->cap - b->len >= n)
        return true;
    if (n > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void rh_buf_append(rh_buf *b, const void *p, size_t n)
{
    if (!n || !rh_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void rh_buf_putc(rh_buf *b, char c)
{
    if (b->len < b->cap && !b->failed) {
        b->data[b->len++] = c;
        return;
    }
    rh_buf_append(b, &c, 1);
}

void rh_buf_puts(rh_buf *b, const char *s)
{
    rh_buf_append(b, s, strlen(s));
}

void rh_json_put_string(rh_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *u = (const uint8_t *)s;
    size_t run = 0; /* start of the bytes not yet copied */
    rh_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        uint8_t c = u[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        size_t k = c >= 0x80 ? utf8_seq_len(u + i, n - i) : 0;
        if (k) {
            i += k;
            continue;
        }
        rh_buf_append(b, s + run, i - run);
        const char *esc;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default: esc = c >= 0x80 ? "\\ufffd" : NULL; break;
        }
        if (esc) {
            rh_buf_append(b, esc, strlen(esc));
        } else {
            char ue[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rh_buf_append(b, ue, sizeof(ue));
        }
        i++;
        run = i;
    }
    rh_buf_append(b, s + run, n - run);
    rh_buf_putc(b, '"');
}

void rh_json_put_u64(rh_buf *b, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    rh_buf_append(b, tmp + i, sizeof(tmp) - i);
}

void rh_json_put_i64(rh_buf *b, int64_t v)
{
    if (v < 0) {
        rh_buf_putc(b, '-');
        rh_json_put_u64(b, (uint64_t)(-(v + 1)) + 1);
    } else {
        rh_json_put_u64(b, (uint64_t)v);
    }
}

void rh_json_put_bool(rh_buf *b, bool v)
{
    if (v)
        rh_buf_append(b, "true", 4);
    else
        rh_buf_append(b, "false", 5);
}

void rh_json_put_base64(rh_buf *b, const uint8_t *p, size_t n)
{
    size_t el = rh_base64_encoded_len(n);
    if (el == SIZE_MAX || el > SIZE_MAX - 2 || !rh_buf_reserve(b, el + 2))
        return;
    b->data[b->len++] = '"';
    b->len += rh_base64_encode(p, n, b->data + b->len);
    b->data[b->len++] = '"';
}

/* ---- base64 ------------------------------------------------------------- */

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t rh_base64_encoded_len(size_t n)
{
    if (n / 3 >= SIZE_MAX / 4)
        return SIZE_MAX; /* cannot be represented; callers treat as failure */
    return (n + 2) / 3 * 4;
}

size_t rh_base64_encode(const uint8_t *p, size_t n, char *out)
{
    char *o = out;
    size_t i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[0] = b64_chars[v >> 18];
        o[1] = b64_chars[(v >> 12) & 63];
        o[2] = b64_chars[(v >> 6) & 63];
        o[3] = b64_chars[v & 63];
        o += 4;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        o[0] = b64_chars[v >> 18];
        o[1] = b64_chars[(v >> 12) & 63];
        o[2] = '=';
        o[3] = '=';
        o += 4;
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        o[0] = b64_chars[v >> 18];
        o[1] = b64_chars[(v >> 12) & 63];
        o[2] = b64_chars[(v >> 6) & 63];
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}

size_t rh_base64_decoded_max(size_t n)
{
    return n / 4 * 3 + 3;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int rh_base64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len,
                     size_t *bad_at)
{
    size_t pad = 0, total = n;
    while (n > 0 && pad < 2 && s[n - 1] == '=') {
        n--;
        pad++;
    }
    if (pad && total % 4 != 0) {
        *bad_at = n;
        return RH_EINVAL;
    }
    size_t o = 0, i = 0;
    uint32_t acc = 0;
    for (; i < n; i++) {
        int v = b64_value(s[i]);
        if (v < 0) {
            *bad_at = i;
            return RH_EINVAL;
        }
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (uint8_t)(acc >> 16);
            out[o++] = (uint8_t)(acc >> 8);
            out[o++] = (uint8_t)acc;
            acc = 0;
        }
    }
    switch (n % 4) {
    case 1: /* 6 bits cannot make a byte */
        *bad_at = n - 1;
        return RH_EINVAL;
    case 2:
        out[o++] = (uint8_t)(acc >> 4);
        break;
    case 3:
        out[o++] = (uint8_t)(acc >> 10);
        out[o++] = (uint8_t)(acc >> 2);
        break;
    default:
        break;
    }
    *out_len = o;
    return 0;
}
