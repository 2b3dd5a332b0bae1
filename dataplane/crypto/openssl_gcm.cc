#include "crypto/openssl_gcm.h"

#include <openssl/evp.h>

namespace vitesse::crypto {

OpensslGcm::~OpensslGcm() {
  EVP_CIPHER_CTX_free(enc_);  // also cleanses the key schedule
  EVP_CIPHER_CTX_free(dec_);
}

bool OpensslGcm::init(const uint8_t* key, size_t key_len) {
  const EVP_CIPHER* cipher = key_len == 16 ? EVP_aes_128_gcm() : key_len == 32 ? EVP_aes_256_gcm() : nullptr;
  if (cipher == nullptr) return false;
  if (enc_ == nullptr) enc_ = EVP_CIPHER_CTX_new();
  if (dec_ == nullptr) dec_ = EVP_CIPHER_CTX_new();
  return enc_ != nullptr && dec_ != nullptr &&
         EVP_EncryptInit_ex(enc_, cipher, nullptr, key, nullptr) == 1 &&
         EVP_DecryptInit_ex(dec_, cipher, nullptr, key, nullptr) == 1;
}

bool OpensslGcm::seal(const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data, size_t len,
                      uint8_t tag[16]) {
  int out = 0;
  return EVP_EncryptInit_ex(enc_, nullptr, nullptr, nullptr, iv) == 1 &&
         (aad_len == 0 || EVP_EncryptUpdate(enc_, nullptr, &out, aad, static_cast<int>(aad_len)) == 1) &&
         (len == 0 || EVP_EncryptUpdate(enc_, data, &out, data, static_cast<int>(len)) == 1) &&
         EVP_EncryptFinal_ex(enc_, data + len, &out) == 1 &&
         EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
}

bool OpensslGcm::open(const uint8_t iv[12], const uint8_t* aad, size_t aad_len, uint8_t* data, size_t len,
                      const uint8_t tag[16]) {
  int out = 0;
  return EVP_DecryptInit_ex(dec_, nullptr, nullptr, nullptr, iv) == 1 &&
         (aad_len == 0 || EVP_DecryptUpdate(dec_, nullptr, &out, aad, static_cast<int>(aad_len)) == 1) &&
         (len == 0 || EVP_DecryptUpdate(dec_, data, &out, data, static_cast<int>(len)) == 1) &&
         EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_GCM_SET_TAG, 16, const_cast<uint8_t*>(tag)) == 1 &&
         EVP_DecryptFinal_ex(dec_, data + len, &out) == 1;
}

}  // namespace vitesse::crypto
