/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/radpipe.h - the whole public API of libradpipe. */
#ifndef RADPIPE_RADPIPE_H
#define RADPIPE_RADPIPE_H

#include "base.h"
#include "codec.h"
#include "dicom.h"
#include "pool.h"
#include "transport.h"
#include "pipeline.h"
#include "audit.h"
#include "atna.h"
#include "dicomnet.h"
#include "gateway.h"
#include "stow.h"
#include "forward.h"

#endif /* RADPIPE_RADPIPE_H */
