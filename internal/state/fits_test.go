package state

import "github.com/switchboard-dev/switchboard/policy"

// A Store is the policy's Claimer of single-use confirmations.
var _ policy.Claimer = Store(nil)
