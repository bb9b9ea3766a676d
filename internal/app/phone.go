package app

import (
	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

// withPhone gives the discovered tools of a type: mcp integration the
// integration's speech: and dedupe: (an upstream's tools have no config of
// their own); dedupe only applies to tools that are not read-only. The
// upstream's tools are copied, never changed.
func withPhone(in configs.Integration, tools []*integrations.Tool) []*integrations.Tool {
	speech := integrations.SpeechFrom(in.Speech)
	if speech == nil && in.Dedupe == 0 {
		return tools
	}
	out := make([]*integrations.Tool, len(tools))
	for i, t := range tools {
		c := *t
		c.Speech = speech
		if !c.ReadOnly {
			c.Dedupe = in.Dedupe
		}
		out[i] = &c
	}
	return out
}
