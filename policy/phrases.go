package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/switchboard-dev/switchboard/integrations"
)

// message is the sentence read to the caller: the tool's confirm: message,
// or, for a tool that needs confirmation only through a rule, one that
// names the tool and its arguments with sensitive values hidden. A confirm
// message reads the arguments as {{.name}} and the call context as
// {{.call.name}} ({{.call.caller_number}}).
func (c *confirmer) message(t *integrations.Tool, call *integrations.Call) string {
	args := call.Args
	if args == nil {
		args = map[string]any{}
	}
	if t.Confirm != nil {
		data := make(map[string]any, len(args)+1)
		for k, v := range args {
			data[k] = v
		}
		callCtx := call.Context
		if callCtx == nil {
			callCtx = map[string]string{}
		}
		data["call"] = callCtx
		var sb strings.Builder
		err := t.Confirm.Execute(&sb, data)
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

// phrases are the sentences around a confirmation, in the language of the
// confirm message.
type phrases struct {
	askFmt      string // tool, message, token, seconds
	rejectFmt   string // reason
	reasons     map[rejection]string
	declinedFmt string // tool
	unsupported string // tool
	unavailable string // tool
	unanswered  string // tool
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
	unavailable: "I cannot confirm that right now, so %s was not done; tell the caller to try again in a moment.",
	unanswered:  "The caller's answer to the confirmation did not come back, so %s was not done and nothing changed. Ask the caller whether to try again.",
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
	unavailable: "No puedo confirmarlo ahora mismo, así que no se ha hecho %s; dile al cliente que lo intente en un momento.",
	unanswered:  "No ha llegado la respuesta del cliente a la confirmación, así que no se ha hecho %s y no ha cambiado nada. Pregúntale si quiere intentarlo de nuevo.",
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
