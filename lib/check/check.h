#ifndef UPLINK_CHECK_H
#define UPLINK_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <event2/dns.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "catalog.h"
#include "dial.h"
#include "proxy.h"

/*
 * The connectivity check: for each required address, the very steps the
 * connector takes at run time (route, DNS, TCP or proxy CONNECT, TLS,
 * verification, revocation), each timed, with a verdict and a remedy. Runs
 * on the caller's event loop, a bounded number of addresses at a time, and
 * reports each address as soon as it is done.
 */

#define CHECK_STEPS_MAX		16
#define CHECK_WARNINGS_MAX	4

/*
 * Whether the check may connect to t at all, asked before anything is sent
 * to it. false: the address is reported failed with error "not-allowed",
 * and why (which list refused it and how to add it) as detail and hint;
 * nothing connects. The connector asks it for the checks the cloud runs;
 * "uplink-connector check", which an administrator runs by hand, does not.
 */
typedef bool check_allow_cb(void *arg, const struct check_target *t,
    char *why, size_t whylen);

struct check_opts {
	const struct route_table	*routes;
	const struct resolve_map	*resolve;	/* may be NULL */
	SSL_CTX				*tls;		/* trust: --ca or system */
	SSL_CTX				*tls_cloud;	/* for service "cloud"; NULL: tls */
	int				 timeout_ms;	/* per step */
	int				 parallel;	/* addresses at once */
	check_allow_cb			*allow;		/* NULL: all */
	void				*allow_arg;
};

struct check_step {
	char	 name[16];
	bool	 ok;
	long	 ms;
	char	 detail[400];
};

struct check_result {
	const struct check_target	*target;
	enum route_kind			 route;
	char				 rule[256];	/* bypass rule, "" if none */
	char				 proxy[280];	/* proxy URL when via proxy */
	bool				 ok;
	const char			*error;		/* NULL or an error name */
	char				 detail[512];	/* what failed */
	char				 issuer[256];	/* leaf issuer, "" if no TLS */
	char				 hint[640];	/* remedy, "" if ok */
	char				 tls[96];	/* "TLSv1.3 TLS_AES_..." */
	long				 ms;		/* whole address */
	struct check_step		 steps[CHECK_STEPS_MAX];
	int				 nsteps;
	char				 warnings[CHECK_WARNINGS_MAX][256];
	int				 nwarnings;
};

/* Called once per address, in completion order; index is the target's. */
typedef void check_result_cb(void *arg, const struct check_result *r,
    size_t index);
/* Called once when every address is done. */
typedef void check_done_cb(void *arg);

struct check;

/*
 * Starts checking targets[0..n). The options, the targets and what they
 * point to must outlive the check. Returns NULL when out of memory.
 */
struct check *check_start(struct event_base *base, struct evdns_base *dns,
    const struct check_opts *opts, const struct check_target *targets,
    size_t n, check_result_cb *result, check_done_cb *done, void *arg);

/* Stops what is running and frees the check; NULL is a no-op. */
void check_free(struct check *c);

/* One result as the JSON object of the documented output format. */
json_t *check_result_json(const struct check_result *r);

/*
 * Marks r failed with error (one of the documented names, or "catalog"
 * when the catalog itself could not be had) and detail, and writes the
 * remedy the check gives for that error into r->hint. For a row made
 * outside a check run; r->target and r->route must be set.
 */
void check_result_fail(struct check_result *r, const char *error,
    const char *detail, int timeout_ms);

/*
 * The whole report, as "uplink-connector check --json" prints it and the
 * connector answers GET /v1/check: {"ok", "proxy", "source", "passed",
 * "failed", "results"}, with the rows of results[i] for which have[i] is
 * true, in index order; proxy and source come from routes. The one place
 * that document is built, so the two can never differ. NULL when out of
 * memory.
 */
json_t *check_report_json(const struct route_table *routes,
    const struct check_result *results, const bool *have, size_t n);

/*
 * The report's text (CHECK_JSON_FLAGS, no final newline; free() it). With
 * max > 0 and a text longer than max bytes, the report is shrunk in place
 * first: "truncated": true and "omitted": N (rows left out) are added, the
 * steps of passing rows are emptied, then passing rows and at last failing
 * rows are left out from the end until it fits; "passed" and "failed" still
 * count every row. NULL when out of memory.
 */
#define CHECK_JSON_FLAGS	JSON_INDENT(2)
char *check_report_text(json_t *report, size_t max);

#endif
