// Package plans holds the plans shipped inside the notifyctl binary: each
// directory here is one plan (plan.yaml and the files it names).
package plans

import "embed"

// FS holds every shipped plan, one directory each.
//
//go:embed all:notifydemo all:vote-secret
var FS embed.FS

// Default is the plan installed when none is named.
const Default = "notifydemo"
