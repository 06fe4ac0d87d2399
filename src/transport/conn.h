/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The connection layer: every socket the transport dials or accepts is
 * made here, as a plain TCP bufferevent or a TLS one (bufferevent_openssl)
 * by the URL's scheme or the listener's, so each channel gets TLS without
 * knowing about it. Socket tuning, and the text of a failed connection
 * (for TLS, an explanation of the refused handshake, logged once a second
 * at most and counted by reason), live here too.
 *
 * A TLS bufferevent reads and writes its socket through sockbio.h's BIO
 * (large reads and writes instead of a system call per TLS record). It
 * must get no read high watermark, and OpenSSL no read-ahead: libevent
 * 2.1's socket bufferevent_openssl drains what OpenSSL decrypted before any
 * callback runs, but reads again only when the socket is readable or the
 * BIO asks it to, so bytes held back would wait for the peer's next ones
 * (an idle peer: for ever). Turn reading on again with rhi_conn_enable,
 * never bufferevent_enable, and shut the write side with
 * rhi_conn_shutdown_write, never shutdown(2): the BIO may hold bytes read
 * and not yet decrypted, or encrypted and not yet sent.
 *
 * Owns nothing beyond the call: a bufferevent returned belongs to the
 * caller (BEV_OPT_CLOSE_ON_FREE; freeing it frees its SSL and socket).
 * Loop thread only.
 */
#ifndef RH_TRANSPORT_CONN_H
#define RH_TRANSPORT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>

#include "rafthttp/transport.h"

/* Starts a connect to url (http:// plain, https:// TLS, the server's
 * certificate verified against the URL's host) on t's loop: a new
 * bufferevent with the callbacks and the dial timeout both ways; the event
 * callback gets BEV_EVENT_CONNECTED (after the TLS handshake) or the
 * failure. NULL with err filled when the URL does not parse or resolve, it
 * is https:// without TLS configured, or the connect fails at once. */
struct bufferevent *rhi_conn_dial(rh_transport *t, const char *url, bufferevent_data_cb readcb,
                              bufferevent_data_cb writecb, bufferevent_event_cb eventcb,
                              void *arg, char *err, size_t errlen);
/* The bufferevent of an accepted socket: TLS (handshake as the server) or
 * plain. NULL (fd closed) when out of memory. */
struct bufferevent *rhi_conn_accept(rh_transport *t, evutil_socket_t fd, bool tls);
/* bufferevent_enable, and for TLS a nudge to read what the BIO holds. */
void rhi_conn_enable(struct bufferevent *bev, short what);
/* shutdown(SHUT_WR) of bev's socket, for TLS after what the BIO holds is
 * sent. */
void rhi_conn_shutdown_write(struct bufferevent *bev);
/* Is bev TLS? Then its fd must not be read or written directly. */
bool rhi_conn_is_tls(struct bufferevent *bev);
/* Is bev a TLS connection whose handshake has not completed? */
bool rhi_conn_handshaking(struct bufferevent *bev);

/* The text of bev's event `what` (BEV_EVENT_TIMEOUT, EOF or ERROR) into
 * buf: "i/o timeout", "EOF", the socket error, or for TLS what was wrong
 * with the handshake. A TLS refusal is also counted by reason and logged
 * (one line, rate limited) with the peer's address and member `peer_id` (the
 * one dialed; 0 when not known). Returns buf. */
const char *rhi_conn_event_text(rh_transport *t, struct bufferevent *bev, short what,
                            uint64_t peer_id, char *buf, size_t n);

#endif
