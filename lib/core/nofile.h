#ifndef UPLINK_NOFILE_H
#define UPLINK_NOFILE_H

/* The highest descriptor limit uplink asks for, and reports for "unlimited". */
#define NOFILE_MAX	(1u << 20)

/*
 * Raises the soft descriptor limit (RLIMIT_NOFILE) to the hard one, at most
 * NOFILE_MAX, with a warning in the log when the system refuses. Every
 * connection costs descriptors, and a soft limit of 1024 (systemd's
 * default) runs out long before memory does. Returns the soft limit in
 * force afterwards.
 */
unsigned nofile_raise(void);

#endif
