/*
 * vigil.c - the vigil command: argument dispatch to one file per
 * subcommand (cmd_*.c). The logic lives in the libraries under src/.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"scan", cmd_scan, "scan files and directories, give verdicts"},
	{"enroll", cmd_enroll, "enrol this endpoint with a regional node"},
	{"lookup", cmd_lookup, "ask the node about hashes"},
	{"submit", cmd_submit, "share files with the node for analysis"},
	{"report-fp", cmd_report_fp, "report a false positive to the node"},
	{"consent", cmd_consent, "change what this endpoint shares"},
	{"my-data", cmd_mydata,
	 "list, export or delete what the node holds about you"},
	{"admin", cmd_admin,
	 "operate a node (its log, samples, false positives, operators)"},
	{"log", cmd_log, "check a region's transparency log"},
	{"witness", cmd_witness, "cosign other logs' checkpoints"},
	{"release", cmd_release, "sign and publish rule and software releases"},
	{"update", cmd_update, "verify and install the latest rule release"},
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil COMMAND [options] [args]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "\n'vigil COMMAND --help' describes a command.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("vigil %s\n", VIGIL_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "vigil: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
