#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "alertfmt.h"
#include "buf.h"
#include "xmalloc.h"

/*
 * What alerts say and where they go, without I/O: the check of a
 * channel's config (webhook or e-mail), the JSON a webhook receives and
 * the message an e-mail relay is given (docs/alerts.md). cloud/alerts.c
 * sends them.
 */

#define ALERTS_TO_MAX		20	/* e-mail recipients per channel */
#define ALERTS_URL_MAX		2048

/* ---- channel configuration */

static bool
email_address_ok(const char *s)
{
	size_t	 len = strlen(s);
	const char *at = strchr(s, '@');

	return len >= 3 && len <= STORE_EMAIL_MAX && at != NULL && at != s &&
	    at[1] != '\0' && strpbrk(s, " <>\",;\\()[]") == NULL &&
	    strspn(s, "!#$%&'*+-./0123456789=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`"
	    "abcdefghijklmnopqrstuvwxyz{|}~") == len;
}

static bool
text_field(json_t *cfg, const char *name, bool required, size_t max,
    const char **out, char *err, size_t errlen)
{
	json_t		*v = json_object_get(cfg, name);
	const char	*s;
	size_t		 i;

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			snprintf(err, errlen, "config.%s is missing", name);
		return !required;
	}
	s = json_string_value(v);
	if (s == NULL || strlen(s) == 0 || strlen(s) > max) {
		snprintf(err, errlen, "config.%s must be a string of 1 to %zu "
		    "characters", name, max);
		return false;
	}
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(err, errlen, "config.%s contains a control "
			    "character", name);
			return false;
		}
	*out = s;
	return true;
}

/* The fields a type knows; others are refused so typos are seen. */
static bool
known_fields(json_t *cfg, const char *const *names, char *err, size_t errlen)
{
	const char	*key;
	json_t		*v;
	size_t		 i;

	json_object_foreach(cfg, key, v) {
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(names[i], key) == 0)
				break;
		if (names[i] == NULL) {
			snprintf(err, errlen, "config.%.40s is not a field of "
			    "this channel type", key);
			return false;
		}
	}
	return true;
}

static bool
webhook_check(json_t *cfg, char *err, size_t errlen)
{
	static const char *const names[] = { "url", "ca_file", NULL };
	const char	*url, *ca;

	if (!known_fields(cfg, names, err, errlen) || !text_field(cfg, "url",
	    true, ALERTS_URL_MAX, &url, err, errlen) || !text_field(cfg,
	    "ca_file", false, 1024, &ca, err, errlen))
		return false;
	if ((strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) !=
	    0) || strchr(url, ' ') != NULL) {
		snprintf(err, errlen, "config.url must be an http:// or "
		    "https:// URL without spaces, e.g. "
		    "https://hooks.example.net/uplink");
		return false;
	}
	return true;
}

static bool
email_check(json_t *cfg, char *err, size_t errlen)
{
	static const char *const names[] = { "host", "port", "starttls",
	    "username", "from", "to", "ca_file", NULL };
	const char	*host, *tls, *user, *from, *ca, *to;
	json_t		*port, *list, *v;
	size_t		 i;

	if (!known_fields(cfg, names, err, errlen) || !text_field(cfg, "host",
	    true, 253, &host, err, errlen) || !text_field(cfg, "starttls",
	    false, 16, &tls, err, errlen) || !text_field(cfg, "username",
	    false, 255, &user, err, errlen) || !text_field(cfg, "from", true,
	    STORE_EMAIL_MAX, &from, err, errlen) || !text_field(cfg,
	    "ca_file", false, 1024, &ca, err, errlen))
		return false;
	if (strpbrk(host, " /@[]") != NULL && !(host[0] == '[' &&
	    host[strlen(host) - 1] == ']')) {
		snprintf(err, errlen, "config.host must be a host name or "
		    "address, e.g. smtp.example.net");
		return false;
	}
	port = json_object_get(cfg, "port");
	if (port == NULL)
		json_object_set_new(cfg, "port", json_integer(587));
	else if (!json_is_integer(port) || json_integer_value(port) < 1 ||
	    json_integer_value(port) > 65535) {
		snprintf(err, errlen, "config.port must be 1 to 65535 (587 "
		    "for submission with STARTTLS)");
		return false;
	}
	if (tls == NULL)
		json_object_set_new(cfg, "starttls", json_string("required"));
	else if (strcmp(tls, "required") != 0 && strcmp(tls, "optional") != 0
	    && strcmp(tls, "none") != 0) {
		snprintf(err, errlen, "config.starttls must be \"required\", "
		    "\"optional\" or \"none\"");
		return false;
	}
	if (!email_address_ok(from)) {
		snprintf(err, errlen, "config.from is not an e-mail address "
		    "(give a bare one, e.g. uplink@example.net)");
		return false;
	}
	list = json_object_get(cfg, "to");
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > ALERTS_TO_MAX) {
		snprintf(err, errlen, "config.to must be a list of 1 to %d "
		    "e-mail addresses", ALERTS_TO_MAX);
		return false;
	}
	json_array_foreach(list, i, v) {
		to = json_string_value(v);
		if (to == NULL || !email_address_ok(to)) {
			snprintf(err, errlen, "config.to[%zu] is not an e-mail "
			    "address (give a bare one, e.g. ops@example.net)",
			    i);
			return false;
		}
	}
	return true;
}

bool
alerts_channel_check(const char *type, json_t *config, char *err,
    size_t errlen)
{
	if (!json_is_object(config)) {
		snprintf(err, errlen, "config must be an object");
		return false;
	}
	if (strcmp(type, "webhook") == 0)
		return webhook_check(config, err, errlen);
	if (strcmp(type, "email") == 0)
		return email_check(config, err, errlen);
	snprintf(err, errlen, "type must be \"webhook\" or \"email\"");
	return false;
}

/* ---- messages */

/* The JSON a webhook receives (docs/alerts.md). */
char *
alert_webhook_body(const char *cloud, const struct store_delivery *d,
    const struct store_note *n, int64_t now)
{
	json_t	*j;
	char	*text;

	j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "delivery",
	    (json_int_t)d->id, "event", d->event, "kind", n->kind, "severity",
	    n->severity, "subject", n->subject, "message", n->message,
	    "sent_at", (json_int_t)now, "cloud", cloud);
	if (j == NULL)
		return NULL;
	if (n->id != 0) {
		json_object_set_new(j, "notification", json_integer(n->id));
		json_object_set_new(j, "raised_at",
		    json_integer(n->created_at));
		json_object_set_new(j, "resolved_at", n->resolved_at != 0 ?
		    json_integer(n->resolved_at) : json_null());
	}
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return text;
}

/* Subject lines are ASCII: anything else becomes '?'. */
static void
ascii_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

char *
alert_email_body(const char *cloud, const struct store_delivery *d,
    const struct store_note *n, json_t *cfg, int64_t now)
{
	struct buf	 b;
	struct tm	 tm;
	time_t		 t = (time_t)now;
	char		 date[64], subj[STORE_SUBJECT_MAX + 128];
	const char	*what;
	json_t		*v;
	size_t		 i;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	what = strcmp(d->event, "test") == 0 ? "test" :
	    strcmp(d->event, "resolved") == 0 ? "resolved" : n->severity;
	snprintf(subj, sizeof(subj), "[uplink] %s: %s %s", what, n->kind,
	    n->subject);
	ascii_line(subj);
	buf_init(&b, 64 * 1024);
	buf_appendf(&b, "Date: %s\r\nFrom: <%s>\r\nTo: ", date,
	    json_string_value(json_object_get(cfg, "from")));
	json_array_foreach(json_object_get(cfg, "to"), i, v)
		buf_appendf(&b, "%s<%s>", i ? ", " : "", json_string_value(v));
	buf_appendf(&b, "\r\nSubject: %s\r\nMessage-ID: <uplink-%lld-%lld@"
	    "uplink.invalid>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
	    "Auto-Submitted: auto-generated\r\n\r\n", subj, (long long)d->id,
	    (long long)now);
	if (strcmp(d->event, "resolved") == 0)
		buf_appendf(&b, "Resolved: the condition below has cleared.\r\n"
		    "\r\n");
	buf_appendf(&b, "%s\r\n\r\nkind: %s\r\nsubject: %s\r\nseverity: %s\r\n"
	    "cloud: %s\r\n", n->message, n->kind, n->subject, n->severity,
	    cloud);
	if (n->id != 0)
		buf_appendf(&b, "notification: %lld\r\n", (long long)n->id);
	if (b.ptr == NULL)
		return xstrdup("");
	return b.ptr;	/* the buffer's storage, NUL-terminated */
}
