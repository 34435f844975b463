/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/cpu_x86.c - CPU feature detection: CPUID for what the core implements, XGETBV
 * (XCR0) for what the OS saves on a context switch.  Both are needed: a CPU with AVX-512
 * under a kernel or hypervisor that does not enable the ZMM/opmask state faults on the
 * first EVEX instruction (Intel SDM vol. 1, 15.2 "Detection of AVX-512 support").
 *
 * Detected once; the result is a plain bit set in an _Atomic word, so concurrent first
 * calls may both run CPUID but agree on the value (no lock needed). */
#include "simd/cpu.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define RP__HAVE_X86 1
#endif

/* High bit marks "detected": features can legitimately be 0 (scalar-only CPU). */
#define RP__CPU_DETECTED (1u << 31)

static _Atomic uint32_t rp__cpu_cached;

#ifdef RP__HAVE_X86
static uint64_t
rp__xgetbv0(void)
{
	uint32_t lo, hi;

	/* XGETBV with ECX = 0 reads XCR0.  Inline asm rather than _xgetbv() so this file
	 * builds without -mxsave and runs on any x86-64. */
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

static uint32_t
rp__cpu_detect_hw(void)
{
	unsigned a, b, c, d;
	uint32_t f = 0;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	const int osxsave = (c >> 27) & 1;
	const int avx = (c >> 28) & 1;
	const int fma = (c >> 12) & 1;
	if (!osxsave || !avx)
		return 0;

	const uint64_t xcr0 = rp__xgetbv0();
	/* XCR0 bit 1 = SSE (XMM), bit 2 = AVX (upper YMM). */
	const int os_ymm = (xcr0 & 0x6) == 0x6;
	/* Bits 5..7 = opmask, ZMM_Hi256, Hi16_ZMM. */
	const int os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0;

	if (__get_cpuid_max(0, NULL) < 7)
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	const int avx2 = (b >> 5) & 1;
	const int bmi1 = (b >> 3) & 1;
	const int bmi2 = (b >> 8) & 1;
	const int avx512f = (b >> 16) & 1;
	const int avx512dq = (b >> 17) & 1;
	const int avx512bw = (b >> 30) & 1;
	const int avx512vl = (b >> 31) & 1;

	if (os_ymm && avx2 && bmi1 && bmi2 && fma)
		f |= RP__CPU_AVX2;
	/* Our AVX-512 kernels are written for the Skylake-X subset; they also use AVX2
	 * helpers, so AVX-512 implies the AVX2 level. */
	if ((f & RP__CPU_AVX2) && os_zmm && avx512f && avx512dq && avx512bw && avx512vl)
		f |= RP__CPU_AVX512;
	return f;
}
#else
static uint32_t
rp__cpu_detect_hw(void)
{
	return 0;
}
#endif

#ifdef RP_CPU_ENV_OVERRIDE
/* Test builds only (STYLE.md "SIMD kernels"): RP_DISABLE_CPU_FEATURES=avx512,avx2 takes
 * features away so one test binary can be rerun by CTest on each code path.  Disabling
 * avx2 also disables avx512, which builds on it.  An unknown name aborts, so a typo can
 * never make a "forced scalar" run silently test the AVX-512 path. */
static uint32_t
rp__cpu_env_disabled(void)
{
	const char *env = getenv("RP_DISABLE_CPU_FEATURES");
	uint32_t off = 0;

	if (env == NULL)
		return 0;
	while (*env != '\0') {
		size_t n = strcspn(env, ", ");
		if (n == 6 && memcmp(env, "avx512", 6) == 0) {
			off |= RP__CPU_AVX512;
		} else if (n == 4 && memcmp(env, "avx2", 4) == 0) {
			off |= RP__CPU_AVX2 | RP__CPU_AVX512;
		} else if (n != 0) {
			fprintf(stderr, "RP_DISABLE_CPU_FEATURES: unknown feature '%.*s' "
					"(known: avx512, avx2)\n", (int)n, env);
			abort();
		}
		env += n;
		if (*env != '\0')
			env++;
	}
	return off;
}
#endif

uint32_t
rp__cpu_features(uint32_t mask)
{
	uint32_t v = atomic_load_explicit(&rp__cpu_cached, memory_order_acquire);

	if (!(v & RP__CPU_DETECTED)) {
		v = rp__cpu_detect_hw();
#ifdef RP_CPU_ENV_OVERRIDE
		v &= ~rp__cpu_env_disabled();
#endif
		v |= RP__CPU_DETECTED;
		atomic_store_explicit(&rp__cpu_cached, v, memory_order_release);
	}
	v &= ~RP__CPU_DETECTED;
	if (mask != 0)
		v &= mask;
	/* A mask that keeps AVX-512 but drops AVX2 cannot be honoured by kernels that build
	 * on AVX2; treat it as dropping both. */
	if (!(v & RP__CPU_AVX2))
		v &= ~RP__CPU_AVX512;
	return v;
}

const char *
rp__cpu_level_name(uint32_t features)
{
	if ((features & RP__CPU_AVX512) && (features & RP__CPU_AVX2))
		return "avx512";
	if (features & RP__CPU_AVX2)
		return "avx2";
	return "scalar";
}
