# Scenario "pcn-intra-move": seed scenario 5 -- alice, whose VPN goes to CN2 behind the PCN,
# moves from FA1 to FA2 inside visited ISP A (seeds [0079]-[0083], Fig. 28; aaad/FLOWS.md
# "Intra-domain move"): the AAAF answers the AMR, FA2 relays the Reg Req to the HA, the HA sends
# a BU with the rewritten VPN information to CN2's address (the PCN intercepts it and moves its
# tunnel to FA2), BA; smooth hand-off FA1 -> FA2.
# tb-world: aaa
# Sourced by testbed/run; the steps are in testbed/lib/move.sh.
export TB_SMOOTH_HANDOFF=true
MOVE_TO=fa2 MOVE_SET=pcn
# shellcheck source=../lib/move.sh
source "$TB_DIR/lib/move.sh"
