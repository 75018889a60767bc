package plan

import (
	"bytes"
	"fmt"
	"runtime"
	"text/template"
	"text/template/parse"
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

// builtins are text/template's functions a plan template may call: those
// whose cost is bounded by their arguments. print, printf, println, html,
// js and urlquery are not: one call can render gigabytes
// ({{ printf "%999999d%999999d..." }}) before anything is written; call
// has nothing to call.
var builtins = map[string]bool{
	"and": true, "or": true, "not": true, "len": true, "index": true, "slice": true,
	"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
}

// MaxTemplateSize bounds the templates of a plan together: parsing takes
// about 40 times their size in memory, and 90ms a megabyte.
const MaxTemplateSize = 1 << 20

// render expands a template file with the plan's vars ({{ .port }}); a var
// the plan does not define is an error, not an empty string.
//
// Rendering is bounded: no {{ range }} (over an integer it loops as long as
// the template says) and no {{ template }} (which recurses), so that every
// action runs at most once, and the output is at most MaxSourceSize bytes.
func (p *Plan) render(name string, content []byte) ([]byte, error) {
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(content))
	if err != nil {
		return nil, fmt.Errorf("template: %v", err)
	}
	if len(t.Templates()) > 1 {
		return nil, fmt.Errorf("template: %s: {{ define }} and {{ block }} are not available in plan templates", name)
	}
	if t.Tree != nil {
		if err := checkTemplate(t.Tree, t.Tree.Root); err != nil {
			return nil, fmt.Errorf("template: %v", err)
		}
	}
	vars := map[string]string{"name": p.Name}
	for k, v := range p.Vars {
		vars[k] = v
	}
	out := &limitedBuffer{max: MaxSourceSize}
	if err := t.Execute(out, vars); err != nil {
		return nil, fmt.Errorf("template: %v", err)
	}
	return out.Bytes(), nil
}

// checkTemplate refuses the actions and functions that could make rendering
// unbounded.
func checkTemplate(tree *parse.Tree, n parse.Node) error {
	refuse := func(n parse.Node, what string) error {
		loc, _ := tree.ErrorContext(n)
		return fmt.Errorf("%s: %s is not available in plan templates", loc, what)
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkTemplate(tree, c); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkTemplate(tree, n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := checkTemplate(tree, c); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkTemplate(tree, a); err != nil {
				return err
			}
		}
	case *parse.ChainNode:
		return checkTemplate(tree, n.Node)
	case *parse.IdentifierNode:
		if _, ok := funcs[n.Ident]; !ok && !builtins[n.Ident] {
			return refuse(n, n.Ident)
		}
	case *parse.IfNode:
		return checkBranch(tree, &n.BranchNode)
	case *parse.WithNode:
		return checkBranch(tree, &n.BranchNode)
	case *parse.RangeNode:
		return refuse(n, "{{ range }}")
	case *parse.TemplateNode:
		return refuse(n, "{{ template }}")
	}
	return nil
}

func checkBranch(tree *parse.Tree, b *parse.BranchNode) error {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if err := checkTemplate(tree, n); err != nil {
			return err
		}
	}
	return nil
}

// limitedBuffer is a bytes.Buffer that refuses to grow beyond max bytes.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, fmt.Errorf("it renders to more than %d bytes", b.max)
	}
	return b.Buffer.Write(p)
}
