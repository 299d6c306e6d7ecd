/*
 * sim_enable.c - every unit suite opens "sim:FILE" cards: the simulator's
 * scheme is registered before main, as a tool does first thing.
 */
#include "keycard_sim.h"

__attribute__((constructor)) static void sim_enable(void)
{
    (void)keycard_sim_enable();
}
