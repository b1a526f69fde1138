# Scenario "pcn-inter-move": seed scenario 6 -- alice, whose VPN goes to CN2 behind the PCN,
# moves from FA1 (visited ISP A) to FA3 in visited ISP B (seeds [0084]-[0089], Fig. 29;
# aaad/FLOWS.md "Inter-domain move"): AMR through AAAF-B to the AAAH, HAR, the HA's BU to the
# PCN (intercepted at CN2's address), BA, HAA and AMA with FA1's address; FA3 sets its tunnel to
# the PCN and sends the hand-off BU to FA1.
# tb-world: aaa
# Sourced by testbed/run; the steps are in testbed/lib/move.sh.
export TB_SMOOTH_HANDOFF=true
MOVE_TO=fa3 MOVE_SET=pcn
# shellcheck source=../lib/move.sh
source "$TB_DIR/lib/move.sh"
