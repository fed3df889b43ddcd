/* An address allow-list for the connections a node's ZeroMQ endpoints take
 * (`causeway node --allow`, `--client-allow`): IPv4 and IPv6 ranges in CIDR
 * notation. The ZAP handler (auth.h) asks it about each connection's
 * address before the connection carries a message, so a process outside
 * the list never reaches the node's sockets, nor the memory libzmq gives a
 * message while it arrives.
 */
#ifndef CW_ALLOW_H
#define CW_ALLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ranges given in a list, at most. */
#define CW__ALLOW_MAX 64u

typedef struct cw__allow_range {
    uint8_t addr[16];         /* IPv4 in the first 4 bytes */
    uint8_t bits;             /* prefix length */
    bool v6;
} cw__allow_range;

typedef struct cw__allow {
    uint32_t count;
    cw__allow_range range[CW__ALLOW_MAX];
} cw__allow;

/* Parses a comma-separated list of ranges, each ADDRESS or ADDRESS/BITS
 * (192.168.1.0/24, 10.0.0.7, ::1, fd00::/8). BITS counts in the family the
 * address is written in: ::ffff:10.0.0.0/104 (IPv6) is 10.0.0.0/8 (IPv4).
 * Bits beyond the prefix must be zero (10.0.0.1/8 is refused: it reads as a
 * typo). CW_OK, or CW_EINVAL with the reason in err (and *a unchanged). */
int cw__allow_parse(cw__allow *a, const char *list, char *err, size_t errlen);

/* Whether the address (text, as ZeroMQ's ZAP request gives it: 127.0.0.1,
 * ::1, an IPv4 address mapped into IPv6, fe80::1%eth0 with its zone, which
 * is ignored) lies in one of the ranges. An IPv4 address, mapped or not,
 * lies in an IPv4 range by its 32 bits and in an IPv6 range as it maps into
 * IPv6 (::/0 admits every address). An address that does not parse is not
 * admitted. */
bool cw__allow_admits(const cw__allow *a, const char *address);

#endif
