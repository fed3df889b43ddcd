/* Causeway: a multithreaded, in-process replication engine built on vector
 * clocks. This header brings in the whole public API. */
#ifndef CAUSEWAY_H
#define CAUSEWAY_H

#include <causeway/error.h>
#include <causeway/version.h>
#include <causeway/vclock.h>
#include <causeway/dclock.h>
#include <causeway/header.h>
#include <causeway/coordinator.h>
#include <causeway/lamport.h>
#include <causeway/hlc.h>
#include <causeway/msg.h>
#include <causeway/node.h>
#include <causeway/engine.h>
#include <causeway/verify.h>

#endif
