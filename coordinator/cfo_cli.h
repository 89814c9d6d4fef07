/* cfo_cli.h -- the front end shared by cfo and cfo-coordinator. */
#ifndef CFO_CLI_H
#define CFO_CLI_H

#include <stdbool.h>

/* Runs the orchestrator as cfo (single: the scheduler and a local worker
 * thread over inproc://) or as cfo-coordinator (workers connect over TCP).
 * Returns the exit status DESIGN.md gives. */
int cfo_orchestrator_main(int argc, char **argv, bool single);

#endif
