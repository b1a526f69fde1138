/* VPN profiles <-> our Diameter vendor AVPs (dict/README.md "Our vendor AVPs", DESIGN §6).
 *
 * One struct vpn_profile (vpncache/vpn_profile.h) maps onto one MIP4VPN-VPN-Profile grouped
 * AVP (1001) with members 1002-1021 and 1025. Wire conventions decided here:
 *  - Security-Type 1 ESP / 2 AH / 3 ENCAP-ONLY  <-> VPN_SEC_ESP / _AH / _ENCAP;
 *    Destination-Gateway-Type 1 STATIC / 2 DYNAMIC <-> VPN_GW_STATIC / _DYNAMIC.
 *  - Encryption-Algorithm (IKEv2 transform type 1): 11 ENCR_NULL <-> null, 12 ENCR_AES_CBC <->
 *    aes-cbc-128 or -256 (told apart by the key length: 16 or 32 octets; without keys it decodes
 *    as aes-cbc-128), 20 ENCR_AES_GCM_16 <-> aes-gcm-128 (20-octet key = key + salt, RFC 4106).
 *    Integrity-Algorithm (transform type 3): 0 NONE, 2 HMAC_SHA1_96, 12 HMAC_SHA2_256_128.
 *    Other registered IDs (AES-CTR, ChaCha20, MD5, SHA-384/512) are refused as unsupported.
 *    Absent algorithm AVPs mean null / none (encap-only profiles carry none).
 *  - SPI-Up/-Down are omitted when 0 (= the pre-configured default SA, vpnshare 0).
 *  - Key AVPs are present exactly when the profile has keys; their length is exactly
 *    vpn_enc_key_len() / vpn_integ_key_len() of the algorithms.
 *  - vpnshare <-> MIP4VPN-VPN-Share (1025): 0 SHARED / 1 PER-USER, always encoded, so a
 *    vpnshare-1 profile may travel with or without its keys. Decoding: another value is 5004;
 *    absent (a sender from before the AVP) means 1, unless the profile carries no keys and no
 *    SPIs, then 0.
 *  - Not carried: the NAI (NULL in a cache session) and the leg (decoded as VPN_LEG_NONE).
 *
 * SECURITY: the key AVPs (1015-1018) are secrets in clear inside the Diameter message; like
 * RFC 4004's MIP-Session-Key they must only cross peer connections protected by TLS (RFC 4004
 * §8; the AAAH answers 5025 otherwise). freeDiameter keeps copies of AVP values: call
 * vpn_avp_wipe_keys() on a message before freeing it, and OPENSSL_cleanse any buffer made by
 * fd_msg_bufferize() from it.
 *
 * Decoding is strict and returns a Diameter Result-Code to answer with, plus a precise message
 * naming the member and the profile ("VPN-Profile #2 (number 7): MIP4VPN-Security-Type 9 ...").
 * Messages must have been through fd_msg_parse_dict() (freeDiameter does this for received
 * messages) or built locally.
 */
#ifndef VPN_AVP_H
#define VPN_AVP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpn_profile.h"

struct msg;

/* Diameter Result-Codes the decoder answers with (RFC 6733 §7.1.5). */
#define VPN_AVP_RC_AVP_UNSUPPORTED 5001u
#define VPN_AVP_RC_INVALID_AVP_VALUE 5004u
#define VPN_AVP_RC_MISSING_AVP 5005u
#define VPN_AVP_RC_AVP_OCCURS_TOO_MANY_TIMES 5009u
#define VPN_AVP_RC_UNABLE_TO_COMPLY 5012u
#define VPN_AVP_RC_INVALID_AVP_LENGTH 5014u

#define VPN_AVP_ERR_MAX 256 /* enough for every message the decoder writes */

/* ---- Encoding. parent is a struct msg * or a grouped struct avp *; vendor_id 0 means the
 * vendor registered by mip4vpn_dict_init(). Each appends one AVP as the parent's last child.
 * Return 0, EINVAL (invalid profile: vpn_profile_validate() fails), ENOENT
 * (dictionary not initialised for that vendor) or another errno from freeDiameter; on error
 * nothing is appended. */
int vpn_avp_put_profile(void *parent, const struct vpn_profile *p, uint32_t vendor_id);
/* MIP4VPN-Profile-Cache: n = number of VPN-Profile AVPs in the message (0 = empty the cache). */
int vpn_avp_put_profile_cache(void *parent, uint32_t n, uint32_t vendor_id);
int vpn_avp_put_prev_fa(void *parent, struct in_addr fa, uint32_t vendor_id);
/* MIP4VPN-Service-Update-Request = RELOAD-PROFILES. */
int vpn_avp_put_service_update(void *parent, uint32_t vendor_id);

/* ---- Decoding. vendor: mip4vpn_dict_vendor_id(). Return 0 or a VPN_AVP_RC_* code with err
 * filled (err may be NULL). */

/* Every VPN-Profile AVP at the top level of m, in order, into out[0..*n). Each is decoded
 * strictly and checked with vpn_profile_validate(); more than max profiles is 5009. When the
 * message carries a Profile-Cache AVP its value must equal the number of profiles (5004).
 * On success the caller owns out[0..*n) (vpn_profile_clear() each: it wipes the keys); on
 * failure *n is 0 and every out[] slot touched is cleared. */
int vpn_avp_get_profiles(struct msg *m, struct vpn_profile *out, size_t max, size_t *n, char *err,
                         size_t errlen);
/* Top-level Profile-Cache / Previous-FA-Address / Service-Update-Request. *present tells
 * whether the AVP is there; a duplicate is 5009, a bad value 5004 (5014 for a bad length). */
int vpn_avp_get_profile_cache(struct msg *m, bool *present, uint32_t *n, char *err, size_t errlen);
int vpn_avp_get_prev_fa(struct msg *m, bool *present, struct in_addr *fa, char *err, size_t errlen);
int vpn_avp_get_service_update(struct msg *m, bool *present, char *err, size_t errlen);

/* Wipes (OPENSSL_cleanse) the value of every key AVP inside the message's VPN-Profile AVPs,
 * in place (for a parsed message this is the received buffer itself). Call before
 * fd_msg_free() on a message that carried keys. */
void vpn_avp_wipe_keys(struct msg *m);

#endif
