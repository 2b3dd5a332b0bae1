#include "crypto/aes_key_schedule.h"

#include <cstring>

#include "crypto/aes_bitsliced.h"
#include "crypto/ct_util.h"

namespace vitesse::crypto {

namespace {

// SubWord through the bitsliced S-box: a lookup table indexed by key bytes
// would leak the key through the cache.
void sub_word(uint8_t w[4]) {
  uint8_t blocks[64] = {};
  std::memcpy(blocks, w, 4);
  uint64_t q[8];
  bitsliced::pack(q, blocks);
  bitsliced::sub_bytes(q);
  bitsliced::unpack(blocks, q);
  std::memcpy(w, blocks, 4);
  secure_zero(blocks, sizeof blocks);
  secure_zero(q, sizeof q);
}

}  // namespace

int aes_expand_key(const uint8_t* key, size_t key_len, uint8_t rk[15][16]) {
  if (key_len != 16 && key_len != 32) return 0;
  const int nk = static_cast<int>(key_len / 4);  // key words
  const int rounds = nk + 6;
  const int total = 4 * (rounds + 1);            // round-key words
  uint8_t w[60][4];
  std::memcpy(w, key, key_len);
  uint8_t rcon = 1;
  for (int i = nk; i < total; ++i) {
    uint8_t t[4];
    std::memcpy(t, w[i - 1], 4);
    if (i % nk == 0) {
      const uint8_t first = t[0];  // RotWord
      t[0] = t[1];
      t[1] = t[2];
      t[2] = t[3];
      t[3] = first;
      sub_word(t);
      t[0] ^= rcon;
      rcon = static_cast<uint8_t>((rcon << 1) ^ ((rcon >> 7) * 0x1B));
    } else if (nk == 8 && i % nk == 4) {
      sub_word(t);
    }
    for (int k = 0; k < 4; ++k) w[i][k] = w[i - nk][k] ^ t[k];
    secure_zero(t, sizeof t);
  }
  std::memcpy(rk, w, static_cast<size_t>(total) * 4);
  secure_zero(w, sizeof w);
  return rounds;
}

}  // namespace vitesse::crypto
