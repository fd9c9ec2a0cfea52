#ifndef UPLINK_HTTPREQ_H
#define UPLINK_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>

/*
 * HTTP/1.x request heads, for the cloud's ingress proxy: "CONNECT host:port"
 * and absolute-form requests ("GET http://host/path HTTP/1.1"). A codec
 * without I/O: it takes the bytes received so far and says "need more",
 * "bad (why)" or "head of N bytes". Header names and values are kept as
 * slices into the caller's bytes.
 */

#define HTTPREQ_MAX_HEADERS	100

struct httpreq_header {
	const char	*name;
	size_t		 namelen;
	const char	*value;
	size_t		 valuelen;
};

struct httpreq {
	const char		*method;
	size_t			 methodlen;
	const char		*target;	/* as written on the request line */
	size_t			 targetlen;
	int			 minor;		/* HTTP/1.minor */
	struct httpreq_header	 headers[HTTPREQ_MAX_HEADERS];
	size_t			 nheaders;
	size_t			 headlen;	/* bytes up to and including the blank line */
};

/*
 * Parses the head at the start of data[0..len). Returns UPLINK_OK with req
 * filled, UPLINK_EAGAIN when the blank line has not arrived yet (and len is
 * below max), UPLINK_ETOOBIG when the head would exceed max bytes or
 * HTTPREQ_MAX_HEADERS lines, or UPLINK_EINVAL with a reason in why. Accepts
 * CRLF and bare LF line ends; refuses obsolete line folding, control
 * characters, and white space before a header's colon.
 */
int httpreq_parse(const char *data, size_t len, size_t max, struct httpreq *req,
    char *why, size_t whylen);

/* The first header named name (case-insensitive), or NULL. */
const struct httpreq_header *httpreq_header(const struct httpreq *req,
    const char *name);

/*
 * Decodes "Basic base64(user:password)" credentials (the scheme name is
 * case-insensitive). user and password are NUL-terminated; a user with ':'
 * cannot be expressed and a missing ':' is an error. Returns UPLINK_OK or
 * UPLINK_EINVAL (why filled), UPLINK_ETOOBIG when a part does not fit.
 */
int httpreq_basic_auth(const char *value, size_t len, char *user,
    size_t userlen, char *password, size_t passlen, char *why, size_t whylen);

#endif
