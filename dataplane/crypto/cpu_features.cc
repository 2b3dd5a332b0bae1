#include "crypto/cpu_features.h"

#include <cpuid.h>

#include <cstdint>

namespace vitesse::crypto {

namespace {

// XCR0: which register state the OS saves. XGETBV is only valid when CPUID
// reports OSXSAVE, which the caller checks first.
uint64_t xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.aesni = c & bit_AES;
  f.pclmulqdq = c & bit_PCLMUL;
  const bool osxsave = c & bit_OSXSAVE;
  const bool avx = c & bit_AVX;
  const uint64_t xcr = osxsave ? xcr0() : 0;
  const bool os_ymm = (xcr & 0x6) == 0x6;     // SSE and AVX state
  const bool os_zmm = (xcr & 0xE6) == 0xE6;   // plus opmask, ZMM_Hi256, Hi16_ZMM
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  f.avx2 = avx && os_ymm && (b & bit_AVX2);
  f.avx512 = f.avx2 && os_zmm && (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512VL) &&
             (b & bit_AVX512DQ);
  f.vaes = c & bit_VAES;
  f.vpclmulqdq = c & bit_VPCLMULQDQ;
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace vitesse::crypto
