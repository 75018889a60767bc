package steps

import (
	"fmt"
	"path"
	"strings"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/harden"
	"github.com/notifyctl/notifyctl/pkg/journal"
	"github.com/notifyctl/notifyctl/pkg/plan"
)

// Validate checks journal entries against what a plan may own, so that a
// journal edited by hand cannot make uninstall remove or overwrite anything
// else. It returns, per entry (by Seq), why it is refused.
func Validate(entries []journal.Entry) map[int]string {
	bad := map[int]string{}
	for _, e := range entries {
		if why := validate(e); why != "" {
			bad[e.Seq] = why
		}
	}
	return bad
}

// dropInDir says whether p is a unit's drop-in directory, which notifyctl
// creates for its hardening drop-in.
func dropInDir(p string) bool {
	return path.Dir(p) == plan.UnitDir && strings.HasSuffix(p, ".d") && plan.ValidUnit(strings.TrimSuffix(path.Base(p), ".d"))
}

func validate(e journal.Entry) string {
	switch e.Step {
	case "directory":
		if dropInDir(e.Key) {
			break
		}
		if err := plan.CheckDest(e.Key); err != nil {
			return err.Error()
		}
	case "file":
		if err := plan.CheckDest(e.Key); err != nil {
			return err.Error()
		}
		if strings.HasPrefix(e.Key, plan.UnitDir+"/") {
			return fmt.Sprintf("%s is a unit path, not a plan file", e.Key)
		}
	case "unit":
		if dropInDir(path.Dir(e.Key)) && path.Base(e.Key) == harden.DropInName {
			break
		}
		if path.Dir(e.Key) != plan.UnitDir || !plan.ValidUnit(path.Base(e.Key)) {
			return fmt.Sprintf("%s is not a unit file a plan may install", e.Key)
		}
	case "enable", "start":
		if !plan.ValidUnit(e.Key) {
			return fmt.Sprintf("%q is not a service unit name", e.Key)
		}
	case "user":
		var b userBefore
		if _, err := engine.DecodeBefore(e, &b); err != nil {
			return err.Error()
		}
		if !plan.ValidAccount(e.Key) || b.Group != "" && !plan.ValidAccount(b.Group) {
			return fmt.Sprintf("%q or %q is not a valid user or group name", e.Key, b.Group)
		}
	case "packages":
		var b packagesBefore
		if _, err := engine.DecodeBefore(e, &b); err != nil {
			return err.Error()
		}
		for _, p := range b.Missing {
			if !plan.ValidPackage(p) {
				return fmt.Sprintf("%q is not a package name", p)
			}
		}
	case "data":
		if err := plan.CheckDest(e.Key); err != nil {
			return err.Error()
		}
	case "reload", "mail", "check":
	default:
		return fmt.Sprintf("unknown step kind %q", e.Step)
	}
	return ""
}
