#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "tlsio.h"
#include "xmalloc.h"

struct tlsio {
	SSL		*ssl;
	BIO		*bio;		/* owned by ssl; its data points here */
	evutil_socket_t	 fd;
	struct event	*rev, *wev;
	struct evbuffer	*cipher;	/* records not yet taken by the socket */
	struct evbuffer	*early;		/* plaintext the bufferevent had read */
	uint8_t		*plain;		/* plaintext not yet encrypted */
	size_t		 plen, low;
	tlsio_cb	*cb;
	void		*arg;
	bool		 eof, failed, writing;
	bool		 lean;		/* tlsio_set_lean() */
	bool		 may_recv;	/* this event's one recv not yet made */
	int		 sock_err;
	char		 why[256];
};

/* ---- the BIO under the SSL object: reads the socket, writes to memory ---- */

/*
 * With read-ahead on, OpenSSL asks for as much as its read buffer holds
 * (TLSIO_READ), so one recv takes many records straight into it. One recv
 * per socket event unless it filled what was asked: after a short one the
 * SSL object waits for the next event instead of making a recv that would
 * only say EAGAIN.
 */
static int
bio_read(BIO *b, char *buf, int len)
{
	struct tlsio	*io = BIO_get_data(b);
	ssize_t		 n;

	BIO_clear_retry_flags(b);
	if (io == NULL)
		return -1;
	if (!io->may_recv) {
		BIO_set_retry_read(b);
		return -1;
	}
	n = recv(io->fd, buf, (size_t)len, 0);
	/* A full read: more may be waiting (often the rest of a record). */
	io->may_recv = n == len;
	if (n > 0)
		return (int)n;
	if (n == 0) {
		io->eof = true;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		BIO_set_retry_read(b);
	else
		io->sock_err = errno;
	return -1;
}

/* Records are collected and leave in one writev per flush. */
static int
bio_write(BIO *b, const char *data, int len)
{
	struct tlsio	*io = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (io == NULL || evbuffer_add(io->cipher, data, (size_t)len) != 0)
		return -1;
	return len;
}

/*
 * No file descriptor to report: the bufferevent that did the handshake
 * closes the descriptor of its SSL's BIO when it is finally freed, and
 * this one belongs to the tlsio now.
 */
static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tlsio	*io = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_C_GET_FD:
		return -1;
	case BIO_CTRL_EOF:
		return io != NULL && io->eof;
	default:
		return 0;
	}
}

static BIO_METHOD *
tlsio_method(void)
{
	static BIO_METHOD	*m;

	if (m != NULL)
		return m;
	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tlsio");
	if (m == NULL)
		return NULL;
	BIO_meth_set_read(m, bio_read);
	BIO_meth_set_write(m, bio_write);
	BIO_meth_set_ctrl(m, bio_ctrl);
	return m;
}

/* ---- output ---- */

static void
tlsio_fail(struct tlsio *io, const char *why)
{
	if (io->failed)
		return;
	io->failed = true;
	snprintf(io->why, sizeof(io->why), "%s", why);
	/* The owner hears of it from tlsio_read(). */
	event_active(io->rev, EV_READ, 0);
}

static void
tlsio_encrypt(struct tlsio *io)
{
	unsigned long	 e;
	char		 why[200], detail[160];

	if (io->plen == 0 || io->failed)
		return;
	ERR_clear_error();
	if (SSL_write(io->ssl, io->plain, (int)io->plen) <= 0) {
		e = ERR_get_error();
		ERR_error_string_n(e, detail, sizeof(detail));
		snprintf(why, sizeof(why), "TLS error while sending: %s",
		    e != 0 ? detail : "unknown");
		tlsio_fail(io, why);
	}
	io->plen = 0;
	if (io->lean) {
		free(io->plain);
		io->plain = NULL;
	}
}

/*
 * An idle connection should cost little: with OpenSSL's
 * SSL_MODE_RELEASE_BUFFERS its read buffer (TLSIO_READ) and write buffer
 * go back as soon as they are empty, and the plaintext buffer
 * (TLSIO_PLAIN) after each pass. A busy one keeps all three, so bulk
 * transfers allocate nothing per pass.
 */
void
tlsio_set_lean(struct tlsio *io, bool lean)
{
	if (io == NULL || io->lean == lean)
		return;
	io->lean = lean;
	if (!lean) {
		SSL_clear_mode(io->ssl, SSL_MODE_RELEASE_BUFFERS);
		SSL_set_default_read_buffer_len(io->ssl, TLSIO_READ);
		return;
	}
	/* A ping needs one record's buffer, not TLSIO_READ. */
	SSL_set_default_read_buffer_len(io->ssl, 0);
	SSL_set_mode(io->ssl, SSL_MODE_RELEASE_BUFFERS);
	(void)SSL_free_buffers(io->ssl);
	if (io->plen == 0) {
		free(io->plain);
		io->plain = NULL;
	}
}

static void
tlsio_write_out(struct tlsio *io)
{
	char	 why[160];

	if (io->writing || io->failed || evbuffer_get_length(io->cipher) == 0)
		return;
	if (evbuffer_write(io->cipher, io->fd) < 0 && errno != EAGAIN &&
	    errno != EWOULDBLOCK && errno != EINTR) {
		snprintf(why, sizeof(why), "connection error: %s",
		    strerror(errno));
		tlsio_fail(io, why);
		return;
	}
	if (evbuffer_get_length(io->cipher) > 0) {
		io->writing = true;
		event_add(io->wev, NULL);
	}
}

void
tlsio_flush(struct tlsio *io)
{
	tlsio_encrypt(io);
	tlsio_write_out(io);
}

void *
tlsio_reserve(struct tlsio *io, size_t len)
{
	if (io->plain == NULL)
		io->plain = xmalloc(TLSIO_PLAIN);
	if (io->plen + len > TLSIO_PLAIN)
		tlsio_encrypt(io);
	return io->plain + io->plen;
}

void
tlsio_commit(struct tlsio *io, size_t len)
{
	io->plen += len;
}

int
tlsio_write(struct tlsio *io, const void *data, size_t len)
{
	const uint8_t	*p = data;
	size_t		 n;

	while (len > 0 && !io->failed) {
		n = len < TLSIO_PLAIN ? len : TLSIO_PLAIN;
		memcpy(tlsio_reserve(io, n), p, n);
		tlsio_commit(io, n);
		p += n;
		len -= n;
	}
	return io->failed ? -1 : 0;
}

size_t
tlsio_queued(const struct tlsio *io)
{
	return io->plen + evbuffer_get_length(io->cipher);
}

/* ---- input ---- */

long
tlsio_read(struct tlsio *io, void *buf, size_t len)
{
	unsigned long	 e;
	int		 n;
	char		 detail[160], why[200];

	if (io->failed)
		return -1;
	if (evbuffer_get_length(io->early) > 0)
		return evbuffer_remove(io->early, buf, len);
	ERR_clear_error();
	n = SSL_read(io->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0)
		return n;
	switch (SSL_get_error(io->ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		/*
		 * Lean: the read buffer OpenSSL set up for this attempt is
		 * empty; SSL_MODE_RELEASE_BUFFERS only frees it after a
		 * record, not after a read that found nothing.
		 */
		if (io->lean)
			(void)SSL_free_buffers(io->ssl);
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		tlsio_fail(io, "the peer closed the connection");
		break;
	case SSL_ERROR_SYSCALL:
		if (io->sock_err == 0)
			tlsio_fail(io, "the peer closed the connection");
		else {
			snprintf(why, sizeof(why), "connection error: %s",
			    strerror(io->sock_err));
			tlsio_fail(io, why);
		}
		break;
	default:
		e = ERR_get_error();
		ERR_error_string_n(e, detail, sizeof(detail));
		snprintf(why, sizeof(why), "TLS error: %s",
		    e != 0 ? detail : "unknown");
		tlsio_fail(io, why);
		break;
	}
	return -1;
}

void
tlsio_read_later(struct tlsio *io)
{
	if (!io->failed)
		event_active(io->rev, EV_READ, 0);
}

const char *
tlsio_error(const struct tlsio *io)
{
	return io->why[0] != '\0' ? io->why : "the connection closed";
}

/* ---- events ---- */

static void
tlsio_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tlsio	*io = arg;

	(void)fd;
	io->may_recv = (what & EV_READ) != 0;
	io->cb(io->arg, io, TLSIO_READABLE);
}

static void
tlsio_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tlsio	*io = arg;

	(void)fd;
	(void)what;
	io->writing = false;
	tlsio_write_out(io);
	if (!io->failed && tlsio_queued(io) <= io->low)
		io->cb(io->arg, io, TLSIO_DRAINED);
}

struct tlsio *
tlsio_new(struct event_base *base, struct bufferevent *bev, size_t low,
    tlsio_cb *cb, void *arg)
{
	struct tlsio	*io;
	struct evbuffer	*out = bufferevent_get_output(bev);
	SSL		*ssl = bufferevent_openssl_get_ssl(bev);
	BIO_METHOD	*m = tlsio_method();
	int		 one = 1;

	if (ssl == NULL || m == NULL || bufferevent_getfd(bev) < 0) {
		bufferevent_free(bev);
		return NULL;
	}
	io = xcalloc(1, sizeof(*io));
	io->fd = bufferevent_getfd(bev);
	io->low = low;
	io->cb = cb;
	io->arg = arg;
	io->cipher = evbuffer_new();
	io->early = evbuffer_new();
	io->bio = BIO_new(m);
	if (io->cipher == NULL || io->early == NULL || io->bio == NULL)
		fatalx("tlsio: out of memory");
	BIO_set_data(io->bio, io);
	BIO_set_init(io->bio, 1);

	/* Take the SSL, what was read and queued, and the socket. */
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	evbuffer_add_buffer(io->early, bufferevent_get_input(bev));
	SSL_up_ref(ssl);
	io->ssl = ssl;
	SSL_set_bio(ssl, io->bio, io->bio);
	/*
	 * Read-ahead into a large buffer. The buffer the handshake used is
	 * one record long: free it (if it holds nothing) so that the next
	 * read allocates one of the new size; if it cannot be freed yet,
	 * reads are just smaller.
	 */
	SSL_set_read_ahead(ssl, 1);
	SSL_set_default_read_buffer_len(ssl, TLSIO_READ);
	(void)SSL_free_buffers(ssl);
	SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (evbuffer_get_length(out) > 0)
		tlsio_write(io, evbuffer_pullup(out, -1), evbuffer_get_length(out));
	bufferevent_free(bev);

	setsockopt(io->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	io->rev = event_new(base, io->fd, EV_READ | EV_PERSIST, tlsio_read_cb,
	    io);
	io->wev = event_new(base, io->fd, EV_WRITE, tlsio_write_cb, io);
	if (io->rev == NULL || io->wev == NULL)
		fatalx("tlsio: out of memory");
	event_add(io->rev, NULL);
	/* Records OpenSSL read with the handshake wait in it, not the socket. */
	event_active(io->rev, EV_READ, 0);
	return io;
}

void
tlsio_free(struct tlsio *io)
{
	if (io == NULL)
		return;
	if (!io->failed) {
		ERR_clear_error();
		tlsio_encrypt(io);
		if (SSL_shutdown(io->ssl) >= 0)
			(void)evbuffer_write(io->cipher, io->fd);
	}
	ERR_clear_error();
	BIO_set_data(io->bio, NULL);
	SSL_free(io->ssl);
	evutil_closesocket(io->fd);
	event_free(io->rev);
	event_free(io->wev);
	evbuffer_free(io->cipher);
	evbuffer_free(io->early);
	free(io->plain);
	free(io);
}
