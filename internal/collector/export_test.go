package collector

import "time"

// CompressLZBase64 lets the HTTP tests build lz64 payloads.
var CompressLZBase64 = compressLZBase64

// SetRegistrationRecheck shortens registrationRecheck for one test.
func SetRegistrationRecheck(t interface{ Cleanup(func()) }, d time.Duration) {
	old := registrationRecheck
	registrationRecheck = d
	t.Cleanup(func() { registrationRecheck = old })
}

// MaxRegistrationsPerRequest lets the tests count the registrations of one
// request.
const MaxRegistrationsPerRequest = maxRegistrationsPerRequest
