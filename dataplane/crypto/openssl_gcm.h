// OpenSSL's AES-GCM through EVP, as a well-behaved library user gets it: one
// EVP_CIPHER_CTX per key, keyed once, and per packet only the IV, AAD, data
// and tag. The yardstick for `vitesse bench crypto`; nothing else uses it.
// (The node binary exports OpenSSL 3's symbols, so the addon links nothing.)
#pragma once

#include <cstddef>
#include <cstdint>

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace vitesse::crypto {

class OpensslGcm {
 public:
  OpensslGcm() = default;
  ~OpensslGcm();
  OpensslGcm(const OpensslGcm&) = delete;
  OpensslGcm& operator=(const OpensslGcm&) = delete;

  // key_len 16 or 32; false if OpenSSL refuses.
  bool init(const uint8_t* key, size_t key_len);
  bool seal(const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data, size_t len, uint8_t tag[16]);
  bool open(const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data, size_t len,
            const uint8_t tag[16]);

 private:
  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
};

}  // namespace vitesse::crypto
