/*
 * VPN information in a Mobile IP message (DESIGN §6): the BU that the HA sends
 * to a PCN (seed [0057], [0076]) and the new FA to the old FA (seed [0066])
 * carries one RFC 3115 CVSE (type 38) of our vendor, Vendor-CVSE-Type 2
 * (VPN-INFO; type 1 is the RO-auth CVSE of mip_proto.h).
 *
 * CVSE data (all integers in network order):
 *   Version (1) = 1
 *   TLVs: Type (1) | Length (2, octets of Value) | Value
 *     1 SESSION-ID  1-253 octets, no NUL             exactly once
 *     2 NAI         1-253 octets, no NUL             at most once
 *     3 HOME-ADDR   4                                at most once
 *     4 LIFETIME    4, seconds                       exactly once
 *     5 PROFILE     44 (below)                       0-8 times, in order
 *     6 SEALED      Nonce (12) | Ciphertext | Tag (16)   exactly once, last
 *   PROFILE: Number (4) | vpnshare (1) | Security type (1) | GW type (1) |
 *     Leg (1) | Src addr (4) | Src len (1) | Dst len (1) | DSCP up (1) |
 *     DSCP down (1) | Dst addr (4) | Enc alg (1) | Integ alg (1) |
 *     Flags (1, 0x01 = keys in SEALED, others 0) | Reserved (1) = 0 |
 *     Src GW (4) | Dst GW (4) | SPI up (4) | SPI down (4) | Lifetime (4)
 *   SEALED is AES-256-GCM: the plaintext is, for each PROFILE with the keys
 *   flag and in PROFILE order, enc key up | integ key up | enc key down |
 *   integ key down, each as long as its algorithm needs (vpn_profile.h).  AAD
 *   is the CVSE header (Type, Reserved = 0, Length, Vendor-ID, Vendor-CVSE-Type)
 *   followed by every data octet before SEALED's Value, so the tag also
 *   protects all non-secret fields.  The AES key is HKDF-SHA256(pairwise agent
 *   key, info "mip4vpn VPN-INFO CVSE v1") so the same agent key can also key
 *   the RO-auth HMAC without the two uses meeting.
 */
#ifndef VPN_CVSE_H
#define VPN_CVSE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mip_proto.h"
#include "vpn_cache.h"
#include "vpn_profile.h"

#define VPN_VSE_TYPE_VPN_INFO 2
#define VPN_CVSE_VERSION 1
#define VPN_CVSE_MAX_PROFILES 8
#define VPN_CVSE_NONCE_LEN 12
#define VPN_CVSE_TAG_LEN 16
#define VPN_CVSE_PROFILE_LEN 44
#define VPN_CVSE_MIN_AGENT_KEY 16 /* octets */

enum vpn_cvse_tlv {
    VPN_TLV_SESSION_ID = 1,
    VPN_TLV_NAI = 2,
    VPN_TLV_HOME_ADDR = 3,
    VPN_TLV_LIFETIME = 4,
    VPN_TLV_PROFILE = 5,
    VPN_TLV_SEALED = 6,
};

/* The VPN information of one session as carried in a BU. */
struct vpn_info {
    char session_id[VPN_SESSION_ID_MAX + 1];
    char nai[254]; /* "" = absent */
    struct in_addr hoa;
    uint32_t lifetime;
    unsigned n;
    struct vpn_profile profiles[VPN_CVSE_MAX_PROFILES]; /* nai always NULL */
};

/* Wipes the keys and zeroes info. */
void vpn_info_clear(struct vpn_info *info);

/* Appends the VPN-INFO CVSE to w.  Profiles are validated first; key is the
 * pairwise agent key (>= 16 octets).  Returns false with err set (and w
 * unchanged or latched with MIP_ERR_NOSPACE). */
bool vpn_cvse_put(struct mip_writer *w, uint32_t vendor_id, const struct vpn_info *info,
                  const void *key, size_t keylen, char *err, size_t errlen);

/* Decodes a CVSE found by the mipproto decoder.  Strict: every length, every
 * reserved bit, TLV order and multiplicity, then the tag, then each profile's
 * consistency.  On failure out is wiped and err says precisely what was wrong. */
bool vpn_cvse_get(const struct mip_vse *v, uint32_t vendor_id, const void *key, size_t keylen,
                  struct vpn_info *out, char *err, size_t errlen);

/* The first VPN-INFO CVSE of our vendor in a decoded message, or NULL;
 * *count (if not NULL) receives how many there are: a BU carries at most one,
 * so a caller treats count > 1 as a malformed BU. */
const struct mip_vse *vpn_cvse_find(const struct mip_exts *ext, uint32_t vendor_id,
                                    unsigned *count);

#endif
