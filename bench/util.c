#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "bench.h"
#include "hostport.h"

uint64_t
bench_now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
bench_addr_parse(const char *s, struct bench_addr *a, char *why,
    size_t whylen)
{
	struct hostport		 hp;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a->ss;
	char			 reason[160];

	char			 copy[128];
	size_t			 len = strlen(s);
	bool			 any_port = false;

	memset(a, 0, sizeof(*a));
	/* "ADDR:0" (listen on a port the kernel picks) is not a HOST:PORT. */
	snprintf(copy, sizeof(copy), "%s", s);
	if (len > 2 && len < sizeof(copy) && strcmp(s + len - 2, ":0") == 0) {
		copy[len - 2] = '\0';
		any_port = true;
	}
	if (hostport_parse(copy, 0, &hp, reason, sizeof(reason)) != 0) {
		snprintf(why, whylen, "\"%s\": %s", s, reason);
		return -1;
	}
	if (hp.port == 0 && !any_port) {
		snprintf(why, whylen, "\"%s\" names no port: write ADDR:PORT", s);
		return -1;
	}
	if (hp.kind == HOST_IPV4) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(hp.port);
		inet_pton(AF_INET, hp.host, &sin->sin_addr);
		a->len = sizeof(*sin);
	} else if (hp.kind == HOST_IPV6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(hp.port);
		inet_pton(AF_INET6, hp.host, &sin6->sin6_addr);
		a->len = sizeof(*sin6);
	} else {
		snprintf(why, whylen, "\"%s\": give an address literal "
		    "(127.0.0.1:PORT), the benchmark resolves no names", s);
		return -1;
	}
	hostport_format(a->text, sizeof(a->text), hp.host, hp.port);
	return 0;
}

int
bench_size_parse(const char *s, uint64_t *out)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Binds fd to IPv4 address src, leaving the port to connect(). */
static int
bind_source(int fd, uint32_t src)
{
	struct sockaddr_in	 sin;
	int			 one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(src);
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	return bind(fd, (struct sockaddr *)&sin, sizeof(sin));
}

static int
dial(const struct bench_addr *a, uint32_t src, int timeout_ms, bool nodelay,
    char *why, size_t whylen)
{
	struct timeval	 tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int		 fd, one = 1;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src != 0 && bind_source(fd, src) == -1) {
		snprintf(why, whylen, "bind to source address %u.%u.%u.%u: %s",
		    src >> 24, (src >> 16) & 0xff, (src >> 8) & 0xff, src & 0xff,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == -1) {
		snprintf(why, whylen, "connect to %s: %s", a->text,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
bench_dial(const struct bench_addr *a, int timeout_ms, bool nodelay,
    char *why, size_t whylen)
{
	return dial(a, 0, timeout_ms, nodelay, why, whylen);
}

int
bench_dial_from(const struct bench_addr *a, uint32_t src, int timeout_ms,
    char *why, size_t whylen)
{
	return dial(a, src, timeout_ms, true, why, whylen);
}

uint32_t
bench_loopback_source(const struct bench_addr *a, int i)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)&a->ss;

	if (a->ss.ss_family != AF_INET ||
	    (ntohl(sin->sin_addr.s_addr) >> 24) != 127)
		return 0;
	return (127u << 24) | (uint32_t)(2 + i % 250);
}

int
bench_write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
bench_read_full(int fd, void *buf, size_t len)
{
	char	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		n = recv(fd, p, len, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			errno = ECONNRESET;	/* EOF before the answer */
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
bench_put64(uint8_t *p, uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

uint64_t
bench_get64(const uint8_t *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

long
bench_raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long)rl.rlim_cur;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The sample at quantile q of sorted samples (nearest rank), in µs. */
static double
quantile_us(const uint64_t *s, size_t n, double q)
{
	size_t	 i = (size_t)(q * (double)n);

	if (i >= n)
		i = n - 1;
	return (double)s[i] / 1000.0;
}

void
bench_percentiles(uint64_t *samples, size_t n, char *dst, size_t dstlen)
{
	double	 sum = 0;
	size_t	 i;

	if (n == 0) {
		snprintf(dst, dstlen, "\"p50_us\":null,\"p99_us\":null,"
		    "\"p999_us\":null,\"mean_us\":null,\"max_us\":null");
		return;
	}
	qsort(samples, n, sizeof(*samples), cmp_u64);
	for (i = 0; i < n; i++)
		sum += (double)samples[i];
	snprintf(dst, dstlen, "\"p50_us\":%.1f,\"p90_us\":%.1f,"
	    "\"p99_us\":%.1f,\"p999_us\":%.1f,\"mean_us\":%.1f,\"max_us\":%.1f",
	    quantile_us(samples, n, 0.50), quantile_us(samples, n, 0.90),
	    quantile_us(samples, n, 0.99), quantile_us(samples, n, 0.999),
	    sum / (double)n / 1000.0, (double)samples[n - 1] / 1000.0);
}

int
bench_fail(const char *mode, const char *why)
{
	char	 esc[512];
	size_t	 i, j = 0;

	/* Quotes and backslashes escaped; control characters dropped. */
	for (i = 0; why[i] != '\0' && j + 2 < sizeof(esc); i++) {
		if (why[i] == '"' || why[i] == '\\')
			esc[j++] = '\\';
		if ((unsigned char)why[i] >= 0x20)
			esc[j++] = why[i];
	}
	esc[j] = '\0';
	printf("{\"mode\":\"%s\",\"ok\":false,\"error\":\"%s\"}\n", mode, esc);
	fflush(stdout);
	fprintf(stderr, "uplink-bench %s: %s\n", mode, why);
	return 1;
}
