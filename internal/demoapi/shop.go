package demoapi

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// getOrder: GET /shop/orders/{id}. "#100234" finds order 100234, the way a
// caller reads it from an email.
func (a *api) getOrder(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(strings.TrimSpace(r.PathValue("id")), "#")
	a.mu.Lock()
	defer a.mu.Unlock()
	o, ok := a.orders[id]
	if !ok {
		notFound(w, fmt.Sprintf("order %s not found", id))
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// getStock: GET /shop/inventory/{sku}. SKUs are case-insensitive.
func (a *api) getStock(w http.ResponseWriter, r *http.Request) {
	sku := strings.ToUpper(strings.TrimSpace(r.PathValue("sku")))
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.inventory[sku]
	if !ok {
		notFound(w, fmt.Sprintf("product %s not found", sku))
		return
	}
	writeJSON(w, http.StatusOK, s)
}

// maxIdempotencyKey is the longest Idempotency-Key accepted, as at Stripe.
const maxIdempotencyKey = 255

// createRefund: POST /shop/refunds {order_id, amount, reason} -> 201 refund.
//
// With an Idempotency-Key header, the first successful request's refund is
// remembered under the key: repeating the request answers 200 with that same
// refund (and Idempotent-Replayed: true) instead of refunding twice; reusing
// the key with other parameters is a 422. A request that fails is not
// remembered, so it can be corrected and retried under the same key.
func (a *api) createRefund(w http.ResponseWriter, r *http.Request) {
	var in struct {
		OrderID string   `json:"order_id"`
		Amount  *float64 `json:"amount"`
		Reason  string   `json:"reason"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	in.OrderID = strings.TrimPrefix(strings.TrimSpace(in.OrderID), "#")
	in.Reason = strings.TrimSpace(in.Reason)
	switch {
	case in.OrderID == "":
		invalid(w, "order_id", "order_id is required")
		return
	case in.Amount == nil:
		invalid(w, "amount", "amount is required")
		return
	case *in.Amount <= 0 || math.IsNaN(*in.Amount):
		invalid(w, "amount", "amount must be greater than 0")
		return
	case math.Abs(*in.Amount*100-math.Round(*in.Amount*100)) > 1e-6:
		invalid(w, "amount", "amount must have at most 2 decimals")
		return
	case in.Reason == "":
		invalid(w, "reason", "reason is required")
		return
	case utf8.RuneCountInString(in.Reason) > 500:
		invalid(w, "reason", "reason must be at most 500 characters")
		return
	}
	amount := money(math.Round(*in.Amount * 100))
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		invalid(w, "Idempotency-Key", fmt.Sprintf("the Idempotency-Key header must be at most %d characters", maxIdempotencyKey))
		return
	}
	fingerprint := fmt.Sprintf("%s\x00%d\x00%s", in.OrderID, amount, in.Reason)

	a.mu.Lock()
	defer a.mu.Unlock()
	if key != "" {
		if prev, ok := a.idempotency[key]; ok {
			if prev.fingerprint != fingerprint {
				writeError(w, http.StatusUnprocessableEntity, "idempotency_key_reused",
					"this Idempotency-Key was already used with other parameters")
				return
			}
			w.Header().Set("Idempotent-Replayed", "true")
			writeJSON(w, http.StatusOK, a.refunds[prev.refundID])
			return
		}
	}
	o, ok := a.orders[in.OrderID]
	if !ok {
		notFound(w, fmt.Sprintf("order %s not found", in.OrderID))
		return
	}
	refundable := o.Total - o.RefundedAmount
	switch {
	case o.PaymentStatus == "pending":
		invalid(w, "order_id", fmt.Sprintf("order %s has not been paid yet, there is nothing to refund", o.ID))
		return
	case refundable <= 0:
		invalid(w, "order_id", fmt.Sprintf("order %s is already fully refunded", o.ID))
		return
	case amount > refundable:
		invalid(w, "amount", fmt.Sprintf("amount exceeds what is left to refund on order %s: %s %s", o.ID, refundable, o.Currency))
		return
	}

	rf := &refund{
		ID: fmt.Sprintf("re_%d", a.nextRefund), OrderID: o.ID, Amount: amount, Currency: o.Currency,
		Reason: in.Reason, Status: "succeeded", CreatedAt: a.now().UTC().Truncate(time.Second),
	}
	a.nextRefund++
	a.refunds[rf.ID] = rf
	o.RefundedAmount += amount
	if o.RefundedAmount == o.Total {
		o.PaymentStatus = "refunded"
	} else {
		o.PaymentStatus = "partially_refunded"
	}
	if key != "" {
		a.idempotency[key] = idempotentRefund{fingerprint: fingerprint, refundID: rf.ID}
	}
	writeJSON(w, http.StatusCreated, rf)
}
