package zkcli

import (
	"regexp"
	"strings"
)

// argsPattern is zkCli's tokenizer for a shell line: a run of non-blank
// characters not starting with a quote, or a whole single- or
// double-quoted string.
var argsPattern = regexp.MustCompile(`\s*([^"']\S*|"[^"]*"|'[^']*')\s*`)

// SplitLine splits a shell line into words as zkCli does, stripping one
// pair of matching surrounding quotes from each word.
func SplitLine(line string) []string {
	var out []string
	for _, m := range argsPattern.FindAllStringSubmatch(line, -1) {
		w := m[1]
		if len(w) >= 2 && (w[0] == '\'' || w[0] == '"') && w[len(w)-1] == w[0] {
			w = w[1 : len(w)-1]
		}
		out = append(out, w)
	}
	return out
}

// optSpec declares a command's single-letter options: letter → whether
// it takes a value.
type optSpec map[byte]bool

// parsedArgs is a command line after option parsing, as commons-cli's
// CommandLine: args[0] is the command name, then the positional words in
// order; opts holds the options seen (value "" for flags).
type parsedArgs struct {
	args []string
	opts map[byte]string
}

func (p *parsedArgs) has(o byte) bool { _, ok := p.opts[o]; return ok }

// parseOpts parses words (words[0] is the command) the way commons-cli's
// DefaultParser does for zkCli: options may appear anywhere, flags may be
// bundled ("-sw"), a value may be attached ("-v3") or be the next word, and
// "--" ends option parsing. An unknown option is an error with commons-cli's
// message.
func parseOpts(words []string, spec optSpec) (*parsedArgs, *Error) {
	p := &parsedArgs{opts: map[byte]string{}}
	if len(words) == 0 {
		return p, nil
	}
	p.args = append(p.args, words[0])
	rest := words[1:]
	for i := 0; i < len(rest); i++ {
		w := rest[i]
		if w == "--" {
			p.args = append(p.args, rest[i+1:]...)
			break
		}
		if len(w) < 2 || w[0] != '-' {
			p.args = append(p.args, w)
			continue
		}
		body := strings.TrimLeft(w, "-")
		if body == "" {
			p.args = append(p.args, w)
			continue
		}
		takesValue, known := spec[body[0]]
		if !known {
			return nil, usageErr("Unrecognized option: %s", w)
		}
		if takesValue {
			if len(body) > 1 {
				p.opts[body[0]] = body[1:]
				continue
			}
			if i+1 >= len(rest) {
				return nil, usageErr("Missing argument for option: %c", body[0])
			}
			i++
			p.opts[body[0]] = rest[i]
			continue
		}
		// Bundled flags: each letter must be a flag, except that a letter
		// taking a value swallows the rest of the word.
		for j := 0; j < len(body); j++ {
			tv, ok := spec[body[j]]
			if !ok {
				return nil, usageErr("Unrecognized option: %s", w)
			}
			if tv {
				if j+1 < len(body) {
					p.opts[body[j]] = body[j+1:]
				} else if i+1 < len(rest) {
					i++
					p.opts[body[j]] = rest[i]
				} else {
					return nil, usageErr("Missing argument for option: %c", body[j])
				}
				break
			}
			p.opts[body[j]] = ""
		}
	}
	return p, nil
}
