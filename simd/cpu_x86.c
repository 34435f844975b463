/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/cpu_x86.c - CPU feature detection: CPUID for what the core implements, XGETBV
 * (XCR0) for what the OS saves on a context switch.  Both are needed: a CPU with AVX-512
 * under a kernel or hypervisor that does not enable the ZMM/opmask state faults on the
 * first EVEX instruction (Intel SDM vol. 1, 15.2 "Detection of AVX-512 support").
 *
 * Detected once; the result is a plain value in an _Atomic word, so concurrent first
 * calls may both run CPUID but agree on the value (no lock needed).  Also the level
 * choice (simd/cpu.h) and the public names of the levels (rp_isa_name()). */
#include "simd/cpu.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define RP__HAVE_X86 1
#endif

/* The cached level plus one: 0 means "not probed yet" (RP_ISA_SCALAR is a real answer). */
static _Atomic unsigned rp__isa_cached;

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

static enum rp_isa
rp__isa_detect_hw(void)
{
	unsigned a, b, c, d;
	enum rp_isa f = RP_ISA_SCALAR;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return RP_ISA_SCALAR;
	const int osxsave = (c >> 27) & 1;
	const int avx = (c >> 28) & 1;
	const int fma = (c >> 12) & 1;
	if (!osxsave || !avx)
		return RP_ISA_SCALAR;

	const uint64_t xcr0 = rp__xgetbv0();
	/* XCR0 bit 1 = SSE (XMM), bit 2 = AVX (upper YMM). */
	const int os_ymm = (xcr0 & 0x6) == 0x6;
	/* Bits 5..7 = opmask, ZMM_Hi256, Hi16_ZMM. */
	const int os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0;

	if (__get_cpuid_max(0, NULL) < 7)
		return RP_ISA_SCALAR;
	__cpuid_count(7, 0, a, b, c, d);
	const int avx2 = (b >> 5) & 1;
	const int bmi1 = (b >> 3) & 1;
	const int bmi2 = (b >> 8) & 1;
	const int avx512f = (b >> 16) & 1;
	const int avx512dq = (b >> 17) & 1;
	const int avx512bw = (b >> 30) & 1;
	const int avx512vl = (b >> 31) & 1;

	if (os_ymm && avx2 && bmi1 && bmi2 && fma)
		f = RP_ISA_AVX2;
	/* Our AVX-512 kernels are written for the Skylake-X subset; they also use AVX2
	 * helpers, so the AVX-512 level needs the AVX2 one. */
	if (f == RP_ISA_AVX2 && os_zmm && avx512f && avx512dq && avx512bw && avx512vl)
		f = RP_ISA_AVX512;
	return f;
}
#else
static enum rp_isa
rp__isa_detect_hw(void)
{
	return RP_ISA_SCALAR;
}
#endif

#ifdef RP_CPU_ENV_OVERRIDE
/* Test builds only (simd/cpu.h): RP_DISABLE_CPU_FEATURES=avx512,avx2 lowers the detected
 * level so one test binary can be rerun by CTest on each code path.  Disabling avx2 also
 * disables avx512, which builds on it.  An unknown name aborts, so a typo can never make
 * a "forced scalar" run silently test the AVX-512 path. */
static enum rp_isa
rp__isa_env_ceiling(void)
{
	const char *env = getenv("RP_DISABLE_CPU_FEATURES");
	enum rp_isa top = RP_ISA_AVX512;

	if (env == NULL)
		return top;
	while (*env != '\0') {
		size_t n = strcspn(env, ", ");
		if (n == 6 && memcmp(env, "avx512", 6) == 0) {
			if (top > RP_ISA_AVX2)
				top = RP_ISA_AVX2;
		} else if (n == 4 && memcmp(env, "avx2", 4) == 0) {
			top = RP_ISA_SCALAR;
		} else if (n != 0) {
			fprintf(stderr, "RP_DISABLE_CPU_FEATURES: unknown feature '%.*s' "
					"(known: avx512, avx2)\n", (int)n, env);
			abort();
		}
		env += n;
		if (*env != '\0')
			env++;
	}
	return top;
}
#endif

enum rp_isa
rp__isa_detected(void)
{
	unsigned v = atomic_load_explicit(&rp__isa_cached, memory_order_acquire);

	if (v == 0) {
		enum rp_isa isa = rp__isa_detect_hw();
#ifdef RP_CPU_ENV_OVERRIDE
		enum rp_isa top = rp__isa_env_ceiling();
		if (isa > top)
			isa = top;
#endif
		v = (unsigned)isa + 1;
		atomic_store_explicit(&rp__isa_cached, v, memory_order_release);
	}
	return (enum rp_isa)(v - 1);
}

enum rp_isa
rp__isa_built(void)
{
#if defined(RP_HAVE_AVX512)
	return RP_ISA_AVX512;
#elif defined(RP_HAVE_AVX2)
	return RP_ISA_AVX2;
#else
	return RP_ISA_SCALAR;
#endif
}

int
rp__isa_valid(enum rp_isa ceiling)
{
	return ceiling == RP_ISA_SCALAR || ceiling == RP_ISA_AVX2 || ceiling == RP_ISA_AVX512 ||
	       ceiling == RP_ISA_BEST;
}

enum rp_isa
rp__isa_select(enum rp_isa ceiling)
{
	if (!rp__isa_valid(ceiling))
		return RP_ISA_SCALAR;
	enum rp_isa isa = rp__isa_detected();
	if (isa > rp__isa_built())
		isa = rp__isa_built();
	return ceiling < isa ? ceiling : isa;
}

const char *
rp_isa_name(enum rp_isa isa)
{
	switch (isa) {
	case RP_ISA_SCALAR: return "scalar";
	case RP_ISA_AVX2: return "avx2";
	case RP_ISA_AVX512: return "avx512";
	case RP_ISA_BEST: return "best";
	}
	return NULL;
}

int
rp_isa_from_name(const char *name, enum rp_isa *isa_ret)
{
	static const enum rp_isa all[] = { RP_ISA_SCALAR, RP_ISA_AVX2, RP_ISA_AVX512,
					   RP_ISA_BEST };
	if (!name || !isa_ret)
		return RP_E_INVALID_ARG;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(name, rp_isa_name(all[i])) == 0) {
			*isa_ret = all[i];
			return RP_OK;
		}
	return RP_E_INVALID_ARG;
}

enum rp_isa
rp_isa_effective(enum rp_isa ceiling)
{
	return rp__isa_select(ceiling);
}

#define RP__ISA_BUILD scalar
#include "simd/isa_build.h"
_Static_assert(RP__ISA_ID_scalar == RP_ISA_SCALAR && RP__ISA_ID_avx2 == RP_ISA_AVX2 &&
		       RP__ISA_ID_avx512 == RP_ISA_AVX512,
	       "simd/isa_build.h level numbers must be enum rp_isa's");
