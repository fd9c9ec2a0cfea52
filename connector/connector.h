#ifndef UPLINK_CONNECTOR_H
#define UPLINK_CONNECTOR_H

#include "config.h"

/* Subcommands of uplink-connector; each returns the process exit status. */
int cmd_check(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* connector/cmd_install.c */
int cmd_install(int argc, char **argv);
int cmd_uninstall(int argc, char **argv);
/* connector/cmd_update.c: verify and stage a signed release */
int cmd_update(int argc, char **argv);

/* Exit statuses shared by the subcommands. */
#define EXIT_OK		0
#define EXIT_FAILED	1	/* the check found a problem, enroll failed */
#define EXIT_USAGE	2	/* usage or configuration error */

/*
 * Where the interactive commands take proxy settings from: the file given
 * with --config (and nothing else), or else the environment as an installer
 * would (HTTPS_PROXY, NO_PROXY); --proxy and --bypass override either.
 * Returns 0, or prints the error and returns EXIT_USAGE.
 */
int settings_load(struct connector_config *cfg, const char *config_path,
    const char *proxy_flag, const char *bypass_flag);

/*
 * connector/cmd_update.c, for the download from the cloud and the
 * rollout: update_verify() judges a manifest and its signature as
 * "update" would (every check but the files'); update_stage_release()
 * verifies and stages the release at manifest with its files in dir under
 * STATE/versions/. Both return a RELEASE_* verdict (lib/pki/release.h)
 * with a complete message in err, and the manifest's version.
 */
int update_verify(const struct connector_config *cfg, const char *state,
    const char *mtext, size_t mlen, const char *stext, size_t slen,
    char *version, size_t vlen, char *err, size_t errlen);
int update_stage_release(const struct connector_config *cfg,
    const char *state, const char *manifest, const char *dir, char *version,
    size_t vlen, char *err, size_t errlen);

#endif
