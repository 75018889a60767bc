package plan

import (
	"bytes"
	"fmt"
	"runtime"
	"text/template"
)

// funcs are what templates may call besides the plan's vars: the host's
// CPU count (where notifyctl runs, which is where the service runs) and
// integer arithmetic, enough for sizing a worker pool:
//
//	workers = {{ min (add (mul 2 cpus) 1) 8 }}
var funcs = template.FuncMap{
	"cpus": runtime.NumCPU,
	"add":  func(a, b int) int { return a + b },
	"mul":  func(a, b int) int { return a * b },
	"min":  func(a, b int) int { return min(a, b) },
	"max":  func(a, b int) int { return max(a, b) },
}

// render expands a template file with the plan's vars ({{ .port }}); a var
// the plan does not define is an error, not an empty string.
func (p *Plan) render(name string, content []byte) ([]byte, error) {
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(content))
	if err != nil {
		return nil, fmt.Errorf("template: %v", err)
	}
	vars := map[string]string{"name": p.Name}
	for k, v := range p.Vars {
		vars[k] = v
	}
	var out bytes.Buffer
	if err := t.Execute(&out, vars); err != nil {
		return nil, fmt.Errorf("template: %v", err)
	}
	return out.Bytes(), nil
}
