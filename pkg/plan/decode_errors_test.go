package plan_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/notifyctl/notifyctl/pkg/plan"
)

func TestDecodeErrorsNameTheField(t *testing.T) {
	for _, c := range []struct{ old, new, field string }{
		{"packages: [python3, curl]", "packages: {python3: yes}", "packages"},
		{"user:\n  name: demo\n", "user: demo\n", "user"},
		{`mode: "0640"`, `mode: "0968"`, "files[0].mode"},
		{`mode: "0640"`, `mode: [6, 4, 0]`, "files[0].mode"},
		{`mode: "0750"`, `mode: rwx`, "directories[0].mode"},
		{"timeout: 5s", "timeout: soon", "readiness.timeout"},
		{"description:", "colour: red\ndescription:", "colour"},
		{"timeout: 5s", "timeout: 1ms", "readiness.timeout"},
	} {
		m := planFS(strings.Replace(goodPlan, c.old, c.new, 1))
		_, err := plan.Load(m, "plan.yaml", "plans/demo/plan.yaml", "/plans/demo")
		var pe *plan.Error
		if !errors.As(err, &pe) || pe.Field != c.field || !strings.HasPrefix(err.Error(), "plans/demo/plan.yaml: "+c.field+": ") {
			t.Errorf("%s: error %v does not name the field %s", c.new, err, c.field)
		}
	}
}
