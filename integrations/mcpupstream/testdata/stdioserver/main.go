// Command stdioserver is a real MCP server (the official go-sdk) over stdio,
// used as a type: mcp upstream in tests.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type empty struct{}

func main() {
	s := mcp.NewServer(&mcp.Implementation{Name: "stdio-upstream", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "token_seen", Description: "Says which token the child was started with."},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "token=" + os.Getenv("CRM_TOKEN")}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "parent_env", Description: "Says whether the parent's secrets leaked into the child."},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("leaked=%v", os.Getenv("PARENT_SECRET") != "")}}}, nil, nil
		})
	fmt.Fprintln(os.Stderr, "stdio upstream ready")
	if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		log.Fatal(err)
	}
}
