--[[
mip4vpn.lua - Wireshark/tshark Lua dissector for the Mobile IPv4 VPN agent stack.

Usage:  tshark -X lua_script:mip4vpn.lua -r capture.pcap
        (or copy into ~/.local/lib/wireshark/plugins/ for Wireshark)
Written for tshark 4.0 (Debian 12); uses only the documented wslua API.

What it adds to stock Wireshark (DESIGN.md §6):

 * The RFC 4064 experimental message (Mobile IP type 255) that carries the
   route-optimisation messages of draft-ietf-mobileip-optim-11:
       Type=255 | Length(1) | Subtype(1) | fixed fields | extensions...
   Length counts the octets from Subtype to the end of the fixed fields.
   Subtypes and fixed fields (after Subtype; network byte order):
       16 Binding Warning:     reserved(1) HoA(4) target node(4)
       17 Binding Request:     reserved(1) HoA(4) identification(8)
       18 Binding Update:      flags(1: A I M G) reserved(1) lifetime(2)
                               HoA(4) CoA(4) identification(8)
       19 Binding Acknowledge: reserved(1) status(1) lifetime(2) HoA(4)
                               identification(8)
   The extensions are walked with the RFC 5944 rules: types 36 (generalized
   authentication, RFC 3012) and 38 (CVSE, RFC 3115) are long form
   (type, subtype/reserved, 2-octet length), all others short form
   (type, 1-octet length).

 * The content of our vendor-specific extensions (CVSE 38 / NVSE 134) under
   our vendor ID (preference "mip4vpn.vendor_id", default 32473, RFC 5612):
   vendor type 1 = route-optimisation authentication (SPI(4) + HMAC-SHA-256(32));
   other vendor types are shown as raw data, except those of the moves and the
   service update in a Registration Request (mipd/proto/mip_proto.h):
       CVSE type 3 = previous-FA notification: the previous FA's address (4),
                     mip4vpn.prev_fa;
       NVSE type 3 = service update: request code (2), 1 = RELOAD-PROFILES,
                     mip4vpn.service_update.code.
   A wrong data length is an expert error (Malformed); a value mipd refuses
   (previous FA not unicast, unknown request code) an expert warning.

How it hooks in: the dissector replaces the stock "mip" dissector on UDP port
434. Messages of type 255 are dissected here; every other message is handed
unchanged to the stock "mip" dissector (Dissector.get("mip")), so registration
requests/replies look exactly as without this script, apart from the vendor
extension content described next (tests/scripts/test_tshark_decode.sh checks
that the stock mip.* fields of registration messages keep their values).

Vendor extensions inside registration messages (types 1 and 3):
 * NVSE: the stock dissector offers a hook, the "mip.nvse_ext" dissector table
   keyed by vendor ID (it passes the NVSE from the vendor type on); this script
   registers there for our vendor ID, so the content appears inside the stock
   NVSE subtree as mip4vpn.nvse.type / mip4vpn.nvse.data / mip4vpn.auth.*.
   Consequence: for our vendor the stock mip.ext.nvse.vendor_type/vendor_value
   fields are replaced by ours (mip.ext.nvse.reserved/vendor_id stay).
 * CVSE: tshark 4.0's mip dissector has no such hook for CVSEs (it only knows
   Verizon and 3GPP2 CVSE types and otherwise shows mip.ext.cvse.vendor_type /
   vendor_value). So after the stock dissector ran, this script walks the
   extensions of the registration message itself and, if it finds a CVSE of our
   vendor, adds a separate "Mobile IPv4 VPN" subtree decoding it (mip4vpn.cvse.*).

RFC 3957 key replies inside registration replies (type 3):
 * The home agent's reply in AAA mode carries the Generalized MN-HA Key
   Generation Nonce Reply extension (type 43; aaad/FLOWS.md "HA"), in the long
   extension format: Type(1) Subtype(1) Length(2) | Lifetime(4) | AAA SPI(4) |
   HA SPI(4) | Algorithm(2) | Replay Method(2) | Nonce.  (Type 42, the MN-FA
   variant, has the same layout.)  tshark 4.0's mip dissector does not know
   these types and reads them as short-form extensions (type, 1-octet length):
   it loses its way in the message and flags it Malformed.  So for a
   registration message that carries them, this script hands the stock
   dissector a copy of the message without them (a second data source,
   "Registration message without RFC 3957 key extensions"; every mip.* field
   keeps its value, the authenticators included) and decodes the key
   extensions itself on the real bytes (mip4vpn.keygen.*).

Expert info is only raised for real malformation (length fields that do not
fit the message); well-formed messages never show Malformed.
]]

local mip4vpn = Proto("mip4vpn", "Mobile IPv4 VPN (route optimisation, vendor extensions)")
-- Second protocol used only as the entry of the stock "mip.nvse_ext" table.
local mip4vpn_nvse = Proto("mip4vpn_nvse", "Mobile IPv4 VPN vendor NVSE")

local MIP_PORT = 434
local TYPE_EXPERIMENTAL = 255
local EXT_GEN_AUTH = 36
local EXT_CVSE = 38
local EXT_NVSE = 134
-- RFC 3957 generalized key generation nonce replies (long form).
local EXT_KEYGEN = { [42] = "Generalized MN-FA Key Generation Nonce Reply (RFC 3957)",
                     [43] = "Generalized MN-HA Key Generation Nonce Reply (RFC 3957)" }
local KEYGEN_FIXED = 16
local VSE_TYPE_RO_AUTH = 1
local RO_AUTH_LEN = 4 + 32
-- Moves and service update (mip_proto.h: MIP_VSE_TYPE_PREV_FA, MIP_NVSE_TYPE_SERVICE_UPDATE).
local VSE_TYPE_PREV_FA = 3
local NVSE_TYPE_SERVICE_UPDATE = 3
local PREV_FA_LEN = 4
local SERVICE_UPDATE_LEN = 2
local service_update_codes = { [1] = "RELOAD-PROFILES" }

mip4vpn.prefs.vendor_id = Pref.uint("Vendor ID", 32473,
    "Enterprise number under which our CVSE/NVSE are sent (default 32473, RFC 5612)")

local subtype_names = {
    [16] = "Binding Warning",
    [17] = "Binding Request",
    [18] = "Binding Update",
    [19] = "Binding Acknowledge",
}

-- Octets from Subtype to the end of the fixed fields, per subtype.
local fixed_len = {
    [16] = 1 + 1 + 4 + 4,
    [17] = 1 + 1 + 4 + 8,
    [18] = 1 + 1 + 1 + 2 + 4 + 4 + 8,
    [19] = 1 + 1 + 1 + 2 + 4 + 8,
}

-- Binding Acknowledge status: 0 = accepted, >= 128 = rejected. mip_proto.h
-- does not name the individual rejection codes yet, so only these are named.
local ba_status_names = {
    [0] = "Binding Update accepted",
}

local ext_names = {
    [32] = "Mobile-Home Authentication",
    [33] = "Mobile-Foreign Authentication",
    [34] = "Foreign-Home Authentication",
    [36] = "Generalized Mobile-IP Authentication",
    [38] = "Critical Vendor/Organization Specific Extension (CVSE)",
    [130] = "Encapsulating Delivery Style",
    [131] = "Mobile Node NAI",
    [132] = "MN-FA Challenge",
    [134] = "Normal Vendor/Organization Specific Extension (NVSE)",
    [255] = "Skippable Extension for Experimental use",
}

local gen_auth_subtypes = {
    [1] = "MN-AAA Authentication",
    [2] = "FA-FA Authentication",
    [3] = "MN-GFA Authentication",
    [4] = "MN-PAR Authentication",
}

local vse_type_names = {
    [VSE_TYPE_RO_AUTH] = "Route-optimisation authentication (HMAC-SHA-256)",
}
-- CVSE and NVSE types are separate spaces (RFC 3115).
vse_type_names[VSE_TYPE_PREV_FA] = "Previous-FA notification"
local nvse_type_names = { [NVSE_TYPE_SERVICE_UPDATE] = "Service update" }

local F = {
    type = ProtoField.uint8("mip4vpn.type", "Message Type", base.DEC,
        { [TYPE_EXPERIMENTAL] = "Experimental Message (RFC 4064)" }),
    length = ProtoField.uint8("mip4vpn.length", "Length", base.DEC),
    subtype = ProtoField.uint8("mip4vpn.subtype", "Subtype", base.DEC, subtype_names),
    ident = ProtoField.uint64("mip4vpn.ident", "Identification", base.HEX),

    bu_flags = ProtoField.uint8("mip4vpn.bu.flags", "Flags", base.HEX),
    bu_a = ProtoField.bool("mip4vpn.bu.flags.a", "Acknowledge requested (A)", 8, nil, 0x80),
    bu_i = ProtoField.bool("mip4vpn.bu.flags.i", "Identification present (I)", 8, nil, 0x40),
    bu_m = ProtoField.bool("mip4vpn.bu.flags.m", "Minimal encapsulation (M)", 8, nil, 0x20),
    bu_g = ProtoField.bool("mip4vpn.bu.flags.g", "GRE encapsulation (G)", 8, nil, 0x10),
    bu_flags_rsv = ProtoField.uint8("mip4vpn.bu.flags.reserved", "Reserved flags", base.HEX,
        nil, 0x0f),
    bu_reserved = ProtoField.uint8("mip4vpn.bu.reserved", "Reserved", base.HEX),
    bu_lifetime = ProtoField.uint16("mip4vpn.bu.lifetime", "Lifetime", base.DEC),
    bu_hoa = ProtoField.ipv4("mip4vpn.bu.hoa", "Home Address"),
    bu_coa = ProtoField.ipv4("mip4vpn.bu.coa", "Care-of Address"),

    ba_reserved = ProtoField.uint8("mip4vpn.ba.reserved", "Reserved", base.HEX),
    ba_status = ProtoField.uint8("mip4vpn.ba.status", "Status", base.DEC, ba_status_names),
    ba_lifetime = ProtoField.uint16("mip4vpn.ba.lifetime", "Lifetime", base.DEC),
    ba_hoa = ProtoField.ipv4("mip4vpn.ba.hoa", "Home Address"),

    br_reserved = ProtoField.uint8("mip4vpn.br.reserved", "Reserved", base.HEX),
    br_hoa = ProtoField.ipv4("mip4vpn.br.hoa", "Home Address"),

    bw_reserved = ProtoField.uint8("mip4vpn.bw.reserved", "Reserved", base.HEX),
    bw_hoa = ProtoField.ipv4("mip4vpn.bw.hoa", "Home Address"),
    bw_target = ProtoField.ipv4("mip4vpn.bw.target", "Target Node"),

    ext_type = ProtoField.uint8("mip4vpn.ext.type", "Extension Type", base.DEC, ext_names),
    ext_subtype = ProtoField.uint8("mip4vpn.ext.subtype", "Subtype", base.DEC, gen_auth_subtypes),
    ext_reserved = ProtoField.uint8("mip4vpn.ext.reserved", "Reserved", base.HEX),
    ext_len = ProtoField.uint16("mip4vpn.ext.len", "Extension Length", base.DEC),
    ext_data = ProtoField.bytes("mip4vpn.ext.data", "Data"),
    ext_spi = ProtoField.uint32("mip4vpn.ext.spi", "SPI", base.DEC),
    ext_auth = ProtoField.bytes("mip4vpn.ext.authenticator", "Authenticator"),
    ext_nai = ProtoField.string("mip4vpn.ext.nai", "NAI"),
    ext_challenge = ProtoField.bytes("mip4vpn.ext.challenge", "Challenge"),

    cvse_vendor = ProtoField.uint32("mip4vpn.cvse.vendor", "Vendor ID", base.DEC),
    cvse_type = ProtoField.uint16("mip4vpn.cvse.type", "Vendor CVSE Type", base.DEC,
        vse_type_names),
    cvse_data = ProtoField.bytes("mip4vpn.cvse.data", "Vendor CVSE Data"),
    nvse_reserved = ProtoField.uint16("mip4vpn.nvse.reserved", "Reserved", base.HEX),
    nvse_vendor = ProtoField.uint32("mip4vpn.nvse.vendor", "Vendor ID", base.DEC),
    nvse_type = ProtoField.uint16("mip4vpn.nvse.type", "Vendor NVSE Type", base.DEC,
        nvse_type_names),
    nvse_data = ProtoField.bytes("mip4vpn.nvse.data", "Vendor NVSE Data"),

    keygen_type = ProtoField.uint8("mip4vpn.keygen.type", "Extension Type", base.DEC),
    keygen_subtype = ProtoField.uint8("mip4vpn.keygen.subtype", "Subtype", base.DEC,
        { [1] = "AAA" }),
    keygen_len = ProtoField.uint16("mip4vpn.keygen.len", "Extension Length", base.DEC),
    keygen_lifetime = ProtoField.uint32("mip4vpn.keygen.lifetime", "Key Lifetime", base.DEC),
    keygen_aaa_spi = ProtoField.uint32("mip4vpn.keygen.aaa_spi", "AAA SPI", base.DEC),
    keygen_spi = ProtoField.uint32("mip4vpn.keygen.spi", "HA/FA SPI", base.DEC),
    keygen_alg = ProtoField.uint16("mip4vpn.keygen.alg", "Algorithm Identifier", base.DEC),
    keygen_replay = ProtoField.uint16("mip4vpn.keygen.replay", "Replay Method", base.DEC),
    keygen_nonce = ProtoField.bytes("mip4vpn.keygen.nonce", "Key Generation Nonce"),

    auth_spi = ProtoField.uint32("mip4vpn.auth.spi", "SPI", base.DEC),
    auth_hmac = ProtoField.bytes("mip4vpn.auth.hmac", "HMAC-SHA-256"),
}

F.prev_fa = ProtoField.ipv4("mip4vpn.prev_fa", "Previous FA")
F.service_update_code = ProtoField.uint16("mip4vpn.service_update.code", "Request code", base.DEC,
    service_update_codes)

local fields = {}
for _, f in pairs(F) do
    fields[#fields + 1] = f
end
mip4vpn.fields = fields

local ef_bad_length = ProtoExpert.new("mip4vpn.bad_length.expert",
    "Length field inconsistent with the message", expert.group.MALFORMED, expert.severity.ERROR)
local ef_truncated = ProtoExpert.new("mip4vpn.truncated.expert",
    "Message truncated", expert.group.MALFORMED, expert.severity.ERROR)
local ef_bad_value = ProtoExpert.new("mip4vpn.bad_value.expert",
    "Value the agents refuse", expert.group.PROTOCOL, expert.severity.WARN)
mip4vpn.experts = { ef_bad_length, ef_truncated, ef_bad_value }

local mip_dissector = Dissector.get("mip")

local function vendor_id()
    return mip4vpn.prefs.vendor_id
end

-- Content of one of our vendor's VSEs: `dlen` octets at `off` (after the
-- vendor type); is_cvse selects the field family.
-- Previous-FA CVSE / service-update NVSE content; false when vtype is neither.
local function dissect_moves_vse(tvb, off, dlen, vtype, tree, is_cvse)
    local name, need
    if is_cvse and vtype == VSE_TYPE_PREV_FA then
        name, need = "Previous-FA notification", PREV_FA_LEN
    elseif not is_cvse and vtype == NVSE_TYPE_SERVICE_UPDATE then
        name, need = "Service update", SERVICE_UPDATE_LEN
    else
        return false
    end
    if dlen ~= need then
        local it = tree
        if dlen > 0 then
            it = tree:add(is_cvse and F.cvse_data or F.nvse_data, tvb(off, dlen))
        end
        it:add_proto_expert_info(ef_bad_length,
            string.format("%s data is %d octets, expected %d", name, dlen, need))
        return true
    end
    local st = tree:add(mip4vpn, tvb(off, dlen), name)
    if is_cvse then
        local it = st:add(F.prev_fa, tvb(off, 4))
        local a = tvb(off, 1):uint()
        if tvb(off, 4):uint() == 0 or a == 127 or a >= 224 then
            it:add_proto_expert_info(ef_bad_value, "Previous FA is not a unicast address")
        end
        st:append_text(": " .. tostring(tvb(off, 4):ipv4()))
    else
        local it = st:add(F.service_update_code, tvb(off, 2))
        local code = tvb(off, 2):uint()
        if service_update_codes[code] == nil then
            it:add_proto_expert_info(ef_bad_value,
                string.format("Request code %d unknown (1 = RELOAD-PROFILES)", code))
        end
        st:append_text(": " .. (service_update_codes[code] or tostring(code)))
    end
    return true
end

local function dissect_vse_content(tvb, off, dlen, vtype, tree, is_cvse)
    if dissect_moves_vse(tvb, off, dlen, vtype, tree, is_cvse) then
        return
    end
    local data_field = is_cvse and F.cvse_data or F.nvse_data
    if vtype == VSE_TYPE_RO_AUTH then
        if dlen ~= RO_AUTH_LEN then
            local it = tree
            if dlen > 0 then
                it = tree:add(data_field, tvb(off, dlen))
            end
            it:add_proto_expert_info(ef_bad_length,
                string.format("RO authentication data is %d octets, expected %d", dlen,
                    RO_AUTH_LEN))
            return
        end
        local st = tree:add(mip4vpn, tvb(off, dlen), "Route-optimisation authentication")
        st:add(F.auth_spi, tvb(off, 4))
        st:add(F.auth_hmac, tvb(off + 4, 32))
    elseif dlen > 0 then
        tree:add(data_field, tvb(off, dlen))
    end
end

-- One vendor-specific extension; `off` points at its type octet and `total`
-- is the whole extension length (header included).
local function dissect_vse(tvb, off, total, tree, is_cvse)
    local vendor_off = off + 4
    -- CVSE: type(1) reserved(1) length(2) vendor(4) vtype(2) data
    -- NVSE: type(1) length(1) reserved(2) vendor(4) vtype(2) data
    if total < 10 then
        tree:add_proto_expert_info(ef_bad_length, "Vendor-specific extension shorter than 10 octets")
        return
    end
    local vid = tvb(vendor_off, 4):uint()
    local vtype = tvb(vendor_off + 4, 2):uint()
    if is_cvse then
        tree:add(F.cvse_vendor, tvb(vendor_off, 4))
        tree:add(F.cvse_type, tvb(vendor_off + 4, 2))
    else
        tree:add(F.nvse_reserved, tvb(off + 2, 2))
        tree:add(F.nvse_vendor, tvb(vendor_off, 4))
        tree:add(F.nvse_type, tvb(vendor_off + 4, 2))
    end
    local dlen = total - 10
    if vid == vendor_id() then
        dissect_vse_content(tvb, vendor_off + 6, dlen, vtype, tree, is_cvse)
    elseif dlen > 0 then
        tree:add(is_cvse and F.cvse_data or F.nvse_data, tvb(vendor_off + 6, dlen))
    end
end

-- Walks the extensions from `off` to the end of `tvb`.
local function dissect_extensions(tvb, off, tree)
    local total = tvb:len()
    if off >= total then
        return
    end
    local exts = tree:add(mip4vpn, tvb(off, total - off), "Extensions")
    while off < total do
        local etype = tvb(off, 1):uint()
        local long = (etype == EXT_GEN_AUTH or etype == EXT_CVSE)
        local hdr = long and 4 or 2
        if total - off < hdr then
            exts:add_proto_expert_info(ef_truncated,
                string.format("Extension header truncated at offset %d", off))
            return
        end
        local elen = long and tvb(off + 2, 2):uint() or tvb(off + 1, 1):uint()
        local ext_total = hdr + elen
        local name = ext_names[etype] or string.format("Unknown extension %d", etype)
        if ext_total > total - off then
            local et = exts:add(mip4vpn, tvb(off, total - off), "Extension: " .. name)
            et:add(F.ext_type, tvb(off, 1))
            et:add(F.ext_len, tvb(long and off + 2 or off + 1, long and 2 or 1))
            et:add_proto_expert_info(ef_bad_length,
                string.format("Extension length %d exceeds the %d octets left", elen,
                    total - off - hdr))
            return
        end
        local et = exts:add(mip4vpn, tvb(off, ext_total), "Extension: " .. name)
        et:add(F.ext_type, tvb(off, 1))
        if long then
            if etype == EXT_GEN_AUTH then
                et:add(F.ext_subtype, tvb(off + 1, 1))
            else
                et:add(F.ext_reserved, tvb(off + 1, 1))
            end
            et:add(F.ext_len, tvb(off + 2, 2))
        else
            et:add(F.ext_len, tvb(off + 1, 1))
        end
        local body = off + hdr
        if etype == 32 or etype == 33 or etype == 34 or etype == EXT_GEN_AUTH then
            if elen < 4 then
                et:add_proto_expert_info(ef_bad_length, "Authentication extension without SPI")
            else
                et:add(F.ext_spi, tvb(body, 4))
                if elen > 4 then
                    et:add(F.ext_auth, tvb(body + 4, elen - 4))
                end
            end
        elseif etype == EXT_CVSE then
            dissect_vse(tvb, off, ext_total, et, true)
        elseif etype == EXT_NVSE then
            dissect_vse(tvb, off, ext_total, et, false)
        elseif etype == 131 and elen > 0 then
            et:add(F.ext_nai, tvb(body, elen))
        elseif etype == 132 and elen > 0 then
            et:add(F.ext_challenge, tvb(body, elen))
        elseif elen > 0 then
            et:add(F.ext_data, tvb(body, elen))
        end
        off = off + ext_total
    end
end

local function ipstr(tvb, off)
    return tostring(tvb(off, 4):ipv4())
end

local function dissect_experimental(tvb, pinfo, tree)
    pinfo.cols.protocol = "MobileIP"
    local total = tvb:len()
    local t = tree:add(mip4vpn, tvb(), "Mobile IP Experimental Message (RFC 4064)")
    t:add(F.type, tvb(0, 1))
    if total < 3 then
        t:add_proto_expert_info(ef_truncated, "Experimental message shorter than 3 octets")
        pinfo.cols.info = "Experimental Message (truncated)"
        return total
    end
    local len_item = t:add(F.length, tvb(1, 1))
    t:add(F.subtype, tvb(2, 1))
    local len = tvb(1, 1):uint()
    local subtype = tvb(2, 1):uint()
    local name = subtype_names[subtype]
    if name == nil then
        -- Unknown subtype: not an error; show the fixed part as data.
        pinfo.cols.info = string.format("Experimental Message, subtype %d", subtype)
        if len > total - 2 then
            len_item:add_proto_expert_info(ef_bad_length,
                string.format("Length %d exceeds the %d octets left", len, total - 2))
            return total
        end
        if len > 1 then
            t:add(F.ext_data, tvb(3, len - 1))
        end
        dissect_extensions(tvb, 2 + len, t)
        return total
    end
    t:append_text(": " .. name)
    local need = fixed_len[subtype]
    if len ~= need then
        len_item:add_proto_expert_info(ef_bad_length,
            string.format("Length %d, but a %s has %d octets from Subtype on", len, name, need))
    end
    if total - 2 < need then
        t:add_proto_expert_info(ef_truncated,
            string.format("%s needs %d octets after Length, only %d present", name, need,
                total - 2))
        pinfo.cols.info = name .. " (truncated)"
        return total
    end
    local o = 3
    local info
    if subtype == 18 then
        local ft = t:add(F.bu_flags, tvb(o, 1))
        ft:add(F.bu_a, tvb(o, 1))
        ft:add(F.bu_i, tvb(o, 1))
        ft:add(F.bu_m, tvb(o, 1))
        ft:add(F.bu_g, tvb(o, 1))
        ft:add(F.bu_flags_rsv, tvb(o, 1))
        t:add(F.bu_reserved, tvb(o + 1, 1))
        t:add(F.bu_lifetime, tvb(o + 2, 2))
        t:add(F.bu_hoa, tvb(o + 4, 4))
        t:add(F.bu_coa, tvb(o + 8, 4))
        t:add(F.ident, tvb(o + 12, 8))
        info = string.format("Binding Update: HoA=%s CoA=%s Lifetime=%d", ipstr(tvb, o + 4),
            ipstr(tvb, o + 8), tvb(o + 2, 2):uint())
    elseif subtype == 19 then
        t:add(F.ba_reserved, tvb(o, 1))
        t:add(F.ba_status, tvb(o + 1, 1))
        t:add(F.ba_lifetime, tvb(o + 2, 2))
        t:add(F.ba_hoa, tvb(o + 4, 4))
        t:add(F.ident, tvb(o + 8, 8))
        local st = tvb(o + 1, 1):uint()
        local verdict = ba_status_names[st] or (st >= 128 and "rejected" or "unknown")
        info = string.format("Binding Acknowledge: HoA=%s Status=%d (%s) Lifetime=%d",
            ipstr(tvb, o + 4), st, verdict, tvb(o + 2, 2):uint())
    elseif subtype == 17 then
        t:add(F.br_reserved, tvb(o, 1))
        t:add(F.br_hoa, tvb(o + 1, 4))
        t:add(F.ident, tvb(o + 5, 8))
        info = string.format("Binding Request: HoA=%s", ipstr(tvb, o + 1))
    else -- 16
        t:add(F.bw_reserved, tvb(o, 1))
        t:add(F.bw_hoa, tvb(o + 1, 4))
        t:add(F.bw_target, tvb(o + 5, 4))
        info = string.format("Binding Warning: HoA=%s Target=%s", ipstr(tvb, o + 1),
            ipstr(tvb, o + 5))
    end
    pinfo.cols.info = info
    -- Extensions start after the fixed fields; trust Length when it fits.
    local ext_off = 2 + need
    if len ~= need and len <= total - 2 then
        ext_off = 2 + len
    end
    dissect_extensions(tvb, ext_off, t)
    return total
end

-- After the stock dissector handled a registration message: decode the content
-- of our CVSEs (the stock dissector has no hook for them). Silent on anything
-- odd: malformation of registration messages is the stock dissector's business.
local function annotate_registration_cvse(tvb, tree)
    local mtype = tvb(0, 1):uint()
    local off
    if mtype == 1 then
        off = 24
    elseif mtype == 3 then
        off = 20
    else
        return
    end
    local total = tvb:len()
    local t
    while off < total do
        local etype = tvb(off, 1):uint()
        local long = (etype == EXT_GEN_AUTH or etype == EXT_CVSE)
        local hdr = long and 4 or 2
        if total - off < hdr then
            return
        end
        local elen = long and tvb(off + 2, 2):uint() or tvb(off + 1, 1):uint()
        if hdr + elen > total - off then
            return
        end
        if etype == EXT_CVSE and elen >= 6 and tvb(off + 4, 4):uint() == vendor_id() then
            if t == nil then
                t = tree:add(mip4vpn, tvb(), "Mobile IPv4 VPN vendor extensions")
            end
            local et = t:add(mip4vpn, tvb(off, hdr + elen), "Extension: " .. ext_names[etype])
            dissect_vse(tvb, off, hdr + elen, et, true)
        end
        off = off + hdr + elen
    end
end

-- The RFC 3957 key extensions of a registration message: a list of
-- {off, len} (whole extensions), or nil when there are none or the
-- extensions do not walk cleanly (then the stock dissector judges).
local function find_keygen(tvb)
    local mtype = tvb(0, 1):uint()
    local off = (mtype == 1 and 24) or (mtype == 3 and 20) or nil
    if off == nil then
        return nil
    end
    local total = tvb:len()
    local found = {}
    while off < total do
        local etype = tvb(off, 1):uint()
        local long = (etype == EXT_GEN_AUTH or etype == EXT_CVSE or EXT_KEYGEN[etype] ~= nil)
        local hdr = long and 4 or 2
        if total - off < hdr then
            return nil
        end
        local elen = long and tvb(off + 2, 2):uint() or tvb(off + 1, 1):uint()
        if hdr + elen > total - off then
            return nil
        end
        if EXT_KEYGEN[etype] ~= nil then
            found[#found + 1] = { off = off, len = hdr + elen }
        end
        off = off + hdr + elen
    end
    if #found == 0 then
        return nil
    end
    return found
end

local function dissect_keygen(tvb, ext, tree)
    local off, len = ext.off, ext.len
    local etype = tvb(off, 1):uint()
    local t = tree:add(mip4vpn, tvb(off, len), "Extension: " .. EXT_KEYGEN[etype])
    t:add(F.keygen_type, tvb(off, 1))
    t:add(F.keygen_subtype, tvb(off + 1, 1))
    t:add(F.keygen_len, tvb(off + 2, 2))
    local body = off + 4
    if len - 4 < KEYGEN_FIXED then
        t:add_proto_expert_info(ef_bad_length,
            string.format("Key reply extension of %d octets, the fixed part alone needs %d",
                len - 4, KEYGEN_FIXED))
        return
    end
    t:add(F.keygen_lifetime, tvb(body, 4))
    t:add(F.keygen_aaa_spi, tvb(body + 4, 4))
    t:add(F.keygen_spi, tvb(body + 8, 4))
    t:add(F.keygen_alg, tvb(body + 12, 2))
    t:add(F.keygen_replay, tvb(body + 14, 2))
    if len - 4 > KEYGEN_FIXED then
        t:add(F.keygen_nonce, tvb(body + KEYGEN_FIXED, len - 4 - KEYGEN_FIXED))
    end
end

function mip4vpn.dissector(tvb, pinfo, tree)
    if tvb:len() < 1 then
        return 0
    end
    if tvb(0, 1):uint() == TYPE_EXPERIMENTAL then
        return dissect_experimental(tvb, pinfo, tree)
    end
    local keygen = find_keygen(tvb)
    if keygen == nil then
        local n = mip_dissector:call(tvb, pinfo, tree)
        annotate_registration_cvse(tvb, tree)
        return n
    end
    -- The stock dissector sees the message without the key extensions.
    local stripped = ByteArray.new()
    local from = 0
    for _, ext in ipairs(keygen) do
        if ext.off > from then
            stripped:append(tvb(from, ext.off - from):bytes())
        end
        from = ext.off + ext.len
    end
    if from < tvb:len() then
        stripped:append(tvb(from, tvb:len() - from):bytes())
    end
    local stvb = stripped:tvb("Registration message without RFC 3957 key extensions")
    mip_dissector:call(stvb, pinfo, tree)
    annotate_registration_cvse(stvb, tree)
    local t = tree:add(mip4vpn, tvb(), "Mobile IPv4 key distribution (RFC 3957)")
    for _, ext in ipairs(keygen) do
        dissect_keygen(tvb, ext, t)
    end
    return tvb:len()
end

-- Entry of the stock "mip.nvse_ext" table: tvb starts at the vendor NVSE type.
function mip4vpn_nvse.dissector(tvb, pinfo, tree)
    local n = tvb:len()
    if n < 2 then
        return 0
    end
    local t = tree:add(mip4vpn, tvb(), "Mobile IPv4 VPN NVSE")
    t:add(F.nvse_type, tvb(0, 2))
    local vtype = tvb(0, 2):uint()
    dissect_vse_content(tvb, 2, n - 2, vtype, t, false)
    return n
end

local registered_vendor
local function register_nvse_hook()
    local tbl = DissectorTable.get("mip.nvse_ext")
    if tbl == nil then
        return
    end
    if registered_vendor ~= nil then
        tbl:remove(registered_vendor, mip4vpn_nvse)
    end
    registered_vendor = vendor_id()
    tbl:add(registered_vendor, mip4vpn_nvse)
end

function mip4vpn.prefs_changed()
    if registered_vendor ~= vendor_id() then
        register_nvse_hook()
    end
end

DissectorTable.get("udp.port"):add(MIP_PORT, mip4vpn)
register_nvse_hook()
