/* main_coordinator.c -- cfo-coordinator: serves a run's tasks to cfo-workers. */
#include "cfo_run.h"

int main(int argc, char **argv)
{
    return cfo_orchestrator_main(argc, argv, NULL);
}
