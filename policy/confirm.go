package policy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

// A tool that needs confirmation is never executed on its first call.
//
// token mode: the first call returns a confirmation_required result with a
// confirmation_token; the agent reads the message to the caller and, on a
// yes, calls again with the same arguments plus the token.
//
// elicit mode: the first call returns an input_required result (mcp-go turns
// it into elicitation/create for a client of the handshake era); the client
// asks the user and retries with the answer and the requestState.
//
// A token and a requestState are the same signed value, told apart by
// purpose: HMAC-SHA256 over the tool, the SHA-256 of the canonical
// arguments, the client (Caller.ClientID, and the MCP session id for a
// handshake-era session; a 2026-07-28 request is stateless and has none), an
// expiry and a random nonce. The nonce is accepted once per process, and the
// Idempotency-Key sent upstream is derived from it, so a replay that reaches
// another replica is still deduplicated by an API that honours the header.

// tokenParam is the argument that carries a confirmation token.
const tokenParam = "confirmation_token"

// elicitID keys the one question asked in elicit mode.
const elicitID = "confirm"

// Secrets resolves a secret reference (policy.confirmation.key).
type Secrets interface {
	Lookup(ctx context.Context, ref string) (string, error)
}

// argsValidator is implemented by handlers that can check arguments without
// acting, so that a caller is never asked to confirm a call that would be
// refused as invalid.
type argsValidator interface {
	ValidateArgs(args map[string]any) error
}

// minKeyLen is the shortest configured signing key accepted.
const minKeyLen = 16

const (
	tokenVersion = 1
	nonceLen     = 16
	macLen       = 16
	headerLen    = 1 + nonceLen + 8
	tokenLen     = headerLen + macLen
)

// purpose keeps a token from being used as a requestState and the reverse.
type purpose byte

const (
	purposeToken purpose = 't'
	purposeState purpose = 'e'
)

// rejection says why a presented token or requestState was refused.
type rejection string

const (
	rejectInvalid rejection = "invalid" // garbled, forged, or bound to other arguments, tool or client
	rejectExpired rejection = "expired"
	rejectReused  rejection = "reused"
)

// binding is what a confirmation is bound to.
type binding struct {
	tool    string
	args    [32]byte
	client  string
	session string
}

// ticket is the signed part of a token.
type ticket struct {
	nonce [nonceLen]byte
	exp   int64 // unix milliseconds
}

type confirmer struct {
	mode    string
	ttl     time.Duration
	keyRef  string
	secrets Secrets
	local   []byte
	now     func() time.Time
	used    nonceSet
	log     *slog.Logger
}

func newConfirmer(cfg configs.Confirmation, deps Deps) (*confirmer, error) {
	c := &confirmer{mode: cfg.Mode, ttl: cfg.TTL, keyRef: cfg.Key, secrets: deps.Secrets, now: deps.Now, log: deps.Logger}
	if c.mode == "" {
		c.mode = configs.DefaultConfirmMode
	}
	if c.ttl <= 0 {
		c.ttl = configs.DefaultConfirmTTL
	}
	if c.now == nil {
		c.now = time.Now
	}
	switch c.mode {
	case "token", "elicit", "auto":
	default:
		return nil, fmt.Errorf("policy.confirmation.mode %q: want token, elicit or auto", c.mode)
	}
	if c.keyRef != "" && c.secrets == nil {
		return nil, fmt.Errorf("policy.confirmation.key is set but no secret store was given")
	}
	c.local = make([]byte, 32)
	if _, err := rand.Read(c.local); err != nil {
		return nil, err
	}
	return c, nil
}

// keys returns the signing key and the idempotency key, both derived from
// the configured key (read on each use, so rotation and cache_ttl apply as
// to any secret) or from the process's random key.
func (c *confirmer) keys(ctx context.Context) (mac, idem []byte, err error) {
	master := c.local
	if c.keyRef != "" {
		s, err := c.secrets.Lookup(ctx, c.keyRef)
		if err != nil {
			return nil, nil, fmt.Errorf("policy.confirmation.key: %w", err)
		}
		if len(s) < minKeyLen {
			return nil, nil, fmt.Errorf("policy.confirmation.key: the secret is %d bytes; use at least %d random bytes", len(s), minKeyLen)
		}
		master = []byte(s)
	}
	return derive(master, "switchboard/confirmation/mac"), derive(master, "switchboard/confirmation/idempotency-key"), nil
}

func derive(master []byte, label string) []byte {
	h := hmac.New(sha256.New, master)
	h.Write([]byte(label))
	return h.Sum(nil)
}

func (c *confirmer) sign(key []byte, p purpose, b binding) string {
	var t ticket
	_, _ = rand.Read(t.nonce[:])
	t.exp = c.now().Add(c.ttl).UnixMilli()
	buf := make([]byte, 0, tokenLen)
	buf = append(buf, tokenVersion)
	buf = append(buf, t.nonce[:]...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(t.exp))
	buf = append(buf, mac(key, p, b, buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// verify checks a presented token against the call it came with. It does
// not consume it.
func (c *confirmer) verify(key []byte, p purpose, s string, b binding) (ticket, rejection) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(raw) != tokenLen || raw[0] != tokenVersion {
		return ticket{}, rejectInvalid
	}
	if !hmac.Equal(raw[headerLen:], mac(key, p, b, raw[:headerLen])) {
		return ticket{}, rejectInvalid
	}
	var t ticket
	copy(t.nonce[:], raw[1:1+nonceLen])
	t.exp = int64(binary.BigEndian.Uint64(raw[1+nonceLen : headerLen]))
	if c.now().UnixMilli() >= t.exp {
		return ticket{}, rejectExpired
	}
	return t, ""
}

// A token is base64url(version | nonce | expiry | mac), 55 characters.

// mac authenticates header (version, nonce, expiry) together with the
// binding; each variable-length field is length-prefixed.
func mac(key []byte, p purpose, b binding, header []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("switchboard confirmation\x00"))
	h.Write([]byte{byte(p)})
	writeField(h, b.tool)
	h.Write(b.args[:])
	writeField(h, b.client)
	writeField(h, b.session)
	h.Write(header)
	return h.Sum(nil)[:macLen]
}

func writeField(h hash.Hash, s string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// idempotencyKey is the Idempotency-Key of a confirmed call: a UUID-shaped
// (RFC 9562 version 8) HMAC of the confirmation's nonce, so the same
// confirmation always gives the same key, on every replica sharing the key.
func idempotencyKey(key []byte, t ticket) string {
	h := hmac.New(sha256.New, key)
	h.Write(t.nonce[:])
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// nonceSet remembers the nonces already used until their tokens expire.
type nonceSet struct {
	mu        sync.Mutex
	seen      map[[nonceLen]byte]int64
	nextPrune int64
}

// pruneGrace keeps a used nonce this long past its expiry, so that a clock
// stepping back a little cannot make a spent token valid again.
const pruneGrace = time.Minute

// consume marks t used, or says why it cannot be: already used, or
// expired since it was verified.
func (n *nonceSet) consume(t ticket, now time.Time) rejection {
	n.mu.Lock()
	defer n.mu.Unlock()
	ms := now.UnixMilli()
	if ms >= t.exp {
		return rejectExpired
	}
	if n.seen == nil {
		n.seen = map[[nonceLen]byte]int64{}
	}
	if ms >= n.nextPrune {
		for k, exp := range n.seen {
			if exp+pruneGrace.Milliseconds() < ms {
				delete(n.seen, k)
			}
		}
		n.nextPrune = ms + (30 * time.Second).Milliseconds()
	}
	if _, ok := n.seen[t.nonce]; ok {
		return rejectReused
	}
	n.seen[t.nonce] = t.exp
	return ""
}

func (n *nonceSet) len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.seen)
}

// middleware holds tools whose action is Confirm until the user agrees.
func (c *confirmer) middleware(rules *Rules) integrations.Middleware {
	return func(t *integrations.Tool, next integrations.Handler) integrations.Handler {
		if rules.Action(t) != Confirm {
			return next
		}
		return integrations.HandlerFunc(func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return c.call(ctx, t, next, req)
		})
	}
}

func (c *confirmer) call(ctx context.Context, t *integrations.Tool, next integrations.Handler, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	token, req := takeToken(req)
	responses, state := req.Params.InputResponses, req.Params.RequestState
	// What reaches the tool is the original call, nothing of the exchange.
	req.Params.MultiRoundTripParams = mcp.MultiRoundTripParams{}

	args, err := exactArgs(req)
	if err != nil {
		return nil, integrations.Errorf(integrations.KindInvalid, err, "Invalid arguments for %s: %v.", t.Name(), err)
	}
	digest, err := argsDigest(args)
	if err != nil {
		return nil, integrations.Errorf(integrations.KindInvalid, err, "Invalid arguments for %s: %v.", t.Name(), err)
	}
	b := binding{tool: t.Name(), args: digest, client: CallerFrom(ctx).ClientID, session: sessionID(ctx)}
	macKey, idemKey, err := c.keys(ctx)
	if err != nil {
		return nil, integrations.Errorf(integrations.KindUnavailable, err,
			"Confirmation is unavailable right now, so %s was not done. Tell the caller and offer to follow up later.", t.Name())
	}

	var tk ticket
	var why rejection
	var answer *mcp.ElicitationResult
	switch {
	case token != nil && c.mode != "elicit":
		s, _ := token.(string)
		tk, why = c.verify(macKey, purposeToken, s, b)
	case state != "" && c.mode != "token":
		tk, why = c.verify(macKey, purposeState, state, b)
		if answer = server.ElicitationResponse(responses, elicitID); answer == nil && why == "" {
			why = rejectInvalid
		}
	default:
		return c.ask(ctx, t, req, b, macKey, "")
	}
	if why == "" {
		why = c.used.consume(tk, c.now())
	}
	if why != "" {
		return c.ask(ctx, t, req, b, macKey, why)
	}
	if answer != nil && !accepted(answer) {
		record(ctx, DecisionDeclined, "")
		msg := phrasesFor(c.message(t, req.GetArguments())).declined(t.Name())
		return mcp.NewToolResultStructured(map[string]any{"status": "declined", "message": msg}, msg), nil
	}
	record(ctx, DecisionConfirmed, "")
	return next.Call(integrations.WithIdempotencyKey(ctx, idempotencyKey(idemKey, tk)), req)
}

// ask returns a fresh confirmation request: a question to elicit, or a
// token for the agent to bring back. why says why a presented one was
// refused, if one was.
func (c *confirmer) ask(ctx context.Context, t *integrations.Tool, req mcp.CallToolRequest, b binding, key []byte, why rejection) (*mcp.CallToolResult, error) {
	args := req.GetArguments()
	if v, ok := t.Handler.(argsValidator); ok {
		if err := v.ValidateArgs(args); err != nil {
			return nil, err
		}
	}
	msg := c.message(t, args)
	ph := phrasesFor(msg)
	canElicit := clientCanElicit(ctx)
	if c.mode == "elicit" && !canElicit {
		record(ctx, DecisionDenied, "no_elicitation")
		return nil, integrations.Errorf(integrations.KindUnavailable, nil, ph.unsupported, t.Name())
	}
	record(ctx, DecisionConfirmationRequired, string(why))
	if c.mode == "elicit" || (c.mode == "auto" && canElicit) {
		return server.NewInputRequestBuilder(c.sign(key, purposeState, b)).
			Elicit(elicitID, mcp.ElicitationParams{
				Mode:    mcp.ElicitationModeForm,
				Message: msg,
				RequestedSchema: map[string]any{
					"type": "object",
					"properties": map[string]any{
						"confirm": map[string]any{"type": "boolean", "title": ph.title, "description": ph.yes},
					},
					"required": []string{"confirm"},
				},
			}).ToolResult(), nil
	}
	token := c.sign(key, purposeToken, b)
	secs := max(int(c.ttl/time.Second), 1)
	text := ph.ask(t.Name(), msg, token, secs)
	if why != "" {
		text = ph.rejected(why) + "\n" + text
	}
	return mcp.NewToolResultStructured(map[string]any{
		"status":             "confirmation_required",
		"message":            msg,
		"confirmation_token": token,
		"expires_in_seconds": secs,
	}, text), nil
}

func accepted(a *mcp.ElicitationResult) bool {
	if a.Action != mcp.ElicitationResponseActionAccept {
		return false
	}
	content, _ := a.Content.(map[string]any)
	yes, _ := content["confirm"].(bool)
	return yes
}

// message is the sentence read to the caller: the tool's confirm: message,
// or, for a tool that needs confirmation only through a rule, one that
// names the tool and its arguments with sensitive values hidden.
func (c *confirmer) message(t *integrations.Tool, args map[string]any) string {
	if args == nil {
		args = map[string]any{}
	}
	if t.Confirm != nil {
		var sb strings.Builder
		err := t.Confirm.Execute(&sb, args)
		if err == nil {
			return sb.String()
		}
		c.log.Warn("confirm message could not be rendered; using the generic one", "tool", t.Name(), "error", err)
	}
	return genericMessage(t, args)
}

func genericMessage(t *integrations.Tool, args map[string]any) string {
	hidden := map[string]bool{}
	for _, s := range t.Sensitive {
		hidden[s] = true
	}
	keys := make([]string, 0, len(args))
	for k, v := range args {
		if v != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return fmt.Sprintf("Do you confirm %s?", t.Name())
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := "[hidden]"
		if !hidden[k] {
			v = spoken(args[k])
		}
		parts[i] = k + " " + v
	}
	return fmt.Sprintf("Do you confirm %s with %s?", t.Name(), strings.Join(parts, ", "))
}

// spoken renders an argument value short enough to be read aloud.
func spoken(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	default:
		b, err := json.Marshal(x)
		if err != nil {
			s = fmt.Sprint(x)
		} else {
			s = string(b)
		}
	}
	if r := []rune(s); len(r) > 80 {
		s = string(r[:77]) + "..."
	}
	return s
}

// takeToken removes confirmation_token from the arguments (the tool's own
// schema does not accept it) and returns it; an empty one counts as absent.
func takeToken(req mcp.CallToolRequest) (any, mcp.CallToolRequest) {
	args, ok := req.Params.Arguments.(map[string]any)
	if !ok {
		return nil, req
	}
	tok, has := args[tokenParam]
	if !has {
		return nil, req
	}
	rest := make(map[string]any, len(args))
	for k, v := range args {
		if k != tokenParam {
			rest[k] = v
		}
	}
	req.Params.Arguments = rest
	if len(req.Params.RawArguments) > 0 {
		var raw map[string]json.RawMessage
		if json.Unmarshal(req.Params.RawArguments, &raw) == nil {
			delete(raw, tokenParam)
			req.Params.RawArguments, _ = json.Marshal(raw)
		} else {
			req.Params.RawArguments = nil
		}
	}
	if s, ok := tok.(string); ok && strings.TrimSpace(s) == "" {
		return nil, req
	}
	if tok == nil {
		return nil, req
	}
	return tok, req
}

// exactArgs are the call's arguments with numbers exactly as sent: from the
// raw JSON when the transport kept it, else as decoded.
func exactArgs(req mcp.CallToolRequest) (map[string]any, error) {
	if len(req.Params.RawArguments) > 0 {
		v, err := decodeExact(req.Params.RawArguments)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return map[string]any{}, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("arguments must be a JSON object")
		}
		return m, nil
	}
	if req.Params.Arguments == nil {
		return map[string]any{}, nil
	}
	if m := req.GetArguments(); m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("arguments must be a JSON object")
}

// sessionID is the MCP session of a handshake-era call; a 2026-07-28
// request is stateless and has none.
func sessionID(ctx context.Context) string {
	if server.IsModernRequest(ctx) {
		return ""
	}
	if s := server.ClientSessionFromContext(ctx); s != nil {
		return s.SessionID()
	}
	return ""
}

// clientCanElicit reports whether the client declared form elicitation: in
// the request's _meta for 2026-07-28, at initialize for the handshake era.
func clientCanElicit(ctx context.Context) bool {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return info.ClientCapabilities != nil && formElicitation(info.ClientCapabilities.Elicitation)
	}
	s := server.ClientSessionFromContext(ctx)
	if _, ok := s.(server.SessionWithElicitation); !ok {
		return false
	}
	ci, ok := s.(server.SessionWithClientInfo)
	return ok && formElicitation(ci.GetClientCapabilities().Elicitation)
}

// formElicitation: an empty elicitation capability means form mode.
func formElicitation(e *mcp.ElicitationCapability) bool {
	return e != nil && (e.Form != nil || e.URL == nil)
}

// withTokenParam declares the optional confirmation_token in a tool's input
// schema.
func withTokenParam(def mcp.Tool) mcp.Tool {
	prop := map[string]any{
		"type": "string",
		"description": "Leave out on the first call. Only after the caller has said yes: the confirmation_token " +
			"returned by the first call, with the same arguments.",
	}
	if def.RawInputSchema != nil {
		var s map[string]any
		if err := json.Unmarshal(def.RawInputSchema, &s); err == nil {
			props, _ := s["properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
			}
			props[tokenParam] = prop
			s["properties"] = props
			if raw, err := json.Marshal(s); err == nil {
				def.RawInputSchema = raw
			}
		}
		return def
	}
	props := make(map[string]any, len(def.InputSchema.Properties)+1)
	for k, v := range def.InputSchema.Properties {
		props[k] = v
	}
	props[tokenParam] = prop
	def.InputSchema.Properties = props
	if def.InputSchema.PropertyOrder != nil {
		def.InputSchema.PropertyOrder = append(append([]string(nil), def.InputSchema.PropertyOrder...), tokenParam)
	}
	return def
}

// phrases are the sentences around a confirmation, in the language of the
// confirm message.
type phrases struct {
	askFmt      string // tool, message, token, seconds
	rejectFmt   string // reason
	reasons     map[rejection]string
	declinedFmt string // tool
	unsupported string // tool
	title, yes  string
}

func (p phrases) ask(tool, msg, token string, secs int) string {
	return fmt.Sprintf(p.askFmt, tool, msg, token, secs)
}
func (p phrases) rejected(why rejection) string { return fmt.Sprintf(p.rejectFmt, p.reasons[why]) }
func (p phrases) declined(tool string) string   { return fmt.Sprintf(p.declinedFmt, tool) }

var english = phrases{
	askFmt: "Not done yet: %[1]s needs the caller's confirmation first. Ask the caller exactly this: \"%[2]s\"\n" +
		"If the caller clearly says yes, call %[1]s again with the same arguments plus \"confirmation_token\": \"%[3]s\".\n" +
		"If the caller says no or is unsure, do not call it again; tell the caller it was not done.\n" +
		"The token works once, only for these exact arguments, and expires in %[4]d seconds.",
	rejectFmt: "The confirmation_token was not accepted (%s), so nothing was done.",
	reasons: map[rejection]string{
		rejectInvalid: "it was not issued for this tool, these exact arguments and this client",
		rejectExpired: "it has expired",
		rejectReused:  "it was already used",
	},
	declinedFmt: "The caller did not confirm, so %s was not run and nothing changed. Tell the caller it was not done.",
	unsupported: "%s needs the caller's confirmation through the app, and this client cannot ask for it, so it was not done. Tell the caller and offer another way.",
	title:       "Confirm",
	yes:         "Yes, go ahead",
}

var spanish = phrases{
	askFmt: "Todavía no se ha hecho: %[1]s necesita antes la confirmación del cliente. Pregúntale exactamente esto: \"%[2]s\"\n" +
		"Si el cliente dice claramente que sí, vuelve a llamar a %[1]s con los mismos argumentos más \"confirmation_token\": \"%[3]s\".\n" +
		"Si dice que no o duda, no la vuelvas a llamar y dile que no se ha hecho.\n" +
		"El código sirve una sola vez, solo para estos argumentos exactos, y caduca en %[4]d segundos.",
	rejectFmt: "El confirmation_token no se ha aceptado (%s), así que no se ha hecho nada.",
	reasons: map[rejection]string{
		rejectInvalid: "no se emitió para esta herramienta, estos argumentos exactos y este cliente",
		rejectExpired: "ha caducado",
		rejectReused:  "ya se usó",
	},
	declinedFmt: "El cliente no lo ha confirmado, así que no se ha ejecutado %s y no ha cambiado nada. Dile que no se ha hecho.",
	unsupported: "%s necesita la confirmación del cliente a través de la aplicación y este cliente no puede pedirla, así que no se ha hecho. Díselo y ofrece otra vía.",
	title:       "Confirmar",
	yes:         "Sí, adelante",
}

// phrasesFor picks the language of msg: Spanish when it has ¿, ¡ or ñ or
// more common Spanish words than English ones; English otherwise.
func phrasesFor(msg string) phrases {
	if isSpanish(msg) {
		return spanish
	}
	return english
}

var (
	spanishWords = wordSet("el la los las de del que qué y por para con una un es se su sus tu al lo le quieres confirmas confirma deseas desea puedo podemos pedido reembolso euros cuenta cliente cita")
	englishWords = wordSet("the of to and you your do does want confirm is are for with this that order refund please should i it will can my our account")
)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

func isSpanish(msg string) bool {
	if strings.ContainsAny(msg, "¿¡ñÑ") {
		return true
	}
	es, en := 0, 0
	for _, w := range strings.FieldsFunc(strings.ToLower(msg), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if spanishWords[w] {
			es++
		}
		if englishWords[w] {
			en++
		}
	}
	return es > en
}
