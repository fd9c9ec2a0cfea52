#ifndef UPLINK_BENCH_H
#define UPLINK_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * uplink-bench: the load tool behind bench/run. One program is both the
 * target server every benchmarked path ends at and the client that drives
 * traffic through a path, so every path carries the same bytes to the same
 * server. Each client mode prints one JSON object on one line of stdout.
 *
 * The wire protocol between client and target is one mode byte, then:
 *
 *   'S' N(8, big endian)  sink: the client sends N bytes, the server answers
 *                         with the 8-byte count once it has read all N
 *   'O' N(8, big endian)  source: the server sends N bytes
 *   'E'                   echo: every byte is sent back (rr, idle)
 *   'C'                   connect: the server sends one byte ('c')
 *
 * after which the server waits for the client's end-of-file. Nothing relies
 * on half-closed connections, which not every relay passes on.
 */

#define BENCH_MODE_SINK		'S'
#define BENCH_MODE_SOURCE	'O'
#define BENCH_MODE_ECHO		'E'
#define BENCH_MODE_CONNECT	'C'
#define BENCH_HDR_LEN		9	/* mode byte + 64-bit count */
#define BENCH_IO_BUF		(256 * 1024)

/* A numeric address to connect to or listen on (no name lookups). */
struct bench_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 text[80];
};

/* Everything the command line sets; each mode reads what it needs. */
struct bench_opts {
	struct bench_addr	 addr;		/* --to / --listen */
	uint64_t		 bytes;		/* sink, source: total */
	int			 streams;	/* sink, source: parallel streams */
	double			 seconds;	/* rr, connect: duration */
	double			 timeout;	/* any mode: give up after */
	double			 hold;		/* idle: max seconds to hold */
	int			 size;		/* rr: message size */
	int			 parallel;	/* connect: concurrent clients */
	int			 count;		/* idle: connections */
	int			 batch;		/* idle: connects in flight */
	int			 threads;	/* server: event loops */
	bool			 watch_stdin;	/* server: stop at stdin EOF */
};

/* ---- util.c ---- */

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/*
 * Parses "ADDR:PORT" (IPv4 or bracketed IPv6 literal, through the core
 * library's hostport parser) into a. Returns 0, or -1 with why filled.
 */
int bench_addr_parse(const char *s, struct bench_addr *a, char *why,
    size_t whylen);

/* Parses a byte count with an optional k, m or g suffix (powers of 1024). */
int bench_size_parse(const char *s, uint64_t *out);

/*
 * A blocking TCP connection to a, with send and receive timeouts of
 * timeout_ms and TCP_NODELAY if nodelay. Returns the socket, or -1 with
 * why saying what failed and where.
 */
int bench_dial(const struct bench_addr *a, int timeout_ms, bool nodelay,
    char *why, size_t whylen);

/*
 * The same from IPv4 source address src (host order; 0 for any) with
 * TCP_NODELAY, binding without a port (IP_BIND_ADDRESS_NO_PORT) so that
 * the kernel still picks the port at connect time.
 */
int bench_dial_from(const struct bench_addr *a, uint32_t src, int timeout_ms,
    char *why, size_t whylen);

/*
 * Client i's source address towards a: 127.0.0.(2 + i % 250) when a is an
 * IPv4 loopback address, else 0 (any).
 */
uint32_t bench_loopback_source(const struct bench_addr *a, int i);

/* Writes or reads exactly len bytes on a blocking socket; -1 and errno. */
int bench_write_all(int fd, const void *buf, size_t len);
int bench_read_full(int fd, void *buf, size_t len);

/* Big-endian 64-bit helpers for the protocol header. */
void bench_put64(uint8_t *p, uint64_t v);
uint64_t bench_get64(const uint8_t *p);

/* Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the result. */
long bench_raise_nofile(void);

/*
 * Sorts samples (nanoseconds) in place and writes
 * "p50_us":..,"p99_us":..,"p999_us":..,"mean_us":..,"max_us":.. into dst.
 */
void bench_percentiles(uint64_t *samples, size_t n, char *dst, size_t dstlen);

/* Prints a one-line JSON error for mode and returns the exit status 1. */
int bench_fail(const char *mode, const char *why);

/* ---- the modes ---- */
int bench_server(const struct bench_opts *o);
int bench_bulk(const struct bench_opts *o, int mode);
int bench_rr(const struct bench_opts *o);
int bench_connect(const struct bench_opts *o);
int bench_idle(const struct bench_opts *o);
/* tunnels.c: its own options (connector identities). */
int bench_tunnels(int argc, char **argv);

#endif
