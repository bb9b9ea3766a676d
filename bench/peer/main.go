// Command peer is the set of small servers the benchmark harness (go run
// ./bench) measures switchboard against, each started as its own process:
//
//	peer upstream -token T          the REST API behind every gateway
//	peer bare -upstream URL -token T   an mcp-go server, one tool, known token
//	peer ideal -upstream URL -vault ADDR -vault-token V -secret MOUNT/PATH#FIELD
//	                                the same tool reading the token from Vault per call
//	peer many -tools N              an mcp-go server with N trivial tools
//
// Every role listens on -listen (default 127.0.0.1:0), serves GET /readyz, prints
// "READY http://ADDR" on stdout once it accepts connections, and exits when its
// stdin closes (so a dying harness never leaves one behind). With -stdio, bare
// and many serve MCP over stdin/stdout instead.
//
// It links neither switchboard nor Vault's server, so its start-up time and
// memory are those of a plain mcp-go program.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
)

// Reply is what the upstream answers: a small JSON object, as a CRM lookup would.
const Reply = `{"id":"cus_1001","name":"María García","email":"maria@example.com","tier":"gold","phone":"+34612345678"}`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: peer upstream|bare|ideal|many [flags]")
	}
	role := args[0]
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	token := fs.String("token", "", "bearer token the upstream expects / bare sends")
	upstream := fs.String("upstream", "", "upstream base URL")
	vaultAddr := fs.String("vault", "", "Vault address (ideal)")
	vaultToken := fs.String("vault-token", "", "Vault token (ideal)")
	secret := fs.String("secret", "secret/bench#token", "KV v2 secret MOUNT/PATH#FIELD (ideal)")
	tools := fs.Int("tools", 2000, "number of tools (many)")
	stdio := fs.Bool("stdio", false, "serve MCP over stdio instead of HTTP (bare, many)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}

	var h http.Handler
	var s *mcpserver.MCPServer
	switch role {
	case "upstream":
		h = upstreamHandler(*token)
	case "bare":
		s = oneTool(forwarder(*upstream, func(context.Context) (string, error) { return *token, nil }))
	case "ideal":
		read, err := vaultReader(*vaultAddr, *vaultToken, *secret)
		if err != nil {
			return err
		}
		s = oneTool(forwarder(*upstream, read))
	case "many":
		s = manyTools(*tools)
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	if s != nil && *stdio {
		return mcpserver.ServeStdio(s)
	}
	if s != nil {
		mux := http.NewServeMux()
		mux.Handle("/mcp", mcpserver.NewStreamableHTTPServer(s, mcpserver.WithEndpointPath("/mcp")))
		h = mux
	}
	return serve(*listen, h)
}

// serve answers /readyz besides h, announces itself and stops when stdin closes.
func serve(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.Handle("/", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		srv.Close()
	}()
	fmt.Printf("READY http://%s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func upstreamHandler(token string) http.Handler {
	want := "Bearer " + token
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, Reply)
	})
}

// oneTool is the hand-written gateway: one GET tool, as switchboard would
// expose it (same name, one string argument, read-only).
func oneTool(h mcpserver.ToolHandlerFunc) *mcpserver.MCPServer {
	s := mcpserver.NewMCPServer("bench-peer", "1.0.0", mcpserver.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("buscar_cliente",
		mcp.WithDescription("Busca un cliente por email."),
		mcp.WithString("email", mcp.Required(), mcp.Description("Email del cliente")),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(true),
	), h)
	return s
}

// forwarder sends GET /customers/search?email=… with the token from token()
// and returns the reply as text and, being a JSON object, as structuredContent
// (what switchboard returns for such a reply).
func forwarder(base string, token func(context.Context) (string, error)) mcpserver.ToolHandlerFunc {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 1024
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		email, err := req.RequireString("email")
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		tok, err := token(ctx)
		if err != nil {
			return mcp.NewToolResultError("the secret store is unreachable"), nil
		}
		hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/customers/search?email="+url.QueryEscape(email), nil)
		if err != nil {
			return nil, err
		}
		hreq.Header.Set("Authorization", "Bearer "+tok)
		hreq.Header.Set("Accept", "application/json")
		resp, err := client.Do(hreq)
		if err != nil {
			return mcp.NewToolResultError("the upstream is unreachable"), nil
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil || resp.StatusCode != http.StatusOK {
			return mcp.NewToolResultError(fmt.Sprintf("the upstream answered %d", resp.StatusCode)), nil
		}
		var obj map[string]any
		if json.Unmarshal(body, &obj) == nil {
			return mcp.NewToolResultStructured(obj, string(body)), nil
		}
		return mcp.NewToolResultText(string(body)), nil
	}
}

// vaultReader reads a KV v2 field on every call, with nothing shared between
// concurrent calls: the thinnest gateway that fetches credentials at call time.
func vaultReader(addr, token, ref string) (func(context.Context) (string, error), error) {
	path, field, ok := strings.Cut(ref, "#")
	mount, sub, ok2 := strings.Cut(path, "/")
	if !ok || !ok2 {
		return nil, fmt.Errorf("secret %q: want MOUNT/PATH#FIELD", ref)
	}
	cfg := vault.DefaultConfig()
	cfg.Address = addr
	cfg.Timeout = 2 * time.Second
	// A well-configured client: keep as many connections as there are callers.
	if tr, ok := cfg.HttpClient.Transport.(*http.Transport); ok {
		tr.MaxIdleConns = 1024
		tr.MaxIdleConnsPerHost = 1024
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.SetToken(token)
	kv := c.KVv2(mount)
	return func(ctx context.Context) (string, error) {
		sec, err := kv.Get(ctx, sub)
		if err != nil {
			return "", err
		}
		v, _ := sec.Data[field].(string)
		if v == "" {
			return "", fmt.Errorf("%s: no field %s", path, field)
		}
		return v, nil
	}, nil
}

// manyTools is a bare server with n tools shaped like a switchboard GET tool,
// named as a config of 40 integrations × 50 tools exposes them.
func manyTools(n int) *mcpserver.MCPServer {
	s := mcpserver.NewMCPServer("bench-peer", "1.0.0", mcpserver.WithToolCapabilities(false))
	tools := make([]mcpserver.ServerTool, 0, n)
	for i := range n {
		tools = append(tools, mcpserver.ServerTool{
			Tool: mcp.NewTool(manyToolName(i),
				mcp.WithDescription(fmt.Sprintf("Lee el cliente %d de la integración %d.", i%50, i/50)),
				mcp.WithString("id", mcp.Required(), mcp.Description("Id del cliente")),
				mcp.WithReadOnlyHintAnnotation(true),
				mcp.WithOpenWorldHintAnnotation(true),
			),
			Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return mcp.NewToolResultText(Reply), nil
			},
		})
	}
	s.AddTools(tools...)
	return s
}

// manyToolName is the exposed name of tool i of the 40 × 50 config (the
// harness writes the same names).
func manyToolName(i int) string { return fmt.Sprintf("int%02d_tool%02d", i/50, i%50) }
