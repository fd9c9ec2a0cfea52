#ifndef UPLINK_TUNNEL_H
#define UPLINK_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

/*
 * A tunnel: one HTTP/2 session (nghttp2) over one TLS connection from a
 * connector to the cloud, with the roles reversed as cloudflared does: the
 * connector made the TCP and TLS connection and is the HTTP/2 server; the
 * cloud is the HTTP/2 client and opens streams. Each stream is a CONNECT
 * (RFC 9113 section 8.5) to host:port and carries the bytes of one TCP
 * connection, bound on either end to a local socket bufferevent.
 *
 * Flow control is end to end. Bytes from the peer are credited back
 * (WINDOW_UPDATE) only when the local socket has taken them, so a slow
 * reader stops the sender; bytes from a local socket are read only while
 * less than the stream buffer is waiting to go out. A stream therefore
 * holds at most limits.stream_buffer bytes read from its socket and at
 * most its receive window (four stream buffers, never more than
 * conn_window) from the peer, whatever the amount of data sent; all the
 * streams of a tunnel together hold at most conn_window from the peer.
 * See docs/protocol.md.
 */

#define TUNNEL_ALPN		"uplink-tunnel/1"
#define TUNNEL_HOST_MAX		253
#define TUNNEL_REASON_MAX	200
/*
 * The reserved target of the stream on which a connector sends its log
 * lines to the cloud (connector/logship.c, cloud/logs.c): never dialled.
 */
#define TUNNEL_LOGS_HOST	"uplink.logs"
#define TUNNEL_LOGS_PORT	1
#define TUNNEL_SITE_MAX		63	/* uplink-site, uplink-connector values */

struct tunnel;
struct tunnel_stream;

struct tunnel_limits {
	uint32_t	 max_streams;		/* concurrent streams (10,000) */
	size_t		 stream_buffer;		/* per stream, read ahead (256 KiB) */
	size_t		 header_bytes;		/* header list we accept (16 KiB) */
	uint32_t	 pending_connects;	/* streams not yet answered (1,000) */
	size_t		 conn_window;		/* connection receive window (16 MiB) */
	int		 ping_interval_ms;	/* health PING (10 s) */
	int		 ping_misses;		/* unanswered in a row: dead (3) */
	int		 connect_timeout_ms;	/* a stream's answer (cloud, 30 s) */
};

/* Fills the defaults above. */
void tunnel_limits_default(struct tunnel_limits *lim);

enum tunnel_role {
	TUNNEL_CLOUD,		/* HTTP/2 client: opens streams */
	TUNNEL_CONNECTOR,	/* HTTP/2 server: answers them */
};

/*
 * Per-stream outcome. On the cloud, status 200 means the connector reached
 * the target: call tunnel_stream_bind() before returning. Any other status
 * is the connector's refusal (code and reason from its uplink-error and
 * uplink-reason headers); status 0 means the stream failed or was reset
 * (reason says why). On the connector, the callback runs only with status 0,
 * when the cloud abandons a stream before it was answered. After the
 * callback with any status other than 200 the stream is gone.
 */
typedef void tunnel_stream_cb(void *arg, struct tunnel_stream *s, int status,
    const char *code, const char *reason);

struct tunnel_callbacks {
	/*
	 * Connector only: the cloud asks for host:port. Answer later with
	 * tunnel_stream_accept() or tunnel_stream_refuse(); until then the
	 * stream counts as a pending connect. NULL: every CONNECT is
	 * refused (501, "not-supported").
	 */
	void	(*request)(void *arg, struct tunnel *t, struct tunnel_stream *s,
		    const char *host, uint16_t port);
	/*
	 * Connector only, may be NULL: the cloud asks "GET path" (any path
	 * but /v1/info). Answer later with tunnel_stream_reply(); until then
	 * the stream counts as a pending connect.
	 */
	void	(*get)(void *arg, struct tunnel *t, struct tunnel_stream *s,
		    const char *path);
	/* The tunnel is finished: closed, failed or shut down; why says which. */
	void	(*closed)(void *arg, struct tunnel *t, const char *why);
	/* The peer announced it is going away (GOAWAY); debug text if any. */
	void	(*goaway)(void *arg, struct tunnel *t, const char *why);
};

/*
 * Starts a tunnel on an established TLS bufferevent, which it takes over
 * (and frees). name labels log lines ("t3"). Returns NULL only when out of
 * memory (bev is then freed too).
 */
struct tunnel *tunnel_new(struct event_base *base, struct bufferevent *bev,
    enum tunnel_role role, const struct tunnel_limits *lim,
    const struct tunnel_callbacks *cb, void *arg, const char *name);

/*
 * Closes the tunnel now: every stream is reset and its socket closed. The
 * closed callback does not run. NULL is a no-op.
 */
void tunnel_free(struct tunnel *t);

/*
 * Says goodbye: sends GOAWAY carrying why, stops taking streams, and closes
 * once the frame is out (within a second). The closed callback runs.
 */
void tunnel_shutdown(struct tunnel *t, const char *why);

/*
 * Cloud only: graceful goodbye. Sends GOAWAY carrying why (a connector
 * reads "retry-after=N" in it as when to come back), takes no new
 * streams, ends its own requests (tunnel_request(): their callbacks run
 * with status 0) and closes when the open CONNECT streams are done
 * (closed runs then): an idle tunnel closes at once.
 */
void tunnel_goaway(struct tunnel *t, const char *why);

/*
 * Connector only: the JSON a cloud gets for "GET /v1/info" on this tunnel
 * (version, name, tunnels...). Copied; may be set again.
 */
void tunnel_set_info(struct tunnel *t, const char *json);

/*
 * Cloud only: asks the connector for a JSON document over the tunnel:
 * "GET path", answered by the connector's get callback ("/v1/info" is
 * answered by the tunnel itself from tunnel_set_info()). cb runs once with
 * the HTTP status (0 when the stream failed, was reset or took longer than
 * timeout_ms; 0 means the tunnel's connect timeout) and the body (at most
 * TUNNEL_REPLY_MAX bytes, NUL-terminated). Returns -1 when the tunnel
 * cannot take the request now.
 */
#define TUNNEL_REPLY_MAX	(256 * 1024)
#define TUNNEL_PATH_MAX		63
typedef void tunnel_reply_cb(void *arg, struct tunnel *t, int status,
    const char *body);
int tunnel_request(struct tunnel *t, const char *path, int timeout_ms,
    tunnel_reply_cb *cb, void *arg);
/*
 * tunnel_request() for a named connector behind the peer (an uplink-cloud
 * instance forwarding over a peer link, cloud/peer.c): the request
 * carries "uplink-connector: connector" and even "GET /v1/info" goes to
 * the answering side's get callback, which reads the name with
 * tunnel_stream_connector(). connector NULL or "" is tunnel_request().
 */
int tunnel_request_for(struct tunnel *t, const char *connector,
    const char *path, int timeout_ms, tunnel_reply_cb *cb, void *arg);

/*
 * Connector only: answers a GET that the get callback was handed, with an
 * HTTP status (200, 404, 503...) and a JSON body (copied, at most
 * TUNNEL_REPLY_MAX bytes). The stream is gone afterwards. If the cloud
 * gives up first, the callback set with tunnel_stream_set_cb() runs with
 * status 0 and the stream is gone then instead.
 */
void tunnel_stream_reply(struct tunnel_stream *s, int status,
    const char *json);

/*
 * Connector only: graceful drain. Tells the cloud to open no more streams
 * (GOAWAY after a shutdown notice) while the existing ones go on.
 */
void tunnel_drain(struct tunnel *t);

/*
 * Cloud only: opens a stream to host:port. cb reports the answer. Returns
 * NULL when the tunnel cannot take a stream now (draining, or at its
 * stream or pending limit).
 */
struct tunnel_stream *tunnel_open(struct tunnel *t, const char *host,
    uint16_t port, tunnel_stream_cb *cb, void *arg);
/*
 * tunnel_open() that also says, for a peer instance that forwards it
 * (cloud/peer.c), which site the target is in ("uplink-site") and, when
 * not NULL or "", which connector should carry it ("uplink-connector").
 * Names longer than TUNNEL_SITE_MAX are refused (NULL); the answering
 * side resets a stream that carries one.
 */
struct tunnel_stream *tunnel_open_for(struct tunnel *t, const char *site,
    const char *connector, const char *host, uint16_t port,
    tunnel_stream_cb *cb, void *arg);
/* Answering side: the stream's uplink-site / uplink-connector, or "". */
const char *tunnel_stream_site(const struct tunnel_stream *s);
const char *tunnel_stream_connector(const struct tunnel_stream *s);

/*
 * Binds an answered stream to a local socket bufferevent, which the stream
 * takes over: bytes already in its input buffer are sent first. From here
 * on the stream runs by itself and frees itself (and bev) when both
 * directions are done or either side fails.
 */
void tunnel_stream_bind(struct tunnel_stream *s, struct bufferevent *bev);

/* Connector only: answers 200 and binds bev, as tunnel_stream_bind(). */
void tunnel_stream_accept(struct tunnel_stream *s, struct bufferevent *bev);

/*
 * Joins two streams of two different tunnels end to end, each taking the
 * other's place as its local socket: a is an unanswered CONNECT on a
 * TUNNEL_CONNECTOR tunnel (answered 200 here), b a stream just answered
 * 200 on a TUNNEL_CLOUD tunnel (called from its callback instead of
 * tunnel_stream_bind()). What a's peer sends goes out on b and is
 * credited to a's peer only as b sends it, and the other way round; an
 * END_STREAM on one is the other's end of file; a reset of either resets
 * the other. So a joined pair holds at most the two receive windows,
 * whatever the amount carried. For an instance answering a forwarded
 * stream (cloud/peer.c). If a was abandoned meanwhile, it is freed and b
 * reset.
 */
void tunnel_stream_join(struct tunnel_stream *a, struct tunnel_stream *b);

/*
 * Connector only: refuses with an HTTP status (403, 502, 503, 504), a
 * short code ("not-allowed", "refused", ...) and a reason for the cloud's
 * log. The stream is gone afterwards.
 */
void tunnel_stream_refuse(struct tunnel_stream *s, int status,
    const char *code, const char *reason);

/*
 * Connector only: asks to hear (status 0) if the cloud abandons the stream
 * before it is answered, so a dial in progress can be cancelled.
 */
void tunnel_stream_set_cb(struct tunnel_stream *s, tunnel_stream_cb *cb,
    void *arg);

/* Cloud only: gives up on an unanswered stream (RST_STREAM); it is gone. */
void tunnel_stream_cancel(struct tunnel_stream *s);

/*
 * Cloud: asks to hear when a bound stream is gone, whatever the reason
 * (both sides done, a reset, the tunnel closed, tunnel_stream_close()).
 * gone(arg) runs once, as the stream is being freed: it must not use the
 * stream. gone NULL stops it.
 */
void tunnel_stream_on_gone(struct tunnel_stream *s, void (*gone)(void *),
    void *arg);

/*
 * Ends a stream now: RST_STREAM (CANCEL) to the peer, a TCP reset of the
 * local socket, and why in the log with the stream's name. Its gone
 * callback runs; the stream is gone afterwards.
 */
void tunnel_stream_close(struct tunnel_stream *s, const char *why);

/* "t3/s17", for log lines. */
const char *tunnel_stream_name(const struct tunnel_stream *s);

/* Figures for routing and status. */
struct tunnel_stats {
	uint32_t	 streams;	/* open now */
	uint32_t	 pending;	/* not yet answered */
	uint64_t	 streams_total;
	uint64_t	 bytes_in;	/* payload received from the peer */
	uint64_t	 bytes_out;	/* payload sent to the peer */
	long		 rtt_ms;	/* last PING round trip, -1 if none yet */
	bool		 draining;	/* GOAWAY sent or received */
};

void tunnel_stats(const struct tunnel *t, struct tunnel_stats *st);
/*
 * Cloud: the stream is the cloud's own (a connector's log, cloud/logs.c),
 * not a client's: tunnel_stats() leaves it out of streams, so status,
 * metrics, history and the choice of the least-loaded connector count
 * only what clients opened.
 */
void tunnel_stream_set_internal(struct tunnel_stream *s);
const char *tunnel_name(const struct tunnel *t);

/* True when the tunnel can take a new stream (cloud side). */
bool tunnel_usable(const struct tunnel *t);

#endif
