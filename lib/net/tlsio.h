#ifndef UPLINK_TLSIO_H
#define UPLINK_TLSIO_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

/*
 * TLS over a socket with events of its own, for bulk traffic (the tunnel).
 *
 * bufferevent_openssl in libevent 2.1 reads 4 KiB per call, writes one
 * TLS record per system call, and cannot use OpenSSL's read-ahead (bytes
 * buffered inside OpenSSL are invisible to it). Here the SSL object sits on
 * a BIO of our own and reads ahead: one recv per socket event takes up to
 * TLSIO_READ bytes (many records) straight into OpenSSL's read buffer, and
 * writes go to memory: plaintext is collected, encrypted into full 16 KiB
 * records, and what a pass produced leaves in one writev.
 *
 * The handshake is still done by bufferevent_openssl (or by hand); a
 * tlsio takes over the established connection.
 */

#define TLSIO_READ	(128 * 1024)	/* bytes asked of one recv */

struct tlsio;

enum tlsio_event {
	TLSIO_READABLE,	/* call tlsio_read() until it returns 0 or -1 */
	TLSIO_DRAINED,	/* queued output fell to the low mark (or to 0) */
};

typedef void tlsio_cb(void *arg, struct tlsio *io, enum tlsio_event what);

/*
 * Takes over an established bufferevent_openssl: its socket, its SSL and
 * any plaintext already in its buffers; frees the bufferevent. low is the
 * output level at which TLSIO_DRAINED is reported. Returns NULL when out
 * of memory (bev is then freed too).
 */
struct tlsio *tlsio_new(struct event_base *base, struct bufferevent *bev,
    size_t low, tlsio_cb *cb, void *arg);

/*
 * Closes the connection (a close_notify is attempted, not waited for) and
 * frees everything. NULL is a no-op.
 */
void tlsio_free(struct tlsio *io);

/*
 * Plaintext received: > 0 bytes copied to buf, 0 when nothing more is
 * there now, -1 when the connection is finished (tlsio_error() says why).
 */
long tlsio_read(struct tlsio *io, void *buf, size_t len);

/* Queues plaintext to send; 0, or -1 when out of memory or finished. */
int tlsio_write(struct tlsio *io, const void *data, size_t len);

/*
 * Room for len bytes of plaintext (len <= TLSIO_PLAIN), filled by the
 * caller and then queued with tlsio_commit(io, len). Saves a copy.
 */
#define TLSIO_PLAIN	(64 * 1024)
void *tlsio_reserve(struct tlsio *io, size_t len);
void tlsio_commit(struct tlsio *io, size_t len);

/* Encrypts what is queued and writes as much as the socket takes. */
void tlsio_flush(struct tlsio *io);

/*
 * The owner stopped calling tlsio_read() before it returned 0: TLSIO_READABLE
 * comes again once the callbacks already due have run.
 */
void tlsio_read_later(struct tlsio *io);

/* Bytes queued and not yet taken by the socket (plaintext or records). */
size_t tlsio_queued(const struct tlsio *io);

/*
 * Lean (for an idle connection): OpenSSL's buffers and the plaintext
 * buffer are freed whenever they are empty. Not lean (the default): kept
 * for the next pass.
 */
void tlsio_set_lean(struct tlsio *io, bool lean);

/* Why the connection is finished, once tlsio_read() returned -1. */
const char *tlsio_error(const struct tlsio *io);

#endif
