// How the network thread waits (kernel/netwait.c), by the policy
// poll=spin|toro|wait, which the console's "poll" command changes.

#ifndef KIT_NETWAIT_H
#define KIT_NETWAIT_H

#include "types.h"

void        netwait_init(void);
void        net_wait(u64 seen, u64 deadline_us);
u64         net_now_us(void);
bool        netwait_set(const char *name);
const char *netwait_name(void);

#endif
