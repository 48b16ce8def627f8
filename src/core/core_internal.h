/* core_internal.h: what core's files share and no other folder sees. */
#ifndef EEF_CORE_INTERNAL_H
#define EEF_CORE_INTERNAL_H

/* 1 once EEF_DISKFULL_AT has fired in this process (crash.c): from then
 * on every atomic-file write fails with ENOSPC, as on a full disk. */
int eef_crash_diskfull(void);

#endif
