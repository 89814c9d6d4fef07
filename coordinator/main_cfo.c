/* main_cfo.c -- cfo: the single-host orchestrator. */
#include "cfo_cli.h"

int main(int argc, char **argv)
{
    return cfo_orchestrator_main(argc, argv, true);
}
