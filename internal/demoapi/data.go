package demoapi

import (
	"fmt"
	"time"
)

// customer is a helpdesk customer.
type customer struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Phone     string    `json:"phone"` // E.164
	Tier      string    `json:"tier"`  // standard | gold | platinum
	Language  string    `json:"language"`
	City      string    `json:"city"`
	Country   string    `json:"country"`
	CreatedAt time.Time `json:"created_at"`
	OrderIDs  []string  `json:"order_ids"`
}

// customerSummary is a customer as a search lists it.
type customerSummary struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
	Tier  string `json:"tier"`
}

func (c *customer) summary() customerSummary {
	return customerSummary{ID: c.ID, Name: c.Name, Email: c.Email, Phone: c.Phone, Tier: c.Tier}
}

// ticket is a helpdesk support ticket.
type ticket struct {
	ID          int       `json:"id"`
	CustomerID  string    `json:"customer_id"`
	Subject     string    `json:"subject"`
	Description string    `json:"description"`
	Priority    string    `json:"priority"` // low | normal | high | urgent
	Status      string    `json:"status"`   // open | pending | solved
	Channel     string    `json:"channel"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// order is a shop order. Amounts are in cents inside and decimal units on
// the wire.
type order struct {
	ID             string     `json:"id"`
	CustomerID     string     `json:"customer_id"`
	Status         string     `json:"status"`         // processing | shipped | delivered
	PaymentStatus  string     `json:"payment_status"` // pending | paid | partially_refunded | refunded
	Items          []lineItem `json:"items"`
	Total          money      `json:"total"`
	RefundedAmount money      `json:"refunded_amount"`
	Currency       string     `json:"currency"`
	CreatedAt      time.Time  `json:"created_at"`
	Shipping       *shipping  `json:"shipping"`
}

type lineItem struct {
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Quantity  int    `json:"quantity"`
	UnitPrice money  `json:"unit_price"`
	Subtotal  money  `json:"subtotal"`
}

type shipping struct {
	Carrier           string `json:"carrier"`
	TrackingNumber    string `json:"tracking_number"`
	EstimatedDelivery string `json:"estimated_delivery,omitempty"` // YYYY-MM-DD
	DeliveredAt       string `json:"delivered_at,omitempty"`       // YYYY-MM-DD
}

// stockItem is the stock level of one product.
type stockItem struct {
	SKU         string  `json:"sku"`
	Name        string  `json:"name"`
	Price       money   `json:"price"`
	Currency    string  `json:"currency"`
	Available   int     `json:"available"`
	InStock     bool    `json:"in_stock"`
	Warehouse   string  `json:"warehouse"`
	RestockDate *string `json:"restock_date"` // YYYY-MM-DD, null when in stock
}

// refund is a shop refund.
type refund struct {
	ID        string    `json:"id"`
	OrderID   string    `json:"order_id"`
	Amount    money     `json:"amount"`
	Currency  string    `json:"currency"`
	Reason    string    `json:"reason"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// money is an amount in cents, written in JSON as a decimal number (12.50).
type money int64

func (m money) MarshalJSON() ([]byte, error) {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Appendf(nil, "%s%d.%02d", sign, m/100, m%100), nil
}

func (m money) String() string {
	b, _ := m.MarshalJSON()
	return string(b)
}

// seed fills the data set. Dates are relative to now, so "arrives on
// Thursday" stays true whenever the demo runs.
func (a *api) seed(now time.Time) {
	day := func(d int) time.Time { return now.AddDate(0, 0, d).Truncate(time.Hour) }
	date := func(d int) string { return now.AddDate(0, 0, d).Format(time.DateOnly) }

	for _, c := range []*customer{
		{ID: "cus_1001", Name: "María García López", Email: "maria.garcia@example.com", Phone: "+34612345678",
			Tier: "gold", Language: "es", City: "Madrid", Country: "ES", CreatedAt: day(-820),
			OrderIDs: []string{"100231", "100234"}},
		{ID: "cus_1002", Name: "John Smith", Email: "john.smith@example.com", Phone: "+14155550123",
			Tier: "standard", Language: "en", City: "Barcelona", Country: "ES", CreatedAt: day(-95),
			OrderIDs: []string{"100240"}},
		{ID: "cus_1003", Name: "Lucía Fernández Ruiz", Email: "lucia.fernandez@example.es", Phone: "+34698765432",
			Tier: "platinum", Language: "es", City: "Sevilla", Country: "ES", CreatedAt: day(-1460),
			OrderIDs: []string{"100245"}},
		{ID: "cus_1004", Name: "Carlos Martínez", Email: "carlos.martinez@example.mx", Phone: "+5215512345678",
			Tier: "standard", Language: "es", City: "Ciudad de México", Country: "MX", CreatedAt: day(-30),
			OrderIDs: []string{"100250"}},
		{ID: "cus_1005", Name: "Emily Johnson", Email: "emily.johnson@example.co.uk", Phone: "+447700900123",
			Tier: "gold", Language: "en", City: "London", Country: "GB", CreatedAt: day(-400),
			OrderIDs: []string{"100252"}},
	} {
		a.customers[c.ID] = c
		a.customerIDs = append(a.customerIDs, c.ID)
	}

	products := map[string]*stockItem{}
	for _, s := range []*stockItem{
		{SKU: "AUR-200", Name: "Auriculares inalámbricos Sonora 200", Price: 7990, Available: 42, Warehouse: "Madrid"},
		{SKU: "FUN-010", Name: "Funda de silicona para auriculares", Price: 995, Available: 130, Warehouse: "Madrid"},
		{SKU: "CAF-350", Name: "Cafetera espresso Barista 350", Price: 18900, Available: 0, Warehouse: "Zaragoza"},
		{SKU: "REL-500", Name: "Smartwatch Pulso 500", Price: 24900, Available: 5, Warehouse: "Madrid"},
		{SKU: "POR-1199", Name: "Portátil Ligero 14\"", Price: 119900, Available: 3, Warehouse: "Zaragoza"},
		{SKU: "CAB-USB", Name: "Cable USB-C 2 m", Price: 1250, Available: 260, Warehouse: "Madrid"},
	} {
		s.Currency = "EUR"
		s.InStock = s.Available > 0
		if !s.InStock {
			d := date(12)
			s.RestockDate = &d
		}
		a.inventory[s.SKU] = s
		products[s.SKU] = s
	}
	items := func(skuQty ...any) ([]lineItem, money) {
		var out []lineItem
		var total money
		for i := 0; i < len(skuQty); i += 2 {
			p, qty := products[skuQty[i].(string)], skuQty[i+1].(int)
			li := lineItem{SKU: p.SKU, Name: p.Name, Quantity: qty, UnitPrice: p.Price, Subtotal: p.Price * money(qty)}
			out = append(out, li)
			total += li.Subtotal
		}
		return out, total
	}
	for _, o := range []struct {
		id, customer, status, payment string
		created                       int
		ship                          *shipping
		lines                         []any
	}{
		{"100231", "cus_1001", "delivered", "paid", -40,
			&shipping{Carrier: "Correos Express", TrackingNumber: "CX5512398ES", DeliveredAt: date(-37)},
			[]any{"AUR-200", 1, "FUN-010", 2}},
		{"100234", "cus_1001", "shipped", "paid", -3,
			&shipping{Carrier: "SEUR", TrackingNumber: "SEU0099812345", EstimatedDelivery: date(2)},
			[]any{"CAF-350", 1}},
		{"100240", "cus_1002", "processing", "paid", -1, nil,
			[]any{"REL-500", 1, "CAB-USB", 1}},
		{"100245", "cus_1003", "delivered", "refunded", -60,
			&shipping{Carrier: "MRW", TrackingNumber: "MRW20240045", DeliveredAt: date(-57)},
			[]any{"FUN-010", 1}},
		{"100250", "cus_1004", "processing", "pending", 0, nil,
			[]any{"AUR-200", 2}},
		{"100252", "cus_1005", "delivered", "paid", -12,
			&shipping{Carrier: "DHL", TrackingNumber: "JD014600006543210987", DeliveredAt: date(-8)},
			[]any{"POR-1199", 1}},
	} {
		lines, total := items(o.lines...)
		ord := &order{ID: o.id, CustomerID: o.customer, Status: o.status, PaymentStatus: o.payment,
			Items: lines, Total: total, Currency: "EUR", CreatedAt: day(o.created), Shipping: o.ship}
		if o.payment == "refunded" {
			ord.RefundedAmount = total
		}
		a.orders[ord.ID] = ord
	}

	for _, t := range []*ticket{
		{ID: 1001, CustomerID: "cus_1001", Priority: "normal", Status: "pending", Channel: "email",
			CreatedAt: day(-36), UpdatedAt: day(-35),
			Subject:     "Pedido 100231: falta una funda",
			Description: "La clienta recibió los auriculares pero solo una de las dos fundas."},
		{ID: 1002, CustomerID: "cus_1005", Priority: "high", Status: "open", Channel: "phone",
			CreatedAt: day(-2), UpdatedAt: day(-2),
			Subject:     "Laptop screen flickers",
			Description: "Customer reports the screen of order 100252 flickers when on battery."},
		{ID: 1003, CustomerID: "cus_1003", Priority: "low", Status: "solved", Channel: "chat",
			CreatedAt: day(-58), UpdatedAt: day(-55),
			Subject:     "Devolución de la funda",
			Description: "Reembolso completado del pedido 100245."},
	} {
		a.tickets[t.ID] = t
	}
	a.nextTicket = 1004
	a.nextRefund = 5001
}
