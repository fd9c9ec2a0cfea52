#ifndef UPLINK_CLOUD_H
#define UPLINK_CLOUD_H

/* Subcommands of uplink-cloud; each returns the process exit status. */
int cmd_init(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_connector(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_release(int argc, char **argv);

/* Exit statuses shared by the subcommands. */
#define EXIT_OK		0
#define EXIT_FAILED	1	/* the command could not do its job */
#define EXIT_USAGE	2	/* usage or configuration error */

#endif
