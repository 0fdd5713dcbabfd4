package sasl

import (
	"fmt"
	"os"
	"strings"
)

// DigestLoginModule is ZooKeeper's login module whose user_<name>
// options list the DIGEST-MD5 users.
const DigestLoginModule = "org.apache.zookeeper.server.auth.DigestLoginModule"

// Module is one login module entry of a JAAS section.
type Module struct {
	Class   string
	Flag    string // required, requisite, sufficient, optional
	Options map[string]string
}

// ParseJAAS reads a JAAS login configuration: sections of login modules,
// each "Class Flag key=value ...;", the values quoted or not, with //,
// /* */ and # comments.
func ParseJAAS(text string) (map[string][]Module, error) {
	toks, err := jaasTokens(text)
	if err != nil {
		return nil, err
	}
	out := map[string][]Module{}
	i := 0
	next := func() string {
		if i >= len(toks) {
			return ""
		}
		i++
		return toks[i-1]
	}
	for i < len(toks) {
		name := next()
		if next() != "{" {
			return nil, fmt.Errorf("jaas: section %q: want {", name)
		}
		var mods []Module
		for {
			t := next()
			if t == "}" {
				break
			}
			if t == "" || t == "{" || t == ";" || t == "=" {
				return nil, fmt.Errorf("jaas: section %s: a login module class expected, got %q", name, t)
			}
			m := Module{Class: t, Flag: next(), Options: map[string]string{}}
			switch m.Flag {
			case "required", "requisite", "sufficient", "optional":
			default:
				return nil, fmt.Errorf("jaas: section %s: module %s: flag %q (want required, requisite, sufficient or optional)", name, m.Class, m.Flag)
			}
			for {
				k := next()
				if k == ";" {
					break
				}
				if k == "" || next() != "=" {
					return nil, fmt.Errorf("jaas: section %s: module %s: option %q without = value", name, m.Class, k)
				}
				v := next()
				if v == "" {
					return nil, fmt.Errorf("jaas: section %s: option %s has no value", name, k)
				}
				m.Options[k] = strings.TrimPrefix(v, "\x00") // quoted values are marked
			}
			mods = append(mods, m)
		}
		if t := next(); t != ";" {
			return nil, fmt.Errorf("jaas: section %s: want }; at its end", name)
		}
		out[name] = append(out[name], mods...)
	}
	return out, nil
}

// jaasTokens splits text into names, punctuation and quoted strings (the
// latter marked with a leading NUL so that "}" quoted is not a brace).
func jaasTokens(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || strings.HasPrefix(s[i:], "//"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("jaas: unterminated comment")
			}
			i += end + 4
		case c == '{' || c == '}' || c == ';' || c == '=':
			toks = append(toks, string(c))
			i++
		case c == '"':
			var b strings.Builder
			b.WriteByte(0)
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("jaas: unterminated quoted value")
			}
			i++
			toks = append(toks, b.String())
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n{};=\"", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

// DigestUsers reads the users of section (ZooKeeper's "Server") of the
// JAAS file at path: the user_<name>="<password>" options of its
// DigestLoginModule.
func DigestUsers(path, section string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jaas: %w", err)
	}
	secs, err := ParseJAAS(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	mods, ok := secs[section]
	if !ok {
		return nil, fmt.Errorf("jaas: %s has no %s section (ZooKeeper's server reads the section named by zookeeper.sasl.serverconfig, Server by default)", path, section)
	}
	users := map[string]string{}
	for _, m := range mods {
		if m.Class != DigestLoginModule {
			return nil, fmt.Errorf("jaas: %s section %s: login module %s is not supported (only %s: DIGEST-MD5; Kerberos is not)", path, section, m.Class, DigestLoginModule)
		}
		for k, v := range m.Options {
			if name, ok := strings.CutPrefix(k, "user_"); ok && name != "" {
				users[name] = v
			}
		}
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("jaas: %s section %s lists no user_<name>=\"<password>\"", path, section)
	}
	return users, nil
}
