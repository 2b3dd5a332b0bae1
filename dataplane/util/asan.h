// AddressSanitizer's manual poisoning, for memory we hand out ourselves
// (esp/sa_arena.h): VITESSE_ASAN is defined when building with ASan (GCC
// says so with __SANITIZE_ADDRESS__, clang with __has_feature), and then
// sanitizer/asan_interface.h is included; without it the macros do nothing.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define VITESSE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VITESSE_ASAN 1
#endif
#endif

#ifdef VITESSE_ASAN
#include <sanitizer/asan_interface.h>
#define VITESSE_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define VITESSE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define VITESSE_POISON(p, n) ((void)(p), (void)(n))
#define VITESSE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif
