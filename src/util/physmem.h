/* This machine's physical memory, for the calls that refuse a size they
 * could not hold (CW_ELIMIT) rather than let the kernel overcommit it and
 * swap for minutes. */
#ifndef CW_PHYSMEM_H
#define CW_PHYSMEM_H

/* In bytes; 0 when the system does not say. A double: callers compare
 * rough sizes that could wrap a size_t. */
double cw__physical_bytes(void);

#endif
