package mcpupstream

// State is an upstream's connection state, for /readyz and the metrics.
type State struct {
	// Status is connecting (the first attempt has not ended), connected,
	// reconnecting (it was connected, its tools are kept, switchboard is
	// reconnecting) or failing (it has not been reached yet).
	Status string
	// Reason says why it is not connected ("" when connected).
	Reason string
	Tools  int
}

// State reports the upstream's connection state now.
func (u *Upstream) State() State {
	select {
	case <-u.started:
	default:
		return State{Status: "connecting"}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	s := State{Tools: len(u.tools)}
	switch {
	case u.client != nil:
		s.Status = "connected"
	case u.tools != nil:
		s.Status = "reconnecting"
	default:
		s.Status = "failing"
	}
	if u.client == nil && u.lastErr != nil {
		s.Reason = u.lastErr.Error()
	}
	return s
}
