// What this CPU (and the OS, which must save the wide registers on a context
// switch) lets the AES-GCM paths use, read once from CPUID and XGETBV.
#pragma once

namespace vitesse::crypto {

struct CpuFeatures {
  bool aesni = false;
  bool pclmulqdq = false;
  bool avx2 = false;        // includes AVX with OS support for YMM state
  bool avx512 = false;      // F, BW, VL, DQ with OS support for ZMM and opmask state
  bool vaes = false;
  bool vpclmulqdq = false;
};

const CpuFeatures& cpu_features();

}  // namespace vitesse::crypto
