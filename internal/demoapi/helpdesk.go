package demoapi

import (
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// searchCustomers: GET /helpdesk/customers/search?email=&phone=
// Both filters given must match. The phone matches in any common spelling:
// "+34 612 345 678", "0034612345678" and the national "612345678" all find
// +34612345678.
func (a *api) searchCustomers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	email := strings.TrimSpace(q.Get("email"))
	phone := strings.TrimSpace(q.Get("phone"))
	if email == "" && phone == "" {
		invalid(w, "email", "give email or phone to search by")
		return
	}
	if email != "" {
		if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
			invalid(w, "email", "email is not a valid email address")
			return
		}
	}
	phoneDigits := digits(phone)
	if phone != "" && len(phoneDigits) < 6 {
		invalid(w, "phone", "phone needs at least 6 digits")
		return
	}

	a.mu.Lock()
	found := []customerSummary{}
	for _, id := range a.customerIDs {
		c := a.customers[id]
		if email != "" && !strings.EqualFold(c.Email, email) {
			continue
		}
		if phone != "" && !samePhone(digits(c.Phone), phoneDigits) {
			continue
		}
		found = append(found, c.summary())
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"customers": found})
}

// samePhone matches two phone numbers written with or without country code
// or international prefix: one must end with the other, which needs at least
// 9 digits (a national number).
func samePhone(stored, query string) bool {
	if stored == query {
		return true
	}
	short, long := stored, query
	if len(short) > len(long) {
		short, long = long, short
	}
	return len(short) >= 9 && strings.HasSuffix(long, short)
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// customerDetail is a customer with what the helpdesk knows about them.
type customerDetail struct {
	*customer
	OpenTickets int `json:"open_tickets"`
}

// getCustomer: GET /helpdesk/customers/{id}
func (a *api) getCustomer(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.customers[id]
	if !ok {
		notFound(w, fmt.Sprintf("customer %s not found", id))
		return
	}
	open := 0
	for _, t := range a.tickets {
		if t.CustomerID == id && t.Status != "solved" {
			open++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"customer": customerDetail{customer: c, OpenTickets: open}})
}

var priorities = []string{"low", "normal", "high", "urgent"}

// createTicket: POST /helpdesk/tickets
// {customer_id, subject, description, priority} -> 201 {"ticket": {...}}
func (a *api) createTicket(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CustomerID  string `json:"customer_id"`
		Subject     string `json:"subject"`
		Description string `json:"description"`
		Priority    string `json:"priority"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	in.Subject = strings.TrimSpace(in.Subject)
	in.Description = strings.TrimSpace(in.Description)
	switch {
	case in.CustomerID == "":
		invalid(w, "customer_id", "customer_id is required")
		return
	case in.Subject == "":
		invalid(w, "subject", "subject is required")
		return
	case utf8.RuneCountInString(in.Subject) > 150:
		invalid(w, "subject", "subject must be at most 150 characters")
		return
	case in.Description == "":
		invalid(w, "description", "description is required")
		return
	case utf8.RuneCountInString(in.Description) > 5000:
		invalid(w, "description", "description must be at most 5000 characters")
		return
	}
	if in.Priority == "" {
		in.Priority = "normal"
	}
	if !slices.Contains(priorities, in.Priority) {
		invalid(w, "priority", "priority must be one of "+strings.Join(priorities, ", "))
		return
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.customers[in.CustomerID]; !ok {
		notFound(w, fmt.Sprintf("customer %s not found", in.CustomerID))
		return
	}
	now := a.now().UTC().Truncate(time.Second)
	t := &ticket{
		ID: a.nextTicket, CustomerID: in.CustomerID, Subject: in.Subject, Description: in.Description,
		Priority: in.Priority, Status: "open", Channel: "phone", CreatedAt: now, UpdatedAt: now,
	}
	a.nextTicket++
	a.tickets[t.ID] = t
	w.Header().Set("Location", "/helpdesk/tickets/"+strconv.Itoa(t.ID))
	writeJSON(w, http.StatusCreated, map[string]any{"ticket": t})
}

// getTicket: GET /helpdesk/tickets/{id}
func (a *api) getTicket(w http.ResponseWriter, r *http.Request) {
	raw := strings.TrimPrefix(r.PathValue("id"), "#")
	id, err := strconv.Atoi(raw)
	if err != nil {
		notFound(w, fmt.Sprintf("ticket %s not found", r.PathValue("id")))
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.tickets[id]
	if !ok {
		notFound(w, fmt.Sprintf("ticket %d not found", id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": t})
}
