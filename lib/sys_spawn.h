/* The system's <spawn.h>: our own spawn.h shadows it on the include path
 * (lib/ comes first), so include this with angle brackets to reach past it. */
#ifndef KF_SYS_SPAWN_H
#define KF_SYS_SPAWN_H
#include_next <spawn.h>
#endif
