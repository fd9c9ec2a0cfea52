#ifndef UPLINK_LOG_H
#define UPLINK_LOG_H

#include <stdarg.h>

/*
 * Logging after OpenBSD's log.c: log_warn appends strerror(errno), the x
 * variants do not; fatal and fatalx log and exit(1). In the foreground lines
 * go to stderr, otherwise to syslog. errno is preserved across every call.
 * Callers put a short session or connection id at the start of the message
 * ("t3: ...") so lines of one connection can be followed.
 */

enum log_level {
	LOG_LEVEL_WARN = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_DEBUG = 2,
};

/* Sets where lines go and how much is logged. ident names the program. */
void log_init(const char *ident, int foreground, int level);

/* Routes libevent's messages through this log (debug level, errors warn). */
void log_capture_libevent(void);

/*
 * A second place every logged line goes (the connector's ring buffer that
 * the cloud collects, connector/logship.c): sink(arg, prio, line) with the
 * syslog priority (LOG_CRIT, LOG_WARNING, LOG_INFO, LOG_DEBUG) and the
 * line as written, without time or program name. Lines the sink itself
 * logs while it runs are not handed to it again. NULL removes it.
 */
typedef void log_sink_fn(void *arg, int prio, const char *line);
void log_set_sink(log_sink_fn *sink, void *arg);

/* Changes the level (e.g. after reading a config file). */
void log_setlevel(int level);
int log_getlevel(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
