/*
 * cloudconf: a table of configuration files, each with the error it must
 * produce ("LINE: text", matched after "FILE:") or none; a table for
 * size_parse(); and tests that read the values of valid files.
 * Files are written to a private temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudconf.h"
#include "duration.h"
#include "error.h"
#include "log.h"

static char	 tmpdir[] = "/tmp/test_cloudconf.XXXXXX";
static char	 conf[256];

static void
write_conf(const char *text)
{
	FILE	*fp = fopen(conf, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

static int
load(const char *text, struct cloud_config *cfg, char *err, size_t errlen)
{
	write_conf(text);
	err[0] = '\0';
	return cloudconf_load(conf, cfg, err, errlen);
}

struct file_row {
	const char	*text;
	const char	*err;	/* "LINE: text" right after "FILE:", or text
				   anywhere in the message; NULL: valid */
};

#define L100	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define CLU_STORE	"[store]\nurl = postgresql://db.example/uplink\n"
#define CLU	CLU_STORE "[cluster]\ninstance = i1\n" \
		"peer_listen = 127.0.0.1:7443\n"
#define PUB	"[publish web]\nlisten = 127.0.0.1:9000\nsite = hq\n" \
		"target = intranet.corp.example:80\n"

static const struct file_row file_rows[] = {
	/* Valid files. */
	{ "", NULL },
	{ "; only a comment\n# another\n\n", NULL },
	{ "[cloud]\ndata_dir = /srv/uplink\nlisten = 0.0.0.0:8443\n", NULL },
	{ "[cloud]\nhttp_listen = off\n[ingress]\nlisten = OFF\n", NULL },
	{ "[cloud]\nlisten = [::1]:443 ; TLS\nhttp_listen = [::1]:80\n", NULL },
	{ "[cloud]\ncert = /etc/c.pem\nkey = /etc/k.pem\n", NULL },
	{ "[cloud]\ncert_lifetime = 1h\n", NULL },
	{ "[cloud]\ncert_lifetime = 365d\n", NULL },
	{ "[limits]\nstreams_per_tunnel = 1\npending_connects = 100000\n",
	    NULL },
	{ "[limits]\nstream_buffer = 16k\nheader_bytes = 64K\n", NULL },
	{ "[limits]\nstream_buffer = 16m\nheader_bytes = 1024\n", NULL },
	{ "[log]\nlevel = warning\n", NULL },
	{ "[LOG]\nLEVEL = Debug\n", NULL },
	{ PUB, NULL },
	{ PUB "[publish api]\nlisten = 127.0.0.1:9001\nsite = hq\n"
	    "target = [fd00::1]:8080\n", NULL },
	{ "  [cloud]\n    listen = 0.0.0.0:443\n\tdata_dir = /x\n", NULL },
	{ "\xef\xbb\xbf[cloud]\nlisten = 0.0.0.0:443\n", NULL },
	{ "[publish a.b_c-D]\nlisten = 127.0.0.1:1\nsite = s\ntarget = t:1\n",
	    NULL },
	{ "[cloud]\nhttp_listen = off\n[publish web]\nlisten = 0.0.0.0:80\n"
	    "site = hq\ntarget = t:80\n", NULL },
	{ "[cloud]\nlisten = 192.0.2.1:443\n[publish w]\n"
	    "listen = 192.0.2.2:443\nsite = hq\ntarget = t:1\n", NULL },
	{ "[publish w]\nlisten = [::1]:443\nsite = hq\ntarget = t:1\n", NULL },

	/* Syntax, sections and keys. */
	{ "listen = 0.0.0.0:443\n", "1: \"listen\" is outside any section" },
	{ "[cloud]\nlisten\n", "2: not INI syntax" },
	{ "[cloud\nlisten = 0.0.0.0:1\n", "1: not INI syntax" },
	{ "[cloud]\nlisten = x:1\n[oops]\n", "3: unknown section [oops] "
	    "(known: [cloud], [ingress], [limits], [log], [logs], [metrics], "
	    "[store], [cluster], [update], [publish NAME])" },
	{ "[update]\noutdated_after = 10m\n", "2: [update] outdated_after = "
	    "\"10m\" is out of range; use 1h to 3650d (e.g. 30d)" },
	{ "[update]\nnewest = 1\n", "2: unknown key \"newest\" in [update] "
	    "(known: outdated_after, step_timeout)" },
	/* [store] (issue 14): the database, never with its password. */
	{ "[store]\nurl = sqlite:/srv/u.db\n", NULL },
	{ "[store]\nurl = postgresql://uplink@db/uplink\npassword_file = "
	    "/etc/uplink/pw\ntimeout = 5s\n", NULL },
	{ "[store]\nurl = host=/run/postgresql dbname=uplink\n", NULL },
	{ "[store]\nurl = postgresql://u:pw@db/uplink\n", "2: [store] url "
	    "has a password in it; remove it and put the password alone in a "
	    "file" },
	{ "[store]\nurl = host=db password=x\n", "2: [store] url has a "
	    "password in it" },
	{ "[store]\nurl = mysql://db\n", "2: [store] url = \"mysql://db\" "
	    "is neither sqlite:PATH nor a PostgreSQL URL" },
	{ "[store]\nurl = sqlite:\n", "2: [store] url: \"sqlite:\" names no "
	    "file" },
	{ "[store]\ntimeout = 0s\n", "2: [store] timeout" },
	{ "[cloud]\nport = 443\n", "2: unknown key \"port\" in [cloud] (known: "
	    "data_dir, listen, http_listen, cert, key, cert_lifetime, "
	    "drain_timeout, check_interval, packages)" },
	{ "[limits]\nstreams = 5\n", "2: unknown key \"streams\" in [limits]" },
	{ "[cloud]\nlisten = 0.0.0.0:1\nlisten = 0.0.0.0:2\n",
	    "3: [cloud] listen is set twice (first on line 2); keep one" },
	{ "[cloud]\nlisten = 0.0.0.0:1\n[cloud]\nLISTEN = 0.0.0.0:2\n",
	    "4: [cloud] listen is set twice (first on line 2)" },
	{ "[cloud]\ndata_dir = /" L100 L100 "\n", "2: line longer than 199 "
	    "characters" },

	/* [cloud] values. */
	{ "[cloud]\nlisten = off\n", "2: [cloud] listen cannot be \"off\"" },
	{ "[cloud]\nlisten = 0.0.0.0\n", "2: [cloud] listen = \"0.0.0.0\" has "
	    "no port; write ADDRESS:PORT, e.g. 0.0.0.0:443" },
	{ "[cloud]\nlisten = 0.0.0.0:0\n", "2: [cloud] listen = \"0.0.0.0:0\": "
	    "port 0 is out of range (1-65535)" },
	{ "[cloud]\nhttp_listen = nope!:80\n", "2: [cloud] http_listen = "
	    "\"nope!:80\": invalid character '!'" },
	{ "[cloud]\nhttp_listen = 80\n", "2: [cloud] http_listen = \"80\"" },
	{ "[cloud]\nhttp_listen = fd00::1:80\n", "has no port" },
	{ "[ingress]\nlisten = 127.0.0.1:99999\n", "2: [ingress] listen = "
	    "\"127.0.0.1:99999\": port 99999 is out of range" },
	{ "[ingress]\nlisten = 127.0.0.1\n", "2: [ingress] listen = "
	    "\"127.0.0.1\" has no port" },
	{ "[cloud]\ndata_dir =\n", "2: [cloud] data_dir is empty; write a "
	    "path" },
	{ "[cloud]\ncert = /c.pem\n", "2: [cloud] cert is set but key is not" },
	{ "[cloud]\n\nkey = /k.pem\n", "3: [cloud] key is set but cert is not" },
	{ "[cloud]\ncert_lifetime = 29s\n", "2: [cloud] cert_lifetime = "
	    "\"29s\" is out of range; use 30s to 365d" },
	{ "[cloud]\ncert_lifetime = 30s\n", NULL },
	{ "[cloud]\ndrain_timeout = 1s\n", NULL },
	{ "[cloud]\ncheck_interval = 0\n", NULL },
	{ "[cloud]\npackages = /srv/uplink/packages\n", NULL },
	{ "[cloud]\npackages =\n", "2: [cloud] packages is empty" },
	{ "[cloud]\ncheck_interval = 30m\n", NULL },
	{ "[cloud]\ncheck_interval = 8d\n", "2: [cloud] check_interval" },
	{ "[cloud]\ncheck_interval = soon\n", "2: [cloud]" },
	/* [logs] (issue 16): connector logs and events. */
	{ "[logs]\nretention = 3s\nmax_bytes_per_connector = 16k\n"
	    "lines_per_second = 1\nbytes_per_second = 1k\n"
	    "events_retention = 3650d\n", NULL },
	{ "[logs]\nretention = 366d\n", "2: [logs] retention = \"366d\" is "
	    "out of range; use 1s to 365d" },
	{ "[logs]\nmax_bytes_per_connector = 1k\n", "2: [logs] "
	    "max_bytes_per_connector = \"1k\" is out of range; use 16k to "
	    "1024m" },
	{ "[logs]\nlines_per_second = 0\n", "2: [logs] lines_per_second = "
	    "\"0\" is out of range; use 1 to 100000" },
	{ "[logs]\nbytes_per_second = lots\n", "2: [logs] bytes_per_second" },
	{ "[logs]\nkeep = 7d\n", "2: unknown key" },
	{ "[cloud]\ndrain_timeout = 2h\n", "2: [cloud] drain_timeout = "
	    "\"2h\" is out of range; use 1s to 1h" },
	{ "[limits]\nping_interval = 1s\nping_misses = 10\n", NULL },
	{ "[limits]\nping_interval = 301s\n", "out of range; use 1s to 5m" },
	{ "[limits]\nping_misses = 0\n", "out of range; use 1 to 10" },
	{ "[cloud]\ncert_lifetime = 366d\n", "out of range; use 30s to 365d" },
	{ "[cloud]\ncert_lifetime = 30x\n", "2: [cloud] cert_lifetime" },

	/* [metrics] (cloud/metrics.c). */
	{ "[metrics]\nlisten = 127.0.0.1:9464\nallow = 127.0.0.1, "
	    "10.0.0.0/8 ::1\tfd00::/8 0.0.0.0/0\ninstance = eu-1.x:443\n", NULL },
	{ "[metrics]\nlisten = off\n", NULL },
	{ "[metrics]\nallow = 10.1.2.3/8\n", "2: [metrics] allow: 10.1.2.3/8 "
	    "has host bits set (write the network address)" },
	{ "[metrics]\nallow = ::1/129\n", "2: [metrics] allow: the prefix "
	    "length of ::1 must be 0 to 128" },
	{ "[metrics]\nallow = 10.0.0.0/\n", "must be 0 to 32" },
	{ "[metrics]\nallow = host.example\n", "2: [metrics] allow: "
	    "\"host.example\" is not an IPv4 or IPv6 address" },
	{ "[metrics]\nallow = , ,\n", "2: [metrics] allow is empty" },
	{ "[metrics]\ninstance = a b\n", "2: [metrics] instance = \"a b\": "
	    "write 1 to 63" },
	{ "[metrics]\nlisten = 127.0.0.1\n", "2: [metrics] listen = "
	    "\"127.0.0.1\" has no port" },
	{ "[metrics]\nport = 1\n", "2: unknown key \"port\" in [metrics] "
	    "(known: listen, allow, instance)" },
	{ "[ingress]\nlisten = 127.0.0.1:9464\n[metrics]\n"
	    "listen = 127.0.0.1:9464\n", "4: [metrics] listen 127.0.0.1:9464 "
	    "collides with [ingress] listen" },

	/* [limits] values. */
	{ "[limits]\nstreams_per_tunnel = 0\n", "2: [limits] "
	    "streams_per_tunnel = \"0\" is out of range; use 1 to 100000" },
	{ "[limits]\nstreams_per_tunnel = 100001\n", "use 1 to 100000" },
	{ "[limits]\nstreams_per_tunnel = 99999999999999999999\n",
	    "is not a whole number; write one from 1 to 100000" },
	{ "[limits]\npending_connects = -1\n", "2: [limits] pending_connects "
	    "= \"-1\" is not a whole number" },
	{ "[limits]\npending_connects = 1e3\n", "is not a whole number" },
	{ "[limits]\ntunnels_per_connector = 1\npending_per_connector = "
	    "100000\n", NULL },
	{ "[limits]\ntunnels_per_connector = 0\n", "2: [limits] "
	    "tunnels_per_connector = \"0\" is out of range; use 1 to 1000" },
	{ "[limits]\ntunnels_per_connector = 1001\n", "use 1 to 1000" },
	{ "[limits]\npending_per_connector = 0\n", "2: [limits] "
	    "pending_per_connector = \"0\" is out of range; use 1 to 100000" },
	{ "[limits]\nstream_buffer = 15k\n", "2: [limits] stream_buffer = "
	    "\"15k\" is out of range; use 16k to 16m" },
	{ "[limits]\nstream_buffer = 17m\n", "use 16k to 16m" },
	{ "[limits]\nstream_buffer = 256kb\n", "2: [limits] stream_buffer = "
	    "\"256kb\" is not a size" },
	{ "[limits]\nheader_bytes = 1023\n", "use 1k to 64k" },
	{ "[limits]\nheader_bytes = 65537\n", "use 1k to 64k" },
	/* [limits] of the listeners (cloud/front.c). */
	{ "[limits]\ntls_connections = 1\ntls_connections_per_address = 1\n"
	    "tls_handshakes_per_address = 1000000\nhttp_connections = 5\n"
	    "http_connections_per_address = 2\ntls_first_byte_timeout = 1s\n"
	    "tls_handshake_timeout = 5m\nrequest_head_timeout = 2s\n", NULL },
	{ "[limits]\ntls_connections = 0\n", "2: [limits] tls_connections = "
	    "\"0\" is out of range; use 1 to 1000000 (e.g. 4096)" },
	{ "[limits]\nhttp_connections_per_address = 1000001\n",
	    "use 1 to 1000000 (e.g. 64)" },
	{ "[limits]\ntls_handshakes_per_address = x\n", "2: [limits] "
	    "tls_handshakes_per_address = \"x\" is not a whole number" },
	{ "[limits]\ntls_first_byte_timeout = 0\n", "2: [limits] "
	    "tls_first_byte_timeout" },
	{ "[limits]\ntls_first_byte_timeout = 61s\n", "2: [limits] "
	    "tls_first_byte_timeout = \"61s\" is out of range; use 1s to 60s" },
	{ "[limits]\nrequest_head_timeout = 301s\n", "use 1s to 5m (e.g. 10s)" },
	{ "[limits]\ntls_handshake_timeout = soon\n", "2: [limits] "
	    "tls_handshake_timeout" },
	{ "[log]\nlevel = verbose\n", "2: [log] level = \"verbose\" is not one "
	    "of debug, info, warning" },
	{ "[log]\nfile = /x\n", "2: unknown key \"file\" in [log] (known: "
	    "level)" },

	/* Connection caps of the ingress and services (its deadline is [limits]'). */
	{ "[ingress]\nconnections_per_address = 1\n",
	    NULL },
	{ "[limits]\nservice_connections = 100000\n"
	    "service_connections_per_address = 1\n", NULL },
	{ PUB "connections = 5\nconnections_per_address = 2\n", NULL },
	{ "[ingress]\nhead_timeout = 10s\n", "2: unknown key \"head_timeout\" in "
	    "[ingress]" },
	{ "[ingress]\nconnections_per_address = 0\n", "2: [ingress] "
	    "connections_per_address = \"0\" is out of range; use 1 to "
	    "100000" },
	{ "[limits]\nservice_connections = 0\n", "2: [limits] "
	    "service_connections = \"0\" is out of range" },
	{ "[limits]\nservice_connections_per_address = x\n", "2: [limits] "
	    "service_connections_per_address = \"x\" is not a whole number" },
	{ PUB "connections = 0\n", "5: [publish web] connections = \"0\" is "
	    "out of range; use 1 to 100000" },
	{ PUB "connections_per_address = 1\nconnections_per_address = 2\n",
	    "6: [publish web] connections_per_address is set twice (first on "
	    "line 5)" },

	/* [publish NAME]. */
	{ "[publish]\n", "1: [publish] needs a name" },
	{ "[publish bad/name]\n", "1: [publish bad/name]: a name has 1 to 63 "
	    "letters, digits, '_', '.' or '-'" },
	{ "[publish " L100 "]\n", "1: [publish xxxx" },
	{ PUB "[publish WEB]\n", "5: [publish WEB] is already defined on line "
	    "1; give each section its own name" },
	{ "[cloud]\n[publish web]\nsite = hq\ntarget = t:1\n",
	    "2: [publish web] has no listen; add a line such as \"listen = "
	    "127.0.0.1:9000\"" },
	{ "[publish web]\nlisten = 127.0.0.1:9000\ntarget = t:1\n",
	    "1: [publish web] has no site" },
	{ "[publish web]\nlisten = 127.0.0.1:9000\nsite = hq\n",
	    "1: [publish web] has no target" },
	{ "[publish web]\n", "1: [publish web] has no listen" },
	{ "[publish w]\nsite = -hq\n", "2: [publish w] site: site name \"-hq\" "
	    "must start with a letter or digit" },
	{ "[publish w]\nsite = h q\n", "2: [publish w] site: site name" },
	{ "[publish w]\nsite = " L100 "\n", "has 100 characters; use 1 to 63" },
	{ "[publish w]\ntarget = intranet\n", "2: [publish w] target = "
	    "\"intranet\" has no port; write HOST:PORT" },
	{ "[publish w]\nlisten = off\n", "2: [publish w] listen cannot be "
	    "\"off\"" },
	{ "[publish w]\nport = 1\n", "2: unknown key \"port\" in [publish w] "
	    "(known: listen, site, target, connections, "
	    "connections_per_address)" },
	{ "[publish w]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n",
	    "3: [publish w] listen is set twice (first on line 2)" },

	/* Listeners that would collide. */
	{ "[publish w]\nlisten = 0.0.0.0:443\nsite = hq\ntarget = t:1\n",
	    "2: [publish w] listen 0.0.0.0:443 collides with [cloud] listen "
	    "0.0.0.0:443 (the default); use another port, or set [cloud] "
	    "listen" },
	{ "[publish w]\nlisten = 127.0.0.1:80\nsite = hq\ntarget = t:1\n",
	    "2: [publish w] listen 127.0.0.1:80 collides with [cloud] "
	    "http_listen 0.0.0.0:80 (the default)" },
	{ "[cloud]\nlisten = 127.0.0.1:3128\n", "2: [cloud] listen "
	    "127.0.0.1:3128 collides with [ingress] listen 127.0.0.1:3128 (the "
	    "default)" },
	{ "[ingress]\nlisten = 0.0.0.0:8080\n[cloud]\nhttp_listen = "
	    "127.0.0.1:8080\n", "4: [cloud] http_listen 127.0.0.1:8080 collides "
	    "with [ingress] listen 0.0.0.0:8080 on line 2; give each its own "
	    "address or port" },
	{ PUB "[publish api]\nlisten = 127.0.0.1:9000\nsite = hq\n"
	    "target = t:1\n", "6: [publish api] listen 127.0.0.1:9000 collides "
	    "with [publish web] listen 127.0.0.1:9000 on line 2" },
	{ "[publish a]\nlisten = [::]:9000\nsite = hq\ntarget = t:1\n"
	    "[publish b]\nlisten = 127.0.0.1:9000\nsite = hq\ntarget = t:1\n",
	    "6: [publish b] listen 127.0.0.1:9000 collides with [publish a] "
	    "listen [::]:9000 on line 2" },
	{ "[publish a]\nlisten = LocalHost:9000\nsite = hq\ntarget = t:1\n"
	    "[publish b]\nlisten = localhost.:9000\nsite = hq\ntarget = t:1\n",
	    "6: [publish b] listen localhost:9000 collides" },
	{ "[publish a]\nlisten = [::1]:9000\nsite = hq\ntarget = t:1\n"
	    "[publish b]\nlisten = [0:0::1]:9000\nsite = hq\ntarget = t:1\n",
	    "6: [publish b] listen [0:0::1]:9000 collides" },
	/* [cluster] (docs/cluster.md). */
	{ CLU, NULL },
	{ CLU "peer_address = i1.internal.example:7443\n"
	    "tunnel_name = i1.cloud.example\n"
	    "tunnel_address = i1.cloud.example:443\nlease = 2s\n", NULL },
	{ "[cluster]\ninstance = i1\npeer_listen = 127.0.0.1:7443\n",
	    "2: [cluster] needs a shared PostgreSQL store, but the store is "
	    "SQLite (the default); set [store] url = postgresql://..." },
	{ "[store]\nurl = sqlite:/x.db\n[cluster]\ninstance = i1\n"
	    "peer_listen = 127.0.0.1:7443\n", "4: [cluster] needs a shared "
	    "PostgreSQL store, but the store is SQLite;" },
	{ "[store]\nurl = postgresql://db/u\n[cluster]\ninstance = i1\n",
	    "4: [cluster] peer_listen is missing; add peer_listen = "
	    "ADDRESS:PORT" },
	{ "[cluster]\nlease = 5s\n", "2: [cluster] lease is set but instance "
	    "is not; add instance = ID" },
	{ "[cluster]\ninstance = I1\n", "2: [cluster] instance = \"I1\": "
	    "write 1 to 63 lowercase letters, digits or '-'" },
	{ "[cluster]\ninstance = a_b\n", "2: [cluster] instance = \"a_b\"" },
	{ "[cluster]\ninstance = " L100 "\n", "2: [cluster] instance = " },
	{ "[cluster]\ninstance = i1\ninstance = i2\n", "3: [cluster] "
	    "instance is set twice (first on line 2)" },
	{ "[cluster]\ntunnel_name = 10.0.0.1\n", "2: [cluster] tunnel_name = "
	    "\"10.0.0.1\" is an address, not a DNS name" },
	{ "[cluster]\ntunnel_name = a..b\n", "2: [cluster] tunnel_name = "
	    "\"a..b\": " },
	{ "[cluster]\npeer_address = host\n", "2: [cluster] peer_address = "
	    "\"host\" has no port" },
	{ "[cluster]\ntunnel_address = h:99999\n", "2: [cluster] "
	    "tunnel_address = \"h:99999\"" },
	{ "[cluster]\nlease = 1s\n", "2: [cluster] lease = \"1s\" is out of "
	    "range; use 2s to 10m" },
	{ "[cluster]\nbogus = 1\n", "2: unknown key \"bogus\" in [cluster] "
	    "(known: instance, peer_listen, peer_address, tunnel_name, "
	    "tunnel_address, lease, proxy_from, reuseport)" },
	/* The edge: proxy_from (also without instance), reuseport. */
	{ CLU "proxy_from = 10.0.0.5, 10.0.1.0/24, ::1\nreuseport = no\n",
	    NULL },
	{ "[cluster]\nproxy_from = 127.0.0.2\n", NULL },
	{ "[cluster]\nproxy_from = 10.0.0.0/33\n", "2: [cluster] proxy_from: "
	    "the prefix length of 10.0.0.0 must be 0 to 32" },
	{ "[cluster]\nproxy_from = haproxy.example\n", "2: [cluster] "
	    "proxy_from: \"haproxy.example\" is not an IPv4 or IPv6 address" },
	{ "[cluster]\nproxy_from = ,\n", "2: [cluster] proxy_from is empty" },
	{ CLU "reuseport = maybe\n", "6: reuseport = \"maybe\": write yes or "
	    "no" },
	{ "[cluster]\nreuseport = yes\n", "2: [cluster] reuseport is set but "
	    "instance is not" },
	{ CLU_STORE "[ingress]\nlisten = 127.0.0.1:7443\n[cluster]\n"
	    "instance = i1\npeer_listen = 127.0.0.1:7443\n", "7: [cluster] "
	    "peer_listen 127.0.0.1:7443 collides with [ingress] listen "
	    "127.0.0.1:7443 on line 4" },
};
static void
test_file_table(void **state)
{
	const struct file_row	*r;
	struct cloud_config	 cfg;
	char			 err[1024], want[1024];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(file_rows) / sizeof(file_rows[0]); i++) {
		r = &file_rows[i];
		rc = load(r->text, &cfg, err, sizeof(err));
		if (r->err == NULL) {
			if (rc != UPLINK_OK)
				fail_msg("row %zu: rc %d: %s", i, rc, err);
			cloudconf_free(&cfg);
			continue;
		}
		if (rc != UPLINK_ECONFIG)
			fail_msg("row %zu: rc %d, want ECONFIG (want \"%s\")",
			    i, rc, r->err);
		if (cfg.publish != NULL || cfg.npublish != 0)
			fail_msg("row %zu: publish left after an error", i);
		/* "LINE: text" must follow the file name; bare text anywhere. */
		if (r->err[0] >= '0' && r->err[0] <= '9')
			snprintf(want, sizeof(want), "%s:%s", conf, r->err);
		else
			snprintf(want, sizeof(want), "%s", r->err);
		if (strncmp(err, conf, strlen(conf)) != 0 ||
		    strstr(err, want) == NULL)
			fail_msg("row %zu: error \"%s\"\n  lacks \"%s\"", i,
			    err, want);
	}
	assert_true(i >= 40);
}

static void
test_defaults(void **state)
{
	struct cloud_config	 cfg;
	char			 err[512];

	(void)state;
	assert_int_equal(load("", &cfg, err, sizeof(err)), UPLINK_OK);
	assert_string_equal(cfg.path, conf);
	assert_string_equal(cfg.data_dir, CLOUDCONF_DEFAULT_DATA);
	assert_string_equal(cfg.listen.host, "0.0.0.0");
	assert_int_equal(cfg.listen.port, 443);
	assert_true(cfg.http_enabled);
	assert_string_equal(cfg.http_listen.host, "0.0.0.0");
	assert_int_equal(cfg.http_listen.port, 80);
	assert_true(cfg.ingress_enabled);
	assert_string_equal(cfg.ingress_listen.host, "127.0.0.1");
	assert_int_equal(cfg.ingress_listen.port, 3128);
	assert_false(cfg.metrics_enabled);
	assert_int_equal(cfg.metrics_nallow, 0);
	assert_string_equal(cfg.metrics_instance, "");
	assert_string_equal(cfg.cert, "");
	assert_string_equal(cfg.key, "");
	assert_int_equal(cfg.cert_lifetime, 30 * 86400);
	assert_int_equal(cfg.streams_per_tunnel, 10000);
	assert_int_equal(cfg.stream_buffer, 256 * 1024);
	assert_int_equal(cfg.header_bytes, 16 * 1024);
	assert_int_equal(cfg.pending_connects, 1000);
	assert_int_equal(cfg.tunnels_per_connector, 16);
	assert_int_equal(cfg.pending_per_connector, 1000);
	assert_int_equal(cfg.tls_connections, 0);	/* derived at start */
	assert_int_equal(cfg.http_connections_per_address, 0);
	assert_int_equal(cfg.tls_first_byte_timeout, 3);
	assert_int_equal(cfg.tls_handshake_timeout, 10);
	assert_int_equal(cfg.request_head_timeout, 10);
	assert_int_equal(cfg.ingress_per_address, 256);
	assert_int_equal(cfg.service_connections, 1000);
	assert_int_equal(cfg.service_per_address, 128);
	assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
	assert_string_equal(cfg.cluster_instance, "");
	assert_int_equal(cfg.cluster_peer_listen.port, 0);
	assert_int_equal(cfg.cluster_tunnel_address.port, 0);
	assert_string_equal(cfg.cluster_tunnel_name, "");
	assert_int_equal(cfg.cluster_lease, 10);
	assert_int_equal(cfg.nproxy_from, 0);
	assert_int_equal(cfg.reuseport, -1);
	assert_null(cfg.publish);
	assert_int_equal(cfg.npublish, 0);
	cloudconf_free(&cfg);
	cloudconf_free(NULL);
}

static const char full_conf[] =
    "[cloud]\n"
    "data_dir = /srv/uplink-cloud\n"
    "listen = 192.0.2.1:8443          ; TLS\n"
    "http_listen = off\n"
    "cert = /etc/uplink/chain.pem\n"
    "key = /etc/uplink/key.pem\n"
    "cert_lifetime = 7d12h\n"
    "[ingress]\n"
    "listen = [::1]:3129\n"
    "[limits]\n"
    "streams_per_tunnel = 500\n"
    "stream_buffer = 1m\n"
    "header_bytes = 32k\n"
    "pending_connects = 42\n"
    "[log]\n"
    "level = debug\n"
    "[publish intranet]\n"
    "listen = 127.0.0.1:9000\n"
    "site = HQ\n"
    "target = intranet.corp.example.:80\n"
    "\n"
    "[publish  ssh ]\n"
    "listen = 127.0.0.1:2222\n"
    "site = branch-1\n"
    "target = [fd00::22]:22\n";

static void
test_full(void **state)
{
	struct cloud_config	 cfg;
	char			 err[512];

	(void)state;
	if (load(full_conf, &cfg, err, sizeof(err)) != UPLINK_OK)
		fail_msg("%s", err);
	assert_string_equal(cfg.data_dir, "/srv/uplink-cloud");
	assert_string_equal(cfg.listen.host, "192.0.2.1");
	assert_int_equal(cfg.listen.port, 8443);
	assert_false(cfg.http_enabled);
	assert_string_equal(cfg.cert, "/etc/uplink/chain.pem");
	assert_string_equal(cfg.key, "/etc/uplink/key.pem");
	assert_int_equal(cfg.cert_lifetime, 7 * 86400 + 12 * 3600);
	assert_true(cfg.ingress_enabled);
	assert_string_equal(cfg.ingress_listen.host, "::1");
	assert_int_equal(cfg.ingress_listen.kind, HOST_IPV6);
	assert_int_equal(cfg.ingress_listen.port, 3129);
	assert_int_equal(cfg.streams_per_tunnel, 500);
	assert_int_equal(cfg.stream_buffer, 1024 * 1024);
	assert_int_equal(cfg.header_bytes, 32 * 1024);
	assert_int_equal(cfg.pending_connects, 42);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(cfg.npublish, 2);
	assert_string_equal(cfg.publish[0].name, "intranet");
	assert_int_equal(cfg.publish[0].line, 17);
	assert_string_equal(cfg.publish[0].listen.host, "127.0.0.1");
	assert_int_equal(cfg.publish[0].listen.port, 9000);
	assert_string_equal(cfg.publish[0].site, "HQ");
	assert_string_equal(cfg.publish[0].target.host,
	    "intranet.corp.example");
	assert_int_equal(cfg.publish[0].target.port, 80);
	assert_string_equal(cfg.publish[1].name, "ssh");
	assert_int_equal(cfg.publish[1].line, 22);
	assert_string_equal(cfg.publish[1].site, "branch-1");
	assert_string_equal(cfg.publish[1].target.host, "fd00::22");
	assert_int_equal(cfg.publish[1].target.port, 22);
	cloudconf_free(&cfg);
	assert_null(cfg.publish);

	/* The struct can be loaded again; "warn" is accepted as well. */
	assert_int_equal(load("[log]\nlevel = warn\n", &cfg, err, sizeof(err)),
	    UPLINK_OK);
	assert_int_equal(cfg.log_level, LOG_LEVEL_WARN);
	assert_true(cfg.http_enabled);
	cloudconf_free(&cfg);
	/* [metrics]: listen turns it on; allow is parsed into networks. */
	assert_int_equal(load("[metrics]\nlisten = [::1]:9464\nallow = "
	    "192.0.2.7 10.0.0.0/8, fd00::/8\n", &cfg, err, sizeof(err)),
	    UPLINK_OK);
	assert_true(cfg.metrics_enabled);
	assert_string_equal(cfg.metrics_listen.host, "::1");
	assert_int_equal(cfg.metrics_listen.port, 9464);
	assert_int_equal(cfg.metrics_nallow, 3);
	assert_int_equal(cfg.metrics_allow[0].family, AF_INET);
	assert_int_equal(cfg.metrics_allow[0].prefix, 32);
	assert_int_equal(cfg.metrics_allow[0].addr[3], 7);
	assert_int_equal(cfg.metrics_allow[1].prefix, 8);
	assert_int_equal(cfg.metrics_allow[2].family, AF_INET6);
	assert_int_equal(cfg.metrics_allow[2].prefix, 8);
	assert_int_equal(cfg.metrics_allow[2].addr[0], 0xfd);
	cloudconf_free(&cfg);
}

static void
test_missing_file(void **state)
{
	struct cloud_config	 cfg;
	char			 err[512], path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/none.conf", tmpdir);
	assert_int_equal(cloudconf_load(path, &cfg, err, sizeof(err)),
	    UPLINK_EIO);
	assert_non_null(strstr(err, "none.conf: cannot open: No such file"));
	assert_non_null(strstr(err, "uplink-cloud init"));
}

struct size_row {
	const char	*s;
	int		 rc;
	size_t		 want;
};

static const struct size_row size_rows[] = {
	{ "0", UPLINK_OK, 0 },
	{ "4096", UPLINK_OK, 4096 },
	{ "1k", UPLINK_OK, 1024 },
	{ "256K", UPLINK_OK, 256 * 1024 },
	{ "16m", UPLINK_OK, 16 * 1024 * 1024 },
	{ "2M", UPLINK_OK, 2 * 1024 * 1024 },
	{ "007k", UPLINK_OK, 7 * 1024 },
	{ "", UPLINK_EINVAL, 0 },
	{ "k", UPLINK_EINVAL, 0 },
	{ "m", UPLINK_EINVAL, 0 },
	{ "1g", UPLINK_EINVAL, 0 },
	{ "1kb", UPLINK_EINVAL, 0 },
	{ "1 k", UPLINK_EINVAL, 0 },
	{ " 1k", UPLINK_EINVAL, 0 },
	{ "-1", UPLINK_EINVAL, 0 },
	{ "+1", UPLINK_EINVAL, 0 },
	{ "1.5m", UPLINK_EINVAL, 0 },
	{ "0x10", UPLINK_EINVAL, 0 },
	{ "99999999999999999999999", UPLINK_EINVAL, 0 },
	{ "18014398509481984k", UPLINK_EINVAL, 0 },
	{ "17592186044416m", UPLINK_EINVAL, 0 },
};

static void
test_size_table(void **state)
{
	const struct size_row	*r;
	char			 why[256];
	size_t			 i, got;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(size_rows) / sizeof(size_rows[0]); i++) {
		r = &size_rows[i];
		got = 12345;
		why[0] = '\0';
		rc = size_parse(r->s, &got, why, sizeof(why));
		if (rc != r->rc)
			fail_msg("row %zu \"%s\": rc %d, want %d", i, r->s, rc,
			    r->rc);
		if (rc == UPLINK_OK && got != r->want)
			fail_msg("row %zu \"%s\": %zu, want %zu", i, r->s, got,
			    r->want);
		if (rc != UPLINK_OK && (got != 12345 || why[0] == '\0'))
			fail_msg("row %zu \"%s\": out touched or no message", i,
			    r->s);
	}
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/cloud.conf", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(conf);
	rmdir(tmpdir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_table),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_size_table),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
