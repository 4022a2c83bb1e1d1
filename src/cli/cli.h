/*
 * cli.h - the subcommands of vigil, one file each.
 */
#ifndef VIGIL_CLI_CLI_H
#define VIGIL_CLI_CLI_H

/* Each takes argv with argv[0] the subcommand's name; returns the exit
 * status. */
int cmd_enroll(int argc, char **argv);
int cmd_lookup(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_submit(int argc, char **argv);

#endif
