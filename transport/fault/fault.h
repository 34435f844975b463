/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/fault/fault.h - a backend for tests only: it wraps the TCP backend and, per a
 * plan, breaks chosen connections at chosen byte counts (closed, reset, black-holed,
 * delayed, corrupted, cut into small writes, ended early).  Installed in-process through
 * rp__transport_set_override(), so one test runs sender and receiver over it.  It is not
 * part of the library: only test executables compile it. */
#ifndef RP_TRANSPORT_FAULT_H
#define RP_TRANSPORT_FAULT_H

#include "transport/transport.h"

enum rp__fault_kind {
	/* At byte `at`: an orderly close both ways (the peer reads a FIN); this side's
	 * calls fail with RP_E_NET from then on. */
	RP__FAULT_DROP,
	/* At byte `at`: a reset (the peer gets an RST); this side's calls fail. */
	RP__FAULT_CUT,
	/* After byte `at` nothing more crosses in either direction and neither side hears
	 * a FIN or an RST: up to `arg` more bytes are swallowed (a socket buffer filling),
	 * then writes block, and reads get nothing, until the connection is aborted or its
	 * I/O timeout passes.  The peer's socket stays open until rp__fault_uninstall(). */
	RP__FAULT_BLACKHOLE,
	/* From byte `at`: each call waits `arg` microseconds plus `arg2` per KiB it moves. */
	RP__FAULT_DELAY,
	/* The byte at offset `at` is XORed with `arg` (0 means 0xff). */
	RP__FAULT_CORRUPT,
	/* From byte `at`: bytes reach the wrapped backend in pieces of at most `arg`
	 * (0 means 1), one call each. */
	RP__FAULT_SHORT_IO,
	/* RX only: the reader sees the end of the stream (RP_E_CLOSED) at byte `at`, as if a
	 * FIN came there; writes still go through. */
	RP__FAULT_EOF,
};

enum rp__fault_side {
	RP__FAULT_CLIENT,            /* connections opened (the sender's) */
	RP__FAULT_SERVER,            /* connections accepted (the receiver's) */
};

enum rp__fault_dir {
	RP__FAULT_TX,                /* `at` counts the bytes this side sends */
	RP__FAULT_RX,                /* ... or receives */
};

#define RP__FAULT_ANY_CONN 0xffffffffu
#define RP__FAULT_MAX_RULES 16

struct rp__fault_rule {
	enum rp__fault_kind kind;
	enum rp__fault_side side;
	/* Index among that side's connections in the order open/accept was called,
	 * counted from 0 since rp__fault_install(); RP__FAULT_ANY_CONN for all. */
	unsigned conn;
	enum rp__fault_dir dir;
	uint64_t at;
	uint32_t arg, arg2;
	/* 0: every connection the rule names; n: only the first n of them to reach `at`
	 * (with RP__FAULT_ANY_CONN and 1: "one of the connections, whichever gets there"). */
	unsigned limit;
};

struct rp__fault_plan {
	unsigned nrules;
	struct rp__fault_rule rule[RP__FAULT_MAX_RULES];
};

/* Makes every sender and server created from now on in this process use the fault
 * backend over TCP, with a copy of plan (NULL: no faults), and restarts the connection
 * counters.  A connection takes the rules that name it when it is opened or accepted;
 * servers created earlier keep whatever backend they were created with. */
void rp__fault_install(const struct rp__fault_plan *plan);
/* The normal backend again for later senders and servers; the plan is emptied; the
 * peers of black-holed connections are closed now.  Existing fault connections go on
 * working (without faults for new ones). */
void rp__fault_uninstall(void);
/* How many connections struck rule i of the installed plan. */
unsigned rp__fault_fired(unsigned rule);
/* Connections opened (CLIENT) or accepted (SERVER) since rp__fault_install(). */
unsigned rp__fault_conns(enum rp__fault_side side);

extern const struct rp__transport_ops rp__fault_ops;

#endif /* RP_TRANSPORT_FAULT_H */
