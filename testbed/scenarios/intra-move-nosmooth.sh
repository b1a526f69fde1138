# Scenario "intra-move-nosmooth": the same move as "intra-move" (seed scenario 2, Fig. 25) with
# smooth hand-off off (fa.smooth_handoff = false), for comparison: no hand-off buffer, no BU to
# the old FA; its state just expires.  Losses are reported as metrics, not checked.
# tb-world: aaa
# Sourced by testbed/run; the steps are in testbed/lib/move.sh.
export TB_SMOOTH_HANDOFF=false
MOVE_TO=fa2 MOVE_SET=static
# shellcheck source=../lib/move.sh
source "$TB_DIR/lib/move.sh"
