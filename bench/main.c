#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "log.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-bench MODE [OPTIONS]\n"
"\n"
"The load tool of uplink's benchmarks (bench/run drives it). Client modes\n"
"print one JSON object per line on stdout and exit 0 when every exchange\n"
"completed; the server runs until SIGTERM (or stdin's end with --watch-stdin).\n"
"\n"
"Modes:\n"
"  server  --listen ADDR:PORT   the target: sink, source, echo and connect\n"
"          [--threads N (2)]    answers (protocol in bench/bench.h); PORT 0\n"
"          [--watch-stdin]      lets the kernel pick and prints it\n"
"  sink    --to ADDR:PORT --bytes N [--streams K (1)]\n"
"                               sends N bytes in all over K streams; the\n"
"                               target confirms the count: Gbit/s\n"
"  source  --to ADDR:PORT --bytes N [--streams K (1)]\n"
"                               the target sends N bytes in all\n"
"  rr      --to ADDR:PORT [--size B (64)] [--seconds S (2)]\n"
"                               request/response round trips on one\n"
"                               connection: p50/p90/p99/p999 in µs\n"
"  connect --to ADDR:PORT [--parallel P (8)] [--seconds S (2)]\n"
"                               open, one byte each way, close: per second\n"
"  idle N  --to ADDR:PORT [--batch B (100)] [--hold S (600)]\n"
"                               holds N idle connections, each proven open\n"
"                               end to end; prints when all are, holds them\n"
"                               until stdin closes or S seconds, checks them\n"
"  tunnels --to ADDR:PORT --sni NAME --ca CA --id CERT:KEY [--id ...]\n"
"          [--per T (1)] [--batch B (100)] [--hold S (3600)]\n"
"                               holds T connector tunnels per identity,\n"
"                               redials lost ones: times to all up (bench/\n"
"                               cluster)\n"
"\n"
"Common: --timeout S (60) per connection step and for idle's phases.\n"
"Sizes take k, m or g (powers of 1024). Only address literals: no names.\n");
}

enum { OPT_WATCH = 256 };

static const struct option longopts[] = {
	{ "to",		 required_argument, NULL, 't' },
	{ "listen",	 required_argument, NULL, 'l' },
	{ "bytes",	 required_argument, NULL, 'b' },
	{ "streams",	 required_argument, NULL, 'n' },
	{ "seconds",	 required_argument, NULL, 's' },
	{ "timeout",	 required_argument, NULL, 'T' },
	{ "hold",	 required_argument, NULL, 'H' },
	{ "size",	 required_argument, NULL, 'z' },
	{ "parallel",	 required_argument, NULL, 'p' },
	{ "batch",	 required_argument, NULL, 'B' },
	{ "threads",	 required_argument, NULL, 'j' },
	{ "watch-stdin", no_argument,	    NULL, OPT_WATCH },
	{ "help",	 no_argument,	    NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* A positive integer option; exits with a message when it is not one. */
static int
int_arg(const char *name, const char *v)
{
	char	*end;
	long	 n = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || n < 1 || n > 10000000) {
		fprintf(stderr, "uplink-bench: --%s \"%s\": give a whole number "
		    "from 1 to 10000000\n", name, v);
		exit(2);
	}
	return (int)n;
}

static double
seconds_arg(const char *name, const char *v)
{
	char	*end;
	double	 d = strtod(v, &end);

	if (*v == '\0' || *end != '\0' || !(d > 0) || d > 86400) {
		fprintf(stderr, "uplink-bench: --%s \"%s\": give seconds, more "
		    "than 0 and at most 86400\n", name, v);
		exit(2);
	}
	return d;
}

static void
addr_arg(const char *v, struct bench_addr *a)
{
	char	 why[256];

	if (bench_addr_parse(v, a, why, sizeof(why)) != 0) {
		fprintf(stderr, "uplink-bench: %s\n", why);
		exit(2);
	}
}

static void
parse_opts(int argc, char **argv, struct bench_opts *o, bool *have_addr)
{
	int	 ch;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
		case 'l':
			addr_arg(optarg, &o->addr);
			*have_addr = true;
			break;
		case 'b':
			if (bench_size_parse(optarg, &o->bytes) != 0 ||
			    o->bytes == 0) {
				fprintf(stderr, "uplink-bench: --bytes \"%s\": "
				    "give a size such as 1g or 8m\n", optarg);
				exit(2);
			}
			break;
		case 'n': o->streams = int_arg("streams", optarg); break;
		case 's': o->seconds = seconds_arg("seconds", optarg); break;
		case 'T': o->timeout = seconds_arg("timeout", optarg); break;
		case 'H': o->hold = seconds_arg("hold", optarg); break;
		case 'z': o->size = int_arg("size", optarg); break;
		case 'p': o->parallel = int_arg("parallel", optarg); break;
		case 'B': o->batch = int_arg("batch", optarg); break;
		case 'j': o->threads = int_arg("threads", optarg); break;
		case OPT_WATCH: o->watch_stdin = true; break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
}

int
main(int argc, char **argv)
{
	struct bench_opts	 o = { .streams = 1, .seconds = 2, .timeout = 60,
	    .hold = 600, .size = 64, .parallel = 8, .batch = 100, .threads = 2 };
	const char		*mode = argc > 1 ? argv[1] : "";
	bool			 have_addr = false;

	log_init("uplink-bench", 1, LOG_LEVEL_WARN);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "help") == 0 || strcmp(mode, "--help") == 0 ||
	    strcmp(mode, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(mode, "tunnels") == 0)
		return bench_tunnels(argc - 1, argv + 1);
	if (strcmp(mode, "idle") == 0 && argc > 2) {
		o.count = int_arg("idle N", argv[2]);
		argv++;
		argc--;
	}
	parse_opts(argc - 1, argv + 1, &o, &have_addr);
	if (optind != argc - 1 || !have_addr) {
		usage(stderr);
		return 2;
	}
	if (strcmp(mode, "server") == 0)
		return bench_server(&o);
	if (strcmp(mode, "sink") == 0 && o.bytes > 0)
		return bench_bulk(&o, BENCH_MODE_SINK);
	if (strcmp(mode, "source") == 0 && o.bytes > 0)
		return bench_bulk(&o, BENCH_MODE_SOURCE);
	if (strcmp(mode, "rr") == 0)
		return bench_rr(&o);
	if (strcmp(mode, "connect") == 0)
		return bench_connect(&o);
	if (strcmp(mode, "idle") == 0 && o.count > 0)
		return bench_idle(&o);
	usage(stderr);
	return 2;
}
