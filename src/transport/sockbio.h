/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The socket BIO under every TLS connection (conn.c puts it under the SSL
 * of each bufferevent_openssl in place of OpenSSL's socket BIO).
 *
 * OpenSSL's socket BIO makes a system call per TLS record: a read for the
 * 5-byte header and one for the body of every record (at most 16 KiB), a
 * write for each record sent. This one reads the socket in large reads and
 * hands OpenSSL the records from its buffer, and gathers the records of one
 * libevent write pass into one write, sent once the callback that wrote
 * them returns (an event made active when the buffer stops being empty),
 * or at once when the buffer is full or OpenSSL flushes.
 *
 * Nothing is held back for ever:
 * - Read: bytes still in the buffer after OpenSSL took a record make the
 *   bufferevent's read event active again (from a "kick" event that runs
 *   after the current callback), so libevent reads the next record
 *   although the socket may have nothing new. A bufferevent whose reading is off keeps them; whoever
 *   turns reading on again calls rhi_sockbio_enable (conn.h's
 *   rhi_conn_enable), which does the same.
 * - Write: what the socket does not take at once is written when it is
 *   writable again (an event of this BIO's own). A bufferevent freed
 *   meanwhile does not lose it: its socket is closed only after the rest
 *   is written (at most 5 s, LINGER_MS in sockbio.c), as the kernel does
 *   for a plain socket's unsent bytes.
 *
 * Owns: its buffers (allocated when the first bytes come, freed when a
 * short burst left them empty, so an idle connection holds none), its
 * write event, and after the bufferevent is freed with unsent bytes, the
 * socket. The BIO is owned by the SSL (SSL_set_bio). Loop thread only.
 */
#ifndef RH_TRANSPORT_SOCKBIO_H
#define RH_TRANSPORT_SOCKBIO_H

#include <stddef.h>

#include <event2/bufferevent.h>
#include <openssl/bio.h>

/* A BIO over the connected or accepted socket fd (not closed by the BIO
 * while a bufferevent owns it). NULL when out of memory. */
BIO *rhi_sockbio_new(struct event_base *base, evutil_socket_t fd);
/* Ties b to the bufferevent_openssl bev whose SSL uses it: its output's
 * drains flush b, and b re-arms bev's reading while it holds bytes. */
void rhi_sockbio_attach(BIO *b, struct bufferevent *bev);
/* Call after turning reading on again: b makes bev read what it holds. */
void rhi_sockbio_enable(BIO *b);
/* Bytes given by OpenSSL and not yet written to the socket. */
size_t rhi_sockbio_unsent(BIO *b);
/* Shuts the socket's write side once the unsent bytes are written (now,
 * when there are none). */
void rhi_sockbio_shutdown_write(BIO *b);

/* Frees what is still sending after its bufferevent was freed, on base's
 * loop (closing the sockets): before event_base_free(base). */
void rhi_sockbio_drop_orphans(struct event_base *base);

#endif
