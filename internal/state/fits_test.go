// An external test package, so that policy may import state.
package state_test

import (
	"github.com/switchboard-dev/switchboard/internal/state"
	"github.com/switchboard-dev/switchboard/policy"
)

// A Store is the policy's Claimer of single-use confirmations.
var _ policy.Claimer = state.Store(nil)
