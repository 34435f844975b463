/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/fec.h - Reed-Solomon erasure coding of FEC groups (ISA-L behind fec.c). */
#ifndef RP_TRANSPORT_FEC_H
#define RP_TRANSPORT_FEC_H

#include "common/internal.h"

/* Computes the m parity chunks of a group of kg data chunks (1 <= kg <= 128, m <= 32), each
 * `size` bytes (data shorter than size must be zero-padded by the caller).  The matrix is
 * a (kg + m) x kg Cauchy matrix, so a short last group has its own code.  Thread-safe.
 * RP_OK, RP_E_INVALID_ARG (sizes out of range) or RP_E_NOMEM. */
int rp__fec_encode(unsigned kg, unsigned m, size_t size, uint8_t *const *data,
		   uint8_t *const *parity);

/* Rebuilds the missing data chunks of a group.  chunks[0..kg) are the data chunks,
 * chunks[kg..kg+m) the parity chunks, all `size` bytes; present[i] says which hold valid
 * bytes.  Missing data chunks are written in place.  RP_OK, RP_E_CORRUPT when fewer than
 * kg chunks are present, RP_E_INVALID_ARG or RP_E_NOMEM. */
int rp__fec_rebuild(unsigned kg, unsigned m, size_t size, uint8_t *const *chunks,
		    const uint8_t *present);

#endif /* RP_TRANSPORT_FEC_H */
