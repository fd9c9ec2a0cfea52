#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

static const char	*log_ident = "uplink";
static int		 log_fg = 1;
static int		 log_level = LOG_LEVEL_INFO;
static int		 log_journal;
static log_sink_fn	*log_sink;
static void		*log_sink_arg;
static int		 log_in_sink;

/*
 * Under systemd, stderr is a stream to the journal when JOURNAL_STREAM
 * names its device and inode (systemd.exec(5)). The journal stamps every
 * line with the time and the program's name itself, and reads a "<N>"
 * prefix as the syslog priority, so lines carry that instead.
 */
static int
log_to_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	struct stat		 st;
	unsigned long long	 dev, ino;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *ident, int foreground, int level)
{
	log_ident = ident;
	log_fg = foreground;
	log_level = level;
	log_journal = foreground && log_to_journal();
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_sink(log_sink_fn *sink, void *arg)
{
	log_sink = sink;
	log_sink_arg = arg;
}

/* Hands the line to the sink, once: not what the sink logs itself. */
static void
log_to_sink(int prio, const char *msg, const char *errstr)
{
	char	 line[2304];

	if (log_sink == NULL || log_in_sink)
		return;
	snprintf(line, sizeof(line), "%s%s%s", msg, errstr ? ": " : "",
	    errstr ? errstr : "");
	log_in_sink = 1;
	log_sink(log_sink_arg, prio, line);
	log_in_sink = 0;
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

/* Writes one line; errstr, when not NULL, is appended after ": ". */
static void
log_vline(int prio, const char *errstr, const char *fmt, va_list ap)
{
	char		 msg[2048];
	struct timespec	 ts;
	struct tm	 tm;
	int		 saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_journal)
		fprintf(stderr, "<%d>%s%s%s\n", prio, msg, errstr ? ": " : "",
		    errstr ? errstr : "");
	else if (log_fg) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: %s%s%s\n",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_ident, msg,
		    errstr ? ": " : "", errstr ? errstr : "");
	} else if (errstr != NULL)
		syslog(prio, "%s: %s", msg, errstr);
	else
		syslog(prio, "%s", msg);
	log_to_sink(prio, msg, errstr);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vline(LOG_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vline(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	if (log_level < LOG_LEVEL_INFO)
		return;
	va_start(ap, fmt);
	log_vline(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_level < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	log_vline(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vline(LOG_CRIT, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vline(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

/* libevent's own messages ("Nameserver ... has failed") are debug detail. */
static void
log_from_libevent(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

void
log_capture_libevent(void)
{
	event_set_log_callback(log_from_libevent);
}
