#include "esp/sa.h"

namespace vitesse::esp {

namespace {

// Splits key ‖ salt and keys the GCM context with both (the salt is the
// nonce's first four octets, crypto/aes_gcm.h); false if the length does not
// match the AEAD (checked first, so a refused SA keeps its old keys).
bool key_sa(crypto::GcmContext& gcm, Aead aead, const uint8_t* keymat, size_t len) {
  const size_t key_len = aead_key_len(aead);
  if (keymat == nullptr || len != key_len + kSaltLen) return false;
  // Keyed in place: a temporary context would leave a key schedule on the stack.
  if (!gcm.init(keymat, key_len)) return false;
  gcm.set_salt(keymat + key_len);
  return true;
}

}  // namespace

bool init_outbound(OutboundSa& sa, Aead aead, uint32_t spi, const uint8_t* keymat, size_t len) {
  if (!key_sa(sa.gcm, aead, keymat, len)) return false;
  sa.spi = spi;
  sa.seq = 0;
  sa.limit = UINT64_MAX;
  sa.esn = true;
  sa.counters = {};
  return true;
}

bool init_inbound(InboundSa& sa, Aead aead, uint32_t spi, const uint8_t* keymat, size_t len,
                  uint32_t replay_window) {
  ReplayWindow window;
  if (!window.init(replay_window)) return false;
  if (!key_sa(sa.gcm, aead, keymat, len)) return false;
  sa.spi = spi;
  sa.esn = true;
  sa.window = window;
  sa.counters = {};
  return true;
}

void start_window_at(InboundSa& sa, uint64_t top) {
  sa.window.init(sa.window.size(), top);
  // init() leaves the numbers below the top unmarked; mark the window's worth
  // (at most 4096, once per install) so none of them is taken as fresh.
  const uint64_t bottom = top >= sa.window.size() ? top - sa.window.size() + 1 : 1;
  for (uint64_t s = bottom; s != 0 && s <= top; ++s) sa.window.update(s);
}

// GcmContext::wipe zeroes the salt with the key schedule.
void wipe(OutboundSa& sa) { sa.gcm.wipe(); }

void wipe(InboundSa& sa) { sa.gcm.wipe(); }

}  // namespace vitesse::esp
