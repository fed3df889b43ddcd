/* The hybrid logical clock's private entry points (see causeway/hlc.h). */
#ifndef CW_HLC_INTERNAL_H
#define CW_HLC_INTERNAL_H

#include <stdint.h>
#include <causeway/hlc.h>

/* cw_hlc_now with the wall clock already read (pt, in ms), for a caller that
 * checks the new timestamp against that same reading (a replica's drift
 * bound) without reading the clock twice. h must not be NULL. */
int cw__hlc_now_at(cw_hlc *h, uint64_t pt, cw_hlc_timestamp *out);

#endif
