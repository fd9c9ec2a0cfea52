/*
 * "uplink-connector launch" and the service's side of it (launcher.h).
 *
 * Why a parent process and not an exec: a version that never connects
 * cannot ask the cloud to be rolled back, so something that outlives it
 * must judge it. The launcher is small and does no networking: it forks
 * the chosen binary, reads one word ("healthy") from a pipe, waits, and
 * moves two symbolic links (STATE/versions/current and previous), each
 * with symlink() to a temporary name and rename(), so a crash at any
 * point leaves either the old link or the new one.
 *
 * Files under STATE/versions/:
 *   VERSION/uplink-connector  staged by "update" (verified, then renamed)
 *   current -> VERSION        what runs; absent: the installed binary
 *   previous -> VERSION       what runs after a rollback; absent: installed
 *   next -> VERSION           staged by the service for the next start
 *   trial                     the version under its health gate
 * and STATE/rollback.json, the last rollback (version, back_to, why, at).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "atomicfile.h"
#include "buf.h"
#include "config.h"
#include "connector.h"
#include "dial.h"
#include "error.h"
#include "launcher.h"
#include "log.h"
#include "release.h"
#include "service.h"
#include "update_fetch.h"
#include "version.h"

#define LAUNCH_STATE_DEFAULT	"/var/lib/uplink-connector"
#define LAUNCH_PATH_MAX		4096
#define LAUNCH_KILL_SECS	10	/* SIGTERM, then SIGKILL */
#define LAUNCH_FD		3	/* the pipe's end in the child */
#define LAUNCH_ROLLBACK		"rollback.json"
#define LAUNCH_BINARY		"uplink-connector"

struct launcher {
	const char	*config, *state;
	struct connector_config cfg;
	char		 self[LAUNCH_PATH_MAX];	/* the installed binary */
	char		 bin[LAUNCH_PATH_MAX];
	char		 version[RELEASE_VERSION_MAX + 1];	/* "" installed */
	bool		 trial, healthy, stopping;
	int64_t		 gate;
	pid_t		 child;
	int		 status;
	char		 why[512];
};

static volatile sig_atomic_t	 launch_sig;
static int			 launch_sigpipe[2] = { -1, -1 };

static void
launch_on_signal(int sig)
{
	int	 saved = errno;
	ssize_t	 n;

	launch_sig = sig;
	n = write(launch_sigpipe[1], "s", 1);	/* full: a wakeup is pending */
	(void)n;
	errno = saved;
}

static void
launch_path(const struct launcher *l, const char *name, char *out,
    size_t outlen)
{
	snprintf(out, outlen, "%s/versions/%s", l->state, name);
}

/* The target of versions/NAME if it is a version, else "". */
static void
launch_link_read(const struct launcher *l, const char *name,
    char out[RELEASE_VERSION_MAX + 1])
{
	char	 path[LAUNCH_PATH_MAX];
	ssize_t	 n;

	launch_path(l, name, path, sizeof(path));
	n = readlink(path, out, RELEASE_VERSION_MAX);
	if (n <= 0) {
		out[0] = '\0';
		return;
	}
	out[n] = '\0';
	if (!release_version_valid(out))
		out[0] = '\0';
}

/* versions/NAME -> target ("" removes it), atomically. */
static int
launch_link_set(const struct launcher *l, const char *name,
    const char *target)
{
	char	 path[LAUNCH_PATH_MAX], tmp[LAUNCH_PATH_MAX + 8];

	launch_path(l, name, path, sizeof(path));
	if (target[0] == '\0') {
		if (unlink(path) != 0 && errno != ENOENT) {
			log_warn("launcher: removing %s", path);
			return -1;
		}
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	(void)unlink(tmp);
	if (symlink(target, tmp) != 0 || rename(tmp, path) != 0) {
		log_warn("launcher: %s -> %s", path, target);
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

static void
launch_trial_set(const struct launcher *l, const char *version)
{
	char	 path[LAUNCH_PATH_MAX], err[256];

	launch_path(l, "trial", path, sizeof(path));
	if (version == NULL) {
		(void)unlink(path);
		return;
	}
	if (atomicfile_write(path, version, strlen(version), 0644, "trial",
	    err, sizeof(err)) != UPLINK_OK)
		log_warnx("launcher: %s", err);
}

/* What to run: versions/current, else the installed binary. */
static void
launch_pick(struct launcher *l)
{
	char	 trial[RELEASE_VERSION_MAX + 2], path[LAUNCH_PATH_MAX];
	struct buf b;

	launch_link_read(l, "current", l->version);
	snprintf(l->bin, sizeof(l->bin), "%s", l->self);
	if (l->version[0] != '\0') {
		snprintf(l->bin, sizeof(l->bin), "%s/versions/%s/" LAUNCH_BINARY,
		    l->state, l->version);
		if (access(l->bin, X_OK) != 0) {
			log_warnx("launcher: %s: %s; running the installed "
			    "binary %s", l->bin, strerror(errno), l->self);
			snprintf(l->bin, sizeof(l->bin), "%s", l->self);
			l->version[0] = '\0';
		}
	}
	l->trial = false;
	launch_path(l, "trial", path, sizeof(path));
	buf_init(&b, 0);
	if (l->version[0] != '\0' && buf_read_file(&b, path, 64, NULL, 0) ==
	    UPLINK_OK) {
		snprintf(trial, sizeof(trial), "%s", buf_cstr(&b));
		l->trial = strcmp(trial, l->version) == 0;
	}
	buf_free(&b);
	l->healthy = false;
}

static void
launch_child(const struct launcher *l, int wfd)
{
	char	 fd[16];

	if (wfd != LAUNCH_FD) {
		if (dup2(wfd, LAUNCH_FD) < 0)
			_exit(126);
		close(wfd);
	} else
		(void)fcntl(wfd, F_SETFD, 0);
	snprintf(fd, sizeof(fd), "%d", LAUNCH_FD);
	setenv("UPLINK_LAUNCHER_FD", fd, 1);
	setenv("UPLINK_STATE_DIR", l->state, 1);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	execl(l->bin, l->bin, "run", "--config", l->config, (char *)NULL);
	fprintf(stderr, "uplink-connector launch: cannot run %s: %s\n", l->bin,
	    strerror(errno));
	_exit(127);
}

/* Stops the child: SIGTERM, SIGKILL after LAUNCH_KILL_SECS. */
static void
launch_kill(struct launcher *l)
{
	int	 i;

	(void)kill(l->child, SIGTERM);
	for (i = 0; i < LAUNCH_KILL_SECS * 10; i++) {
		if (waitpid(l->child, &l->status, WNOHANG) == l->child)
			return;
		usleep(100000);
	}
	(void)kill(l->child, SIGKILL);
	(void)waitpid(l->child, &l->status, 0);
}

/*
 * A version passed its gate: versions other than current, previous and
 * next are removed (their files, then the directory), so the state
 * directory holds at most three.
 */
static void
launch_prune(const struct launcher *l)
{
	char		 keep[3][RELEASE_VERSION_MAX + 1], dir[LAUNCH_PATH_MAX];
	char		 path[LAUNCH_PATH_MAX + 300];
	struct dirent	*e, *f;
	DIR		*d, *vd;
	int		 i;

	launch_link_read(l, "current", keep[0]);
	launch_link_read(l, "previous", keep[1]);
	launch_link_read(l, "next", keep[2]);
	if (keep[0][0] == '\0')
		return;		/* nothing is current: keep everything */
	snprintf(dir, sizeof(dir), "%s/versions", l->state);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (!release_version_valid(e->d_name) || e->d_type != DT_DIR)
			continue;
		for (i = 0; i < 3; i++)
			if (strcmp(keep[i], e->d_name) == 0)
				break;
		if (i < 3)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((vd = opendir(path)) == NULL)
			continue;
		while ((f = readdir(vd)) != NULL)
			if (f->d_name[0] != '.' || (strcmp(f->d_name, ".") != 0 &&
			    strcmp(f->d_name, "..") != 0))
				(void)unlinkat(dirfd(vd), f->d_name, 0);
		closedir(vd);
		if (rmdir(path) == 0)
			log_info("launcher: removed version %s (neither current "
			    "nor previous)", e->d_name);
	}
	closedir(d);
}

/*
 * Runs the child until it exits, reading "healthy" from it and holding it
 * to the gate when on trial. Returns with l->status set; l->why says why
 * a trial failed ("" if it did not).
 */
static int
launch_wait(struct launcher *l, int rfd)
{
	struct pollfd	 p[2];
	char		 line[64];
	long		 deadline = dial_now_ms() + l->gate * 1000, left;
	ssize_t		 n;
	int		 timeout;

	l->why[0] = '\0';
	p[0].fd = rfd;
	p[0].events = POLLIN;
	p[1].fd = launch_sigpipe[0];
	p[1].events = POLLIN;
	for (;;) {
		if (waitpid(l->child, &l->status, WNOHANG) == l->child)
			break;
		timeout = 1000;
		if (l->trial && !l->healthy) {
			left = deadline - dial_now_ms();
			if (left <= 0) {
				snprintf(l->why, sizeof(l->why), "it did not "
				    "report its tunnels up and a passing "
				    "connectivity check within %" PRId64 " s "
				    "([update] health_gate)", l->gate);
				log_warnx("launcher: version %s: %s: stopping "
				    "it", l->version, l->why);
				launch_kill(l);
				return 0;
			}
			if (left < timeout)
				timeout = (int)left;
		}
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			return -1;
		if (p[1].revents & POLLIN) {
			while (read(launch_sigpipe[0], line, sizeof(line)) > 0)
				;
			if (launch_sig == SIGTERM || launch_sig == SIGINT)
				l->stopping = true;
			(void)kill(l->child, launch_sig);
		}
		if (p[0].fd >= 0 && (p[0].revents & (POLLIN | POLLHUP))) {
			n = read(rfd, line, sizeof(line) - 1);
			if (n == 0 || (n < 0 && errno != EAGAIN &&
			    errno != EINTR))
				p[0].fd = -1;	/* closed: keep waiting */
			else if (memmem(line, (size_t)n, "healthy", 7) != NULL &&
			    !l->healthy) {
				l->healthy = true;
				if (l->trial) {
					log_info("launcher: version %s passed "
					    "its health gate", l->version);
					launch_trial_set(l, NULL);
					l->trial = false;
					launch_prune(l);
				}
			}
		}
	}
	/* A word written just before it exited is still in the pipe. */
	if (p[0].fd >= 0 && (n = read(rfd, line, sizeof(line) - 1)) > 0 &&
	    memmem(line, (size_t)n, "healthy", 7) != NULL && l->trial) {
		l->healthy = true;
		launch_trial_set(l, NULL);
		l->trial = false;
	}
	if (l->trial && !l->healthy && !l->stopping) {
		if (WIFEXITED(l->status))
			snprintf(l->why, sizeof(l->why), "it exited with status "
			    "%d before passing its health gate",
			    WEXITSTATUS(l->status));
		else
			snprintf(l->why, sizeof(l->why), "it was killed by "
			    "signal %d before passing its health gate",
			    WTERMSIG(l->status));
	}
	return 0;
}

static void
launch_record(const struct launcher *l, const char *failed,
    const char *back)
{
	char	 path[LAUNCH_PATH_MAX], err[256], *text;
	json_t	*j;

	j = json_pack("{s:s, s:s, s:s, s:I}", "version", failed, "back_to",
	    back, "why", l->why, "at", (json_int_t)time(NULL));
	text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	snprintf(path, sizeof(path), "%s/" LAUNCH_ROLLBACK, l->state);
	if (text == NULL || atomicfile_write(path, text, strlen(text), 0644,
	    "the rollback record", err, sizeof(err)) != UPLINK_OK)
		log_warnx("launcher: cannot record the rollback in %s", path);
	free(text);
	json_decref(j);
}

/* The version on trial failed: back to the previous one. */
static void
launch_rollback(struct launcher *l)
{
	char	 prev[RELEASE_VERSION_MAX + 1], failed[RELEASE_VERSION_MAX + 1];

	snprintf(failed, sizeof(failed), "%s", l->version);
	launch_link_read(l, "previous", prev);
	launch_link_set(l, "current", prev);
	launch_link_set(l, "previous", "");
	launch_trial_set(l, NULL);
	launch_record(l, failed, prev[0] != '\0' ? prev : UPLINK_VERSION);
	log_warnx("launcher: rolled back from version %s to %s: %s", failed,
	    prev[0] != '\0' ? prev : "the installed binary", l->why);
}

/* Hashes path; its size in *size. */
static int
launch_hash(const char *path, uint8_t hash[32], uint64_t *size)
{
	crypto_hash_sha256_state st;
	unsigned char		 chunk[65536];
	ssize_t			 n;
	int			 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	*size = 0;
	crypto_hash_sha256_init(&st);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		crypto_hash_sha256_update(&st, chunk, (size_t)n);
		*size += (uint64_t)n;
	}
	crypto_hash_sha256_final(&st, hash);
	close(fd);
	return n < 0 ? -1 : 0;
}

/*
 * The staged version is verified again before it runs: its manifest and
 * signature kept beside it, by the same policy as "update", and each
 * file's size and SHA-256.
 */
static int
launch_verify(struct launcher *l, const char *version)
{
	struct release_manifest	 m;
	struct buf		 mt, st;
	char			 path[LAUNCH_PATH_MAX], err[1024];
	char			 v[RELEASE_VERSION_MAX + 1];
	uint8_t			 hash[32];
	uint64_t		 size;
	size_t			 i;
	int			 rc;

	buf_init(&mt, 0);
	buf_init(&st, 0);
	snprintf(path, sizeof(path), "%s/versions/%s/manifest.json", l->state,
	    version);
	rc = buf_read_file(&mt, path, RELEASE_MANIFEST_MAX, err, sizeof(err)) ==
	    UPLINK_OK ? RELEASE_OK : RELEASE_EIO;
	snprintf(path, sizeof(path), "%s/versions/%s/manifest.json.minisig",
	    l->state, version);
	if (rc == RELEASE_OK && buf_read_file(&st, path, RELEASE_SIGFILE_MAX,
	    err, sizeof(err)) != UPLINK_OK)
		rc = RELEASE_ESIG_MISSING;
	if (rc == RELEASE_OK)
		rc = update_verify(&l->cfg, l->state, mt.ptr, mt.len, st.ptr,
		    st.len, v, sizeof(v), err, sizeof(err));
	if (rc == RELEASE_OK && release_manifest_parse(mt.ptr, mt.len, &m,
	    err, sizeof(err)) == UPLINK_OK) {
		for (i = 0; rc == RELEASE_OK && i < m.nfiles; i++) {
			snprintf(path, sizeof(path), "%s/versions/%s/%s",
			    l->state, version, m.files[i].name);
			if (launch_hash(path, hash, &size) != 0)
				rc = uplink_fail(RELEASE_EIO, err, sizeof(err),
				    "%s: %s", path, strerror(errno));
			else
				rc = release_file_check(&m.files[i], size, hash,
				    err, sizeof(err));
		}
		release_manifest_free(&m);
	}
	buf_free(&mt);
	buf_free(&st);
	if (rc != RELEASE_OK)
		log_warnx("launcher: version %s: not switching to it (%s): %s",
		    version, release_strerror(rc), err);
	return rc == RELEASE_OK ? 0 : -1;
}

/* The service staged versions/next and exited to have it run. */
static int
launch_switch(struct launcher *l)
{
	char	 next[RELEASE_VERSION_MAX + 1], bin[LAUNCH_PATH_MAX];

	launch_link_read(l, "next", next);
	if (next[0] == '\0')
		return -1;
	snprintf(bin, sizeof(bin), "%s/versions/%s/" LAUNCH_BINARY, l->state,
	    next);
	if (access(bin, X_OK) != 0) {
		log_warnx("launcher: %s: %s: not switching", bin,
		    strerror(errno));
		launch_link_set(l, "next", "");
		return -1;
	}
	if (launch_verify(l, next) != 0) {
		launch_link_set(l, "next", "");
		return -1;
	}
	if (launch_link_set(l, "previous", l->version) != 0)
		return -1;
	launch_trial_set(l, next);
	if (launch_link_set(l, "current", next) != 0)
		return -1;
	launch_link_set(l, "next", "");
	log_info("launcher: switching from %s to version %s; it has %" PRId64
	    " s to pass its health gate", l->version[0] ? l->version :
	    "the installed binary", next, l->gate);
	return 0;
}

static int
launch_once(struct launcher *l)
{
	int	 pfd[2];

	launch_pick(l);
	if (pipe(pfd) != 0)
		return -1;
	(void)fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
	log_info("launcher: running %s%s%s", l->bin, l->trial ? " (on trial, "
	    "version " : "", l->trial ? l->version : "");
	if (l->trial)
		log_info("launcher: version %s is on trial", l->version);
	l->child = fork();
	if (l->child < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (l->child == 0) {
		close(pfd[0]);
		close(launch_sigpipe[0]);
		close(launch_sigpipe[1]);
		launch_child(l, pfd[1]);
	}
	close(pfd[1]);
	launch_wait(l, pfd[0]);
	close(pfd[0]);
	return 0;
}

static int
launch_loop(struct launcher *l)
{
	for (;;) {
		if (launch_once(l) != 0) {
			log_warn("launcher: cannot start %s", l->bin);
			return EXIT_FAILED;
		}
		if (l->stopping)
			break;
		if (WIFEXITED(l->status) && WEXITSTATUS(l->status) ==
		    LAUNCHER_EXIT_SWITCH && launch_switch(l) == 0)
			continue;
		if (l->why[0] != '\0') {
			launch_rollback(l);
			continue;
		}
		break;
	}
	if (WIFEXITED(l->status))
		return WEXITSTATUS(l->status) == LAUNCHER_EXIT_SWITCH ?
		    EXIT_FAILED : WEXITSTATUS(l->status);
	return l->stopping ? EXIT_OK : EXIT_FAILED;
}

static void
launch_usage(FILE *fp)
{
	fprintf(fp,
"usage: uplink-connector launch [--config FILE] [--state-dir DIR]\n"
"\n"
"The service's main process (ExecStart of uplink-connector.service). It\n"
"runs DIR/versions/current/uplink-connector (a release staged by \"update\"\n"
"or a rollout), or this binary when there is none, as \"run --config\n"
"FILE\", and passes SIGTERM, SIGINT and SIGHUP on to it. When the service\n"
"has staged a new version and exits to switch, the launcher makes it\n"
"current and holds it to its health gate: tunnels up and a passing\n"
"connectivity check within [update] health_gate (default 120s). A version\n"
"that fails it is stopped and the previous one runs again; why is kept in\n"
"DIR/rollback.json and reported to the cloud (docs/updates.md).\n"
"\n"
"  --config FILE     default " CONFIG_DEFAULT_PATH "\n"
"  --state-dir DIR   default " LAUNCH_STATE_DEFAULT "\n");
}

int
cmd_launch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct launcher		 l;
	struct sigaction	 sa;
	char			 err[1024];
	ssize_t			 n;
	int			 ch;

	memset(&l, 0, sizeof(l));
	l.config = CONFIG_DEFAULT_PATH;
	l.state = LAUNCH_STATE_DEFAULT;
	while ((ch = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': l.config = optarg; break;
		case 's': l.state = optarg; break;
		case 'h': launch_usage(stdout); return EXIT_OK;
		default: launch_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		launch_usage(stderr);
		return EXIT_USAGE;
	}
	if (config_load(l.config, &l.cfg, err, sizeof(err)) != UPLINK_OK) {
		fprintf(stderr, "uplink-connector: %s\n", err);
		return EXIT_USAGE;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "uplink-connector: libsodium failed to start\n");
		config_free(&l.cfg);
		return EXIT_FAILED;
	}
	l.gate = l.cfg.update_health_gate;
	log_init("uplink-connector", 1, l.cfg.log_level);
	n = readlink("/proc/self/exe", l.self, sizeof(l.self) - 1);
	if (n <= 0) {
		fprintf(stderr, "uplink-connector: launch: /proc/self/exe: %s\n",
		    strerror(errno));
		config_free(&l.cfg);
		return EXIT_FAILED;
	}
	l.self[n] = '\0';
	if (n > 10 && strcmp(l.self + n - 10, " (deleted)") == 0)
		l.self[n - 10] = '\0';	/* the package was upgraded */
	if (pipe(launch_sigpipe) != 0) {
		config_free(&l.cfg);
		return EXIT_FAILED;
	}
	(void)fcntl(launch_sigpipe[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(launch_sigpipe[1], F_SETFL, O_NONBLOCK);
	(void)fcntl(launch_sigpipe[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(launch_sigpipe[1], F_SETFD, FD_CLOEXEC);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = launch_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	n = launch_loop(&l);
	config_free(&l.cfg);
	return (int)n;
}

/* ---- the service's side ---- */

static int	 launched_fd = -2;	/* -2: not looked up yet */
static bool	 launched_healthy;
static int	 launched_exit = -1;

static int
launched(void)
{
	const char	*v;
	char		*end;
	long		 fd;

	if (launched_fd != -2)
		return launched_fd;
	launched_fd = -1;
	v = getenv("UPLINK_LAUNCHER_FD");
	if (v == NULL || getenv("UPLINK_STATE_DIR") == NULL)
		return -1;
	fd = strtol(v, &end, 10);
	if (*end != '\0' || fd < 3 || fd > 1024 || fcntl((int)fd, F_GETFD) < 0)
		return -1;
	(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	launched_fd = (int)fd;
	return launched_fd;
}

const char *
launcher_state_dir(void)
{
	return launched() >= 0 ? getenv("UPLINK_STATE_DIR") : NULL;
}

void
launcher_healthy(void)
{
	int	 fd = launched();

	if (fd < 0 || launched_healthy)
		return;
	launched_healthy = true;
	if (write(fd, "healthy\n", 8) != 8)
		log_warn("launcher: cannot report health");
	else
		log_info("health gate: tunnels up and the connectivity check "
		    "passed; told the launcher");
}

int
launcher_exit_status(int rc)
{
	return launched_exit >= 0 ? launched_exit : rc;
}

void
launcher_info(const struct service *svc, char *buf, size_t len)
{
	const char	*state = launcher_state_dir();
	char		 path[LAUNCH_PATH_MAX], *text = NULL;
	size_t		 at = strlen(buf);
	struct buf	 b;
	json_t		*rb = NULL;

	buf_init(&b, 0);
	if (state != NULL) {
		snprintf(path, sizeof(path), "%s/" LAUNCH_ROLLBACK, state);
		if (buf_read_file(&b, path, 2048, NULL, 0) == UPLINK_OK)
			rb = json_loadb(b.ptr, b.len, 0, NULL);
		if (rb != NULL)
			text = json_dumps(rb, JSON_COMPACT | JSON_ENSURE_ASCII);
	}
	snprintf(buf + at, len - at, ",\"arch\":\"%s\",\"channel\":\"%s\","
	    "\"launched\":%s%s%s", release_host_arch(),
	    svc->cfg->c.update_channel, state != NULL ? "true" : "false",
	    text != NULL ? ",\"rollback\":" : "", text != NULL ? text : "");
	free(text);
	json_decref(rb);
	buf_free(&b);
}

/* One update asked by the cloud at a time. */
struct launched_update {
	struct service		*svc;
	struct svc_config	*cfg;
	struct tunnel_stream	*s;
	struct update_fetch	*uf;
	struct event		*exit_ev;
};
static struct launched_update	*launched_up;

static void
lu_free(struct launched_update *u)
{
	update_fetch_cancel(u->uf);
	svc_config_unref(u->cfg);
	if (u->exit_ev != NULL)
		event_free(u->exit_ev);
	if (launched_up == u)
		launched_up = NULL;
	free(u);
}

static void
lu_reply(struct tunnel_stream *s, int status, json_t *j)
{
	char	*text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	tunnel_stream_reply(s, status, text != NULL ? text :
	    "{\"error\":\"internal\"}");
	free(text);
	json_decref(j);
}

/* Staged: exit through the drain so the launcher switches. */
static void
lu_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	launched_exit = LAUNCHER_EXIT_SWITCH;
	log_info("update: exiting so that the launcher runs the new version");
	(void)raise(SIGTERM);
}

static void
lu_done(void *arg, int rc, const char *version, const char *msg)
{
	struct launched_update	*u = arg;
	struct timeval		 tv = { 0, 300000 };
	char			 link[LAUNCH_PATH_MAX], tmp[LAUNCH_PATH_MAX + 8];

	u->uf = NULL;
	if (rc == RELEASE_OK) {
		snprintf(link, sizeof(link), "%s/versions/next",
		    launcher_state_dir());
		snprintf(tmp, sizeof(tmp), "%s.tmp", link);
		(void)unlink(tmp);
		if (symlink(version, tmp) != 0 || rename(tmp, link) != 0) {
			snprintf(tmp, sizeof(tmp), "%s", strerror(errno));
			rc = RELEASE_EIO;
			msg = tmp;
		}
	}
	if (rc != RELEASE_OK) {
		log_warnx("update: refused (%s): %s; the running version %s is "
		    "unchanged", release_strerror(rc), msg, UPLINK_VERSION);
		if (u->s != NULL)
			lu_reply(u->s, 422, json_pack("{s:s, s:i, s:s, s:s}",
			    "error", "refused", "code", rc, "phrase",
			    release_strerror(rc), "message", msg));
		u->s = NULL;
		lu_free(u);
		return;
	}
	log_info("update: %s", msg);
	if (u->s != NULL)
		lu_reply(u->s, 200, json_pack("{s:s, s:s}", "staged", version,
		    "running", UPLINK_VERSION));
	u->s = NULL;
	u->exit_ev = evtimer_new(u->svc->base, lu_exit_cb, u);
	if (u->exit_ev != NULL)
		evtimer_add(u->exit_ev, &tv);
}

static void
lu_abandoned(void *arg, struct tunnel_stream *s, int status, const char *code,
    const char *reason)
{
	struct launched_update	*u = arg;

	(void)s;
	(void)status;
	u->s = NULL;
	if (u->uf == NULL)
		return;		/* done; exiting */
	log_info("update: the cloud gave up on it (%s: %s); stopping the "
	    "download", code ? code : "reset", reason ? reason : "");
	lu_free(u);
}

static void
lu_refuse(struct tunnel_stream *s, int status, const char *code,
    const char *msg)
{
	lu_reply(s, status, json_pack("{s:s, s:s}", "error", code, "message",
	    msg));
}

void
launcher_update_get(struct service *svc, struct tunnel_stream *s,
    const char *path)
{
	struct launched_update	*u;
	const char		*q = strstr(path, "version=");
	char			 version[RELEASE_VERSION_MAX + 1];
	size_t			 n;

	if (launcher_state_dir() == NULL) {
		lu_refuse(s, 409, "not-launched", "this connector does not run "
		    "under the launcher (uplink-connector launch), so it cannot "
		    "switch versions: update its package instead");
		return;
	}
	if (svc->draining || launched_up != NULL || launched_exit >= 0) {
		lu_refuse(s, 409, "busy", "an update is already under way, or "
		    "the connector is shutting down");
		return;
	}
	n = q != NULL ? strcspn(q + 8, "&") : 0;
	if (q == NULL || n == 0 || n > RELEASE_VERSION_MAX) {
		lu_refuse(s, 400, "bad-version", "ask GET /v1/update?version=V");
		return;
	}
	memcpy(version, q + 8, n);
	version[n] = '\0';
	if (!release_version_valid(version)) {
		lu_refuse(s, 400, "bad-version", "not a version");
		return;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		lu_refuse(s, 503, "busy", "out of memory");
		return;
	}
	u->svc = svc;
	u->cfg = svc_config_ref(svc->cfg);
	u->s = s;
	launched_up = u;
	tunnel_stream_set_cb(s, lu_abandoned, u);
	log_info("update: the cloud asks for version %s; downloading",
	    version);
	u->uf = update_fetch_start(svc->base, svc->dns, &u->cfg->c,
	    launcher_state_dir(), version, lu_done, u);
	if (u->uf == NULL) {
		u->s = NULL;
		lu_refuse(s, 503, "busy", "out of memory");
		lu_free(u);
	}
}
